//go:build openblas && cgo

package nn

// The pthread build of OpenBLAS (Debian's libopenblas-pthread-dev) is safe
// to call from several threads at once, unlike the serial build, which
// returned wrong products under concurrent calls. Its own thread pool is
// switched off at start (openblas_set_num_threads(1)), so each call runs on
// the calling thread, and Sgemm spreads a large product over goroutines
// itself. OpenBLAS's pooled threads spin after each call: with 2 of them,
// the mnist-mlp step at batch 64 ran at half the speed of one thread, in
// one measurement on a busy 2-core machine. Goroutines leave the cores to
// the Go scheduler between products. The archive is named in full
// (-l:libopenblas.a) so that the linker never picks libopenblas.so, which
// Debian's alternatives may point at another build. The paths are those of
// libopenblas-pthread-dev on amd64; elsewhere, set CGO_CFLAGS and
// CGO_LDFLAGS to the folders of cblas.h and libopenblas.a.

/*
#cgo linux,amd64 CFLAGS: -I/usr/include/x86_64-linux-gnu/openblas-pthread
#cgo linux,amd64 LDFLAGS: -L/usr/lib/x86_64-linux-gnu/openblas-pthread
#cgo LDFLAGS: -l:libopenblas.a -lm -lpthread
#include <cblas.h>

// blas_thread_shutdown_ stops OpenBLAS's thread pool. OpenBLAS declares it
// in its internal common.h only.
int blas_thread_shutdown_(void);
*/
import "C"

import (
	"math"
	"runtime"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

func init() {
	// OpenBLAS starts its pool of threads when the program loads, one per
	// CPU but the first. In a profile of the mnist-mlp step benchmark, 22%
	// of the samples fell in libc while the idle pool ran, and none once
	// it was stopped. With one thread set, OpenBLAS does not start it
	// again.
	C.openblas_set_num_threads(1)
	C.blas_thread_shutdown_()
	blas32.Use(openblas{})
}

// openblas is gonum's BLAS with Sgemm computed by OpenBLAS's cblas_sgemm.
// Every other routine is gonum's.
type openblas struct {
	gonum.Implementation
}

func (openblas) blasName() string { return "openblas" }

// openblasThreading returns how the linked OpenBLAS was built to run:
// 0 on the calling thread, 1 with pthreads, 2 with OpenMP.
func openblasThreading() int {
	return int(C.openblas_get_parallel())
}

// openblasThreads returns the number of threads that OpenBLAS uses for one
// call.
func openblasThreads() int {
	return int(C.openblas_get_num_threads())
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// where op(A) is m×k, op(B) is k×n and C is m×n. It checks its arguments as
// gonum's Sgemm does and panics with the same messages.
//
// A product of at least twice [parallelFlops] floating-point operations
// is split into blocks of rows of C, one per goroutine up to GOMAXPROCS,
// each computed by cblas_sgemm on its own thread. Every element of C is
// still one call's dot product over the whole of k, so its bits do not
// depend on the split or on GOMAXPROCS. TestOpenBLASSplitMatchesWhole
// checks this for the presets' products.
func (openblas) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	// gonum computes the calls that only scale C by beta (k = 0 or
	// alpha = 0) and those with sizes beyond cblas_sgemm's 32-bit integers.
	if k == 0 || alpha == 0 || !fitsInt32(m, n, k, lda, ldb, ldc) {
		gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	p := sgemmPart{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc}
	parts := sgemmParts(m, n, k, runtime.GOMAXPROCS(0))
	if parts == 1 {
		p.run()
		return
	}
	runParts(p, parts)
}

// run calls cblas_sgemm for the whole of p.
func (p *sgemmPart) run() {
	C.cblas_sgemm(C.CblasRowMajor, cblasTranspose(p.tA), cblasTranspose(p.tB),
		C.blasint(p.m), C.blasint(p.n), C.blasint(p.k), C.float(p.alpha),
		(*C.float)(unsafe.Pointer(&p.a[0])), C.blasint(p.lda),
		(*C.float)(unsafe.Pointer(&p.b[0])), C.blasint(p.ldb), C.float(p.beta),
		(*C.float)(unsafe.Pointer(&p.c[0])), C.blasint(p.ldc))
}

// cblasTranspose converts a checked blas.Transpose. For real matrices the
// conjugate transpose is the transpose.
func cblasTranspose(t blas.Transpose) C.enum_CBLAS_TRANSPOSE {
	if t == blas.NoTrans {
		return C.CblasNoTrans
	}
	return C.CblasTrans
}

func fitsInt32(values ...int) bool {
	for _, v := range values {
		if v > math.MaxInt32 {
			return false
		}
	}
	return true
}

// checkSgemm panics, with the message of gonum's Sgemm, if the arguments
// do not describe a valid product. Past it, every element that cblas_sgemm
// reads or writes lies inside a, b and c.
func checkSgemm(tA, tB blas.Transpose, m, n, k int,
	a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if !validTranspose(tA) || !validTranspose(tB) {
		panic("blas: illegal transpose")
	}
	switch {
	case m < 0:
		panic("blas: m < 0")
	case n < 0:
		panic("blas: n < 0")
	case k < 0:
		panic("blas: k < 0")
	}

	// A is stored k×m when transposed and m×k otherwise. B is stored n×k
	// or k×n.
	aTrans, bTrans := tA != blas.NoTrans, tB != blas.NoTrans
	aRows, aCols := m, k
	if aTrans {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if bTrans {
		bRows, bCols = n, k
	}
	if lda < max(1, aCols) {
		panic("blas: bad leading dimension of A")
	}
	if ldb < max(1, bCols) {
		panic("blas: bad leading dimension of B")
	}
	if ldc < max(1, n) {
		panic("blas: bad leading dimension of C")
	}
	if m == 0 || n == 0 {
		return
	}

	if len(a) < (aRows-1)*lda+aCols {
		panic("blas: insufficient length of a")
	}
	if len(b) < (bRows-1)*ldb+bCols {
		panic("blas: insufficient length of b")
	}
	if len(c) < (m-1)*ldc+n {
		panic("blas: insufficient length of c")
	}
}

func validTranspose(t blas.Transpose) bool {
	return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
}

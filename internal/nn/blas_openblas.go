//go:build openblas && cgo

package nn

// The serial build of OpenBLAS runs every call on the calling thread, so it
// starts no threads of its own that would compete with the worker's
// goroutines. The archive is named in full (-l:libopenblas.a) so that the
// linker never picks libopenblas.so, which Debian's alternatives may point
// at a threaded build. The paths are those of Debian's
// libopenblas-serial-dev on amd64; elsewhere, set CGO_CFLAGS and
// CGO_LDFLAGS to the folders of cblas.h and libopenblas.a.

/*
#cgo linux,amd64 CFLAGS: -I/usr/include/x86_64-linux-gnu/openblas-serial
#cgo linux,amd64 LDFLAGS: -L/usr/lib/x86_64-linux-gnu/openblas-serial
#cgo LDFLAGS: -l:libopenblas.a -lm
#include <cblas.h>
*/
import "C"

import (
	"math"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

func init() {
	blas32.Use(openblas{})
}

// openblas is gonum's BLAS with Sgemm computed by OpenBLAS's cblas_sgemm.
// Every other routine is gonum's.
type openblas struct {
	gonum.Implementation
}

// openblasMu serializes the calls into OpenBLAS. Debian's serial OpenBLAS
// 0.3.21 now and then returns wrong products, off by orders of magnitude,
// when two threads call cblas_sgemm at once, and
// TestOpenBLASSgemmConcurrentCalls fails without this lock. A worker
// computes one product at a time, so a worker alone in its process does not
// wait on the lock.
//
// NOTE: several workers in one process (coordinator --local-workers) take
// turns in their matrix products, so they use one core for them at a time.
var openblasMu sync.Mutex

func (openblas) blasName() string { return "openblas" }

// openblasThreading returns how the linked OpenBLAS was built to run:
// 0 on the calling thread, 1 with pthreads, 2 with OpenMP.
func openblasThreading() int {
	return int(C.openblas_get_parallel())
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// where op(A) is m×k, op(B) is k×n and C is m×n. It checks its arguments as
// gonum's Sgemm does and panics with the same messages.
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
	openblasMu.Lock()
	defer openblasMu.Unlock()
	C.cblas_sgemm(C.CblasRowMajor, cblasTranspose(tA), cblasTranspose(tB),
		C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
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

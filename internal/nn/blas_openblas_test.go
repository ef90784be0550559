//go:build openblas && cgo

package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

const wantBLAS = "openblas"

// sgemmCall is one Sgemm call. The leading dimensions exceed the widths of
// the stored matrices by pad, so that the padding shows writes out of
// bounds and reads from the wrong row.
type sgemmCall struct {
	name        string
	tA, tB      blas.Transpose
	m, n, k     int
	pad         int
	alpha, beta float32
}

// storedShape returns the rows and columns of an r×c operand as stored,
// transposed or not.
func storedShape(t blas.Transpose, r, c int) (int, int) {
	if t == blas.NoTrans {
		return r, c
	}
	return c, r
}

// layerCalls lists the three products of every layer of the presets, as
// dense.go makes them, for batches of 1, 21 (a third of 64) and 64 rows,
// and 256 rows for mnist-mlp.
func layerCalls(t *testing.T) []sgemmCall {
	t.Helper()
	var calls []sgemmCall
	for _, name := range PresetNames() {
		spec, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		batches := []int{1, 21, 64}
		if spec.Inputs < 1000 {
			batches = append(batches, 256)
		}
		for _, rows := range batches {
			in := spec.Inputs
			for i, l := range spec.Layers {
				out := l.Units
				prefix := fmt.Sprintf("%s/L%d/rows=%d", name, i+1, rows)
				calls = append(calls,
					sgemmCall{name: prefix + "/forward", tA: blas.NoTrans, tB: blas.NoTrans,
						m: rows, n: out, k: in, alpha: 1, beta: 0},
					sgemmCall{name: prefix + "/weight-gradient", tA: blas.Trans, tB: blas.NoTrans,
						m: in, n: out, k: rows, alpha: 1, beta: 1},
					sgemmCall{name: prefix + "/input-gradient", tA: blas.NoTrans, tB: blas.Trans,
						m: rows, n: in, k: out, alpha: 1, beta: 0})
				in = out
			}
		}
	}
	return calls
}

// oddCalls lists small products of odd sizes with every transpose,
// padded strides and scalars other than 0 and 1.
func oddCalls() []sgemmCall {
	transposes := []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}
	var calls []sgemmCall
	for _, tA := range transposes {
		for _, tB := range transposes {
			for _, size := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 1, 33}, {67, 31, 129}} {
				m, n, k := size[0], size[1], size[2]
				calls = append(calls, sgemmCall{
					name: fmt.Sprintf("%c%c/%dx%dx%d", tA, tB, m, n, k),
					tA:   tA, tB: tB, m: m, n: n, k: k, pad: 3, alpha: 0.5, beta: -2,
				})
			}
		}
	}
	return append(calls,
		sgemmCall{name: "alpha=0", tA: blas.NoTrans, tB: blas.NoTrans, m: 5, n: 4, k: 3, pad: 2, alpha: 0, beta: 3},
		sgemmCall{name: "k=0", tA: blas.Trans, tB: blas.NoTrans, m: 5, n: 4, k: 0, pad: 1, alpha: 1, beta: 0.5},
		sgemmCall{name: "m=0", tA: blas.NoTrans, tB: blas.Trans, m: 0, n: 4, k: 3, pad: 1, alpha: 1, beta: 0},
	)
}

// TestOpenBLASSgemmMatchesGonum runs each call through OpenBLAS and gonum
// on the same operands and compares every element of C, padding included.
// Each element may differ by the standard error bound of a sum of k+1
// float32 products, (k+2)·u·(|alpha|·(|A|·|B|) + |beta·C|) with u = 2⁻²⁴,
// taken twice because both results carry rounding errors.
func TestOpenBLASSgemmMatchesGonum(t *testing.T) {
	t.Parallel()
	calls := append(layerCalls(t), oddCalls()...)
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			aRows, aCols := storedShape(tt.tA, tt.m, tt.k)
			bRows, bCols := storedShape(tt.tB, tt.k, tt.n)
			lda, ldb, ldc := max(1, aCols+tt.pad), max(1, bCols+tt.pad), tt.n+tt.pad
			a := randomFloats(rng, aRows*lda)
			b := randomFloats(rng, bRows*ldb)
			c := randomFloats(rng, tt.m*ldc)

			got := append([]float32(nil), c...)
			openblas{}.Sgemm(tt.tA, tt.tB, tt.m, tt.n, tt.k, tt.alpha, a, lda, b, ldb, tt.beta, got, ldc)
			want := append([]float32(nil), c...)
			gonum.Implementation{}.Sgemm(tt.tA, tt.tB, tt.m, tt.n, tt.k, tt.alpha, a, lda, b, ldb, tt.beta, want, ldc)

			// bound = |alpha|·(|A|·|B|) + |beta·C|, zero in the padding.
			bound := make([]float32, len(c))
			for i := 0; i < tt.m; i++ {
				for j := 0; j < tt.n; j++ {
					bound[i*ldc+j] = abs32(tt.beta * c[i*ldc+j])
				}
			}
			gonum.Implementation{}.Sgemm(tt.tA, tt.tB, tt.m, tt.n, tt.k, abs32(tt.alpha),
				absFloats(a), lda, absFloats(b), ldb, 1, bound, ldc)

			unit := math.Ldexp(1, -24)
			failures := 0
			for i := range got {
				tol := 2 * float64(tt.k+2) * unit * float64(bound[i])
				if diff := math.Abs(float64(got[i]) - float64(want[i])); diff > tol || math.IsNaN(diff) {
					t.Errorf("C[%d][%d] = %v, gonum gives %v, difference %.3g > tolerance %.3g",
						i/ldc, i%ldc, got[i], want[i], diff, tol)
					if failures++; failures == 5 {
						t.Fatal("more than 5 elements differ")
					}
				}
			}
		})
	}
}

// TestOpenBLASRunsOnCallingThread checks that the linked OpenBLAS is the
// thread-safe pthread build with its own thread pool switched off, so that
// only Sgemm's goroutines run products in parallel.
func TestOpenBLASRunsOnCallingThread(t *testing.T) {
	t.Parallel()
	if got := openblasThreading(); got != 1 {
		t.Errorf("openblas_get_parallel() = %d, want 1 (the pthread build of libopenblas-pthread-dev)", got)
	}
	if got := openblasThreads(); got != 1 {
		t.Errorf("openblas_get_num_threads() = %d, want 1", got)
	}
}

// TestOpenBLASSplitMatchesWhole checks that a product split into blocks of
// rows has the same bits as the same product computed in one call, so that
// GOMAXPROCS does not change a worker's results.
func TestOpenBLASSplitMatchesWhole(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	calls := layerCalls(t)
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			calls = append(calls, sgemmCall{name: fmt.Sprintf("%c%c/197x61x257", tA, tB),
				tA: tA, tB: tB, m: 197, n: 61, k: 257, pad: 3, alpha: 0.5, beta: -2})
		}
	}
	for _, call := range calls {
		aRows, aCols := storedShape(call.tA, call.m, call.k)
		bRows, bCols := storedShape(call.tB, call.k, call.n)
		lda, ldb, ldc := aCols+call.pad, bCols+call.pad, call.n+call.pad
		p := sgemmPart{tA: call.tA, tB: call.tB, m: call.m, n: call.n, k: call.k,
			alpha: call.alpha, beta: call.beta, lda: lda, ldb: ldb, ldc: ldc,
			a: randomFloats(rng, aRows*lda), b: randomFloats(rng, bRows*ldb)}
		c := randomFloats(rng, call.m*ldc)
		want := append([]float32(nil), c...)
		whole := p
		whole.c = want
		whole.run()
		for parts := 2; parts <= sgemmParts(call.m, call.n, call.k, 4); parts++ {
			split := p
			split.c = append([]float32(nil), c...)
			runParts(split, parts)
			for i := range want {
				if math.Float32bits(split.c[i]) != math.Float32bits(want[i]) {
					t.Errorf("%s in %d parts: c[%d] = %g, want %g as in one call",
						call.name, parts, i, split.c[i], want[i])
					break
				}
			}
		}
	}
}

// TestOpenBLASSgemmConcurrentCalls runs the mnist-mlp products from
// several goroutines at once, as workers that share a process do, and
// checks each result against the same call made alone. Debian's serial
// OpenBLAS 0.3.21, which this package linked before, got at least one of
// the 48,000 calls wrong in 5 of 7 runs on a busy 2-core machine.
func TestOpenBLASSgemmConcurrentCalls(t *testing.T) {
	t.Parallel()
	type product struct {
		call     sgemmCall
		a, b, c  []float32
		want     []float32
		lda, ldb int
		// maxSquaredError bounds the squared distance from want: a lost
		// rounding tie stays far below it, a wrong product does not.
		maxSquaredError float32
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var products []product
	for _, call := range layerCalls(t) {
		if !strings.HasPrefix(call.name, "mnist-mlp/") {
			continue
		}
		aRows, aCols := storedShape(call.tA, call.m, call.k)
		bRows, bCols := storedShape(call.tB, call.k, call.n)
		p := product{call: call, lda: aCols, ldb: bCols, a: randomFloats(rng, aRows*aCols),
			b: randomFloats(rng, bRows*bCols), c: randomFloats(rng, call.m*call.n)}
		p.want = append([]float32(nil), p.c...)
		openblas{}.Sgemm(call.tA, call.tB, call.m, call.n, call.k, call.alpha,
			p.a, p.lda, p.b, p.ldb, call.beta, p.want, call.n)
		want := vector(p.want)
		p.maxSquaredError = 1e-8 * (blas32.Dot(want, want) + 1)
		products = append(products, p)
	}

	// The comparisons use gonum's assembly kernels, which the race detector
	// does not slow down.
	const goroutines, callsEach = 6, 8000
	wrong := make([]atomic.Int32, len(products))
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := rand.New(rand.NewPCG(uint64(g), 2))
			c := make([]float32, 0, 784*100)
			for range callsEach {
				i := order.IntN(len(products))
				p := &products[i]
				c = append(c[:0], p.c...)
				openblas{}.Sgemm(p.call.tA, p.call.tB, p.call.m, p.call.n, p.call.k, p.call.alpha,
					p.a, p.lda, p.b, p.ldb, p.call.beta, c, p.call.n)
				diff := vector(c)
				blas32.Axpy(-1, vector(p.want), diff)
				if blas32.Dot(diff, diff) > p.maxSquaredError {
					wrong[i].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for i := range wrong {
		if n := wrong[i].Load(); n > 0 {
			t.Errorf("%s: %d concurrent calls differ from the same call made alone", products[i].call.name, n)
		}
	}
}

func vector(v []float32) blas32.Vector {
	return blas32.Vector{N: len(v), Inc: 1, Data: v}
}

// sgemmArgs are the arguments of one Sgemm call, with alpha = 1 and
// beta = 0.
type sgemmArgs struct {
	tA, tB  blas.Transpose
	m, n, k int
	a       []float32
	lda     int
	b       []float32
	ldb     int
	c       []float32
	ldc     int
}

// TestOpenBLASSgemmPanicsAsGonum checks that invalid arguments panic with
// gonum's message, before OpenBLAS could read or write out of bounds. Each
// case changes one thing in a valid 3×4×5 product.
func TestOpenBLASSgemmPanicsAsGonum(t *testing.T) {
	t.Parallel()
	const m, n, k = 3, 4, 5
	tests := []struct {
		name      string
		modify    func(*sgemmArgs)
		wantPanic string
	}{
		{"bad transpose of A", func(s *sgemmArgs) { s.tA = 'X' }, "blas: illegal transpose"},
		{"bad transpose of B", func(s *sgemmArgs) { s.tB = 0 }, "blas: illegal transpose"},
		{"negative m", func(s *sgemmArgs) { s.m = -1 }, "blas: m < 0"},
		{"negative n", func(s *sgemmArgs) { s.n = -1 }, "blas: n < 0"},
		{"negative k", func(s *sgemmArgs) { s.k = -1 }, "blas: k < 0"},
		{"lda below k", func(s *sgemmArgs) { s.lda = k - 1 }, "blas: bad leading dimension of A"},
		{"lda below m, A transposed", func(s *sgemmArgs) { s.tA, s.lda = blas.Trans, m-1 },
			"blas: bad leading dimension of A"},
		{"ldb below n", func(s *sgemmArgs) { s.ldb = n - 1 }, "blas: bad leading dimension of B"},
		{"ldb below k, B transposed", func(s *sgemmArgs) { s.tB, s.ldb = blas.Trans, k-1 },
			"blas: bad leading dimension of B"},
		{"ldc below n", func(s *sgemmArgs) { s.ldc = n - 1 }, "blas: bad leading dimension of C"},
		{"short a", func(s *sgemmArgs) { s.a = s.a[:m*k-1] }, "blas: insufficient length of a"},
		{"short a, transposed", func(s *sgemmArgs) { s.tA, s.lda, s.a = blas.Trans, m, s.a[:k*m-1] },
			"blas: insufficient length of a"},
		{"short b", func(s *sgemmArgs) { s.b = s.b[:k*n-1] }, "blas: insufficient length of b"},
		{"short b, transposed", func(s *sgemmArgs) { s.tB, s.ldb, s.b = blas.Trans, k, s.b[:n*k-1] },
			"blas: insufficient length of b"},
		{"short c", func(s *sgemmArgs) { s.c = s.c[:m*n-1] }, "blas: insufficient length of c"},
		{"short c with stride", func(s *sgemmArgs) { s.ldc, s.c = n+2, make([]float32, m*(n+2)-3) },
			"blas: insufficient length of c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sgemmArgs{tA: blas.NoTrans, tB: blas.NoTrans, m: m, n: n, k: k,
				a: make([]float32, m*k), lda: k, b: make([]float32, k*n), ldb: n, c: make([]float32, m*n), ldc: n}
			tt.modify(&s)
			call := func(impl blas.Float32) (msg any) {
				defer func() { msg = recover() }()
				impl.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, s.a, s.lda, s.b, s.ldb, 0, s.c, s.ldc)
				return nil
			}
			if got := call(gonum.Implementation{}); got != tt.wantPanic {
				t.Fatalf("gonum's Sgemm panics with %v, want %q: the case is wrong", got, tt.wantPanic)
			}
			if got := call(openblas{}); got != tt.wantPanic {
				t.Errorf("OpenBLAS Sgemm panics with %v, want %q", got, tt.wantPanic)
			}
		})
	}
}

func randomFloats(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func absFloats(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = abs32(x)
	}
	return out
}

func abs32(x float32) float32 {
	return float32(math.Abs(float64(x)))
}

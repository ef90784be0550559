package gemm_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/ringtrain/ringtrain/internal/nn"
)

// TestMain prints the BLAS that the benchmarks measure, nn.BLAS(), as a
// configuration line of Go's benchmark format ("blas: openblas"), which
// benchstat and bench/report.py read.
func TestMain(m *testing.M) {
	flag.Parse()
	if bench := flag.Lookup("test.bench"); bench != nil && bench.Value.String() != "" {
		fmt.Printf("blas: %s\n", nn.BLAS())
	}
	os.Exit(m.Run())
}

// product is C[m×n] = op(A)·B with B of k×n. A is m×k, or k×m read
// transposed when transA is set, as in the weight gradient Xᵀ·dZ.
type product struct {
	name    string
	m, k, n int
	transA  bool
}

// products lists the layer shapes of the two presets at batches 64 and 256
// and one large square product that shows the BLAS's peak.
var products = []product{
	{name: "mnist-L1-fwd-64x784x100", m: 64, k: 784, n: 100},
	{name: "mnist-L1-fwd-256x784x100", m: 256, k: 784, n: 100},
	{name: "mnist-L1-dW-784x64x100", m: 784, k: 64, n: 100, transA: true},
	{name: "cifar-L1-fwd-64x3072x500", m: 64, k: 3072, n: 500},
	{name: "cifar-L1-fwd-256x3072x500", m: 256, k: 3072, n: 500},
	{name: "cifar-L1-dW-3072x256x500", m: 3072, k: 256, n: 500, transA: true},
	{name: "cifar-L2-fwd-256x500x500", m: 256, k: 500, n: 500},
	{name: "square-2048x2048x2048", m: 2048, k: 2048, n: 2048},
}

// operands returns random A and B and a zero C for p.
func operands(p product, rng *rand.Rand) (a, b, c blas32.General) {
	fill := func(rows, cols int) blas32.General {
		g := blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: make([]float32, rows*cols)}
		for i := range g.Data {
			g.Data[i] = float32(rng.NormFloat64())
		}
		return g
	}
	if p.transA {
		a = fill(p.k, p.m)
	} else {
		a = fill(p.m, p.k)
	}
	b = fill(p.k, p.n)
	c = blas32.General{Rows: p.m, Cols: p.n, Stride: p.n, Data: make([]float32, p.m*p.n)}
	return a, b, c
}

func transpose(p product) blas.Transpose {
	if p.transA {
		return blas.Trans
	}
	return blas.NoTrans
}

// TestGemmMatchesNaiveProduct checks the benchmarked calls against a
// plain triple loop on small shapes, so that a benchmark never times a
// product with its operands mixed up.
func TestGemmMatchesNaiveProduct(t *testing.T) {
	t.Parallel()
	tests := []product{
		{name: "no transpose", m: 3, k: 5, n: 4},
		{name: "transposed A", m: 3, k: 5, n: 4, transA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, c := operands(tt, rand.New(rand.NewPCG(1, 1)))
			blas32.Gemm(transpose(tt), blas.NoTrans, 1, a, b, 0, c)

			want := make([]float32, tt.m*tt.n)
			for i := range tt.m {
				for j := range tt.n {
					var sum float64
					for l := range tt.k {
						ail := a.Data[i*a.Stride+l]
						if tt.transA {
							ail = a.Data[l*a.Stride+i]
						}
						sum += float64(ail) * float64(b.Data[l*b.Stride+j])
					}
					want[i*tt.n+j] = float32(sum)
				}
			}
			approx := cmp.Comparer(func(x, y float32) bool {
				d := x - y
				return d < 1e-4 && d > -1e-4
			})
			if diff := cmp.Diff(want, c.Data, approx); diff != "" {
				t.Errorf("Gemm result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkSgemm times one blas32.Gemm call per shape with the
// implementation that ringtrain trains with: OpenBLAS in a build with the
// openblas tag, gonum's pure-Go one otherwise. It reports GFLOP/s counting
// 2·m·k·n floating-point operations.
func BenchmarkSgemm(b *testing.B) {
	for _, p := range products {
		b.Run(p.name, func(b *testing.B) {
			x, y, z := operands(p, rand.New(rand.NewPCG(1, 1)))
			trans := transpose(p)
			for b.Loop() {
				blas32.Gemm(trans, blas.NoTrans, 1, x, y, 0, z)
			}
			flops := 2 * float64(p.m) * float64(p.k) * float64(p.n) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

package nn

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats"
)

// newTestLayer returns a layer with random weights and biases and scratch
// for rows rows.
func newTestLayer(rng *rand.Rand, in, out, rows int, a Activation) *layer {
	l := &layer{
		in: in, out: out, activation: a,
		w: make([]float32, in*out), b: make([]float32, out),
		dw: make([]float32, in*out), db: make([]float32, out),
		y: make([]float32, rows*out), dy: make([]float32, rows*out),
	}
	for i := range l.w {
		l.w[i] = float32(rng.NormFloat64())
	}
	for i := range l.b {
		l.b[i] = float32(rng.NormFloat64() * 0.5)
	}
	return l
}

// TestDenseGradientFiniteDifference checks the gradients of one dense
// layer under the loss sum(c ⊙ y) with respect to its weights, biases and
// input against central differences of its forward pass.
func TestDenseGradientFiniteDifference(t *testing.T) {
	t.Parallel()
	const in, out, rows = 4, 3, 5
	for _, a := range []Activation{Identity, Sigmoid, Tanh} {
		t.Run(a.String(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 1))
			l := newTestLayer(rng, in, out, rows, a)
			x := make([]float32, rows*in)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			c := make([]float32, rows*out)
			for i := range c {
				c[i] = float32(rng.NormFloat64())
			}

			loss := func() float64 {
				l.forward(x, rows)
				var sum float64
				for i, v := range l.y {
					sum += float64(c[i]) * float64(v)
				}
				return sum
			}
			// lossOf perturbs the float32 values in target through v.
			lossOf := func(target []float32) func([]float64) float64 {
				return func(v []float64) float64 {
					saved := append([]float32(nil), target...)
					for i := range v {
						target[i] = float32(v[i])
					}
					defer copy(target, saved)
					return loss()
				}
			}
			settings := &fd.Settings{Formula: fd.Central, Step: 1e-2}
			wantW := fd.Gradient(nil, lossOf(l.w), toF64(l.w), settings)
			wantB := fd.Gradient(nil, lossOf(l.b), toF64(l.b), settings)
			wantX := fd.Gradient(nil, lossOf(x), toF64(x), settings)

			l.forward(x, rows)
			dz := append([]float32(nil), c...)
			mulDerivative(a, dz, l.y)
			l.accumulate(x, dz, rows)
			dx := make([]float32, rows*in)
			l.inputGradient(dx, dz, rows)

			for _, check := range []struct {
				name      string
				got, want []float64
			}{
				{"dW", toF64(l.dw), wantW},
				{"db", toF64(l.db), wantB},
				{"dx", toF64(dx), wantX},
			} {
				if !floats.EqualApprox(check.got, check.want, 2e-3) {
					t.Errorf("%s = %v, want %v by finite differences", check.name, check.got, check.want)
				}
			}
		})
	}
}

func TestDenseAccumulateAdds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	l := newTestLayer(rng, 3, 2, 2, Identity)
	x := []float32{1, 2, 3, 4, 5, 6}
	dz := []float32{1, 0, 0, 1}
	l.accumulate(x, dz, 2)
	l.accumulate(x, dz, 2)
	// xᵀ·dz = [[1 4] [2 5] [3 6]], added twice; db = column sums [1 1], twice.
	wantW := []float32{2, 8, 4, 10, 6, 12}
	wantB := []float32{2, 2}
	for i := range wantW {
		if l.dw[i] != wantW[i] {
			t.Errorf("dw = %v, want %v", l.dw, wantW)
			break
		}
	}
	for i := range wantB {
		if l.db[i] != wantB[i] {
			t.Errorf("db = %v, want %v", l.db, wantB)
			break
		}
	}
}

func toF64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

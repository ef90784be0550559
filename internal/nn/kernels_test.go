package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// adamInputs returns n gradients, moments and parameters that cover the
// cases of the update: normal values, zeros, values near the smallest
// normal float32, subnormals and NaN.
func adamInputs(rng *rand.Rand, n int) (params, grad, m, v []float32) {
	pick := func(i int, scale float32) float32 {
		switch i % 7 {
		case 0:
			return 0
		case 1:
			return scale * 0x1p-126 * float32(rng.Float64()*4)
		case 2:
			return scale * math.Float32frombits(rng.Uint32()&0x7fffff) // subnormal
		case 3:
			if rng.IntN(50) == 0 {
				return float32(math.NaN())
			}
		}
		return scale * float32(rng.NormFloat64())
	}
	params, grad = make([]float32, n), make([]float32, n)
	m, v = make([]float32, n), make([]float32, n)
	for i := range n {
		params[i] = float32(rng.NormFloat64())
		grad[i] = pick(rng.IntN(7), 1e-3)
		m[i] = pick(rng.IntN(7), 1e-3)
		v[i] = float32(math.Abs(float64(pick(rng.IntN(7), 1e-6))))
	}
	return params, grad, m, v
}

// TestAdamUpdateMatchesGo checks that the build's Adam kernel gives the
// same bits as adamUpdateGo, for lengths that leave every remainder of the
// vector widths.
func TestAdamUpdateMatchesGo(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	k := adamCoeffs{b1: 0.9, b2: 0.999, d1: 0.1, d2: 0.001, c1: 1.7, c2: 31.6, lr: 1e-3, eps: 1e-8}
	for _, n := range []int{1, 7, 8, 15, 16, 17, 33, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			params, grad, m, v := adamInputs(rng, n)
			wantP, wantM, wantV := clone(params), clone(m), clone(v)
			adamUpdateGo(wantP, grad, wantM, wantV, &k)
			adamUpdate(params, grad, m, v, &k)
			for _, c := range []struct {
				name      string
				want, got []float32
			}{{"params", wantP, params}, {"m", wantM, m}, {"v", wantV, v}} {
				for i := range c.want {
					if !sameBits(c.want[i], c.got[i]) {
						t.Errorf("%s[%d] = %g (%#x), want %g (%#x)", c.name, i,
							c.got[i], math.Float32bits(c.got[i]), c.want[i], math.Float32bits(c.want[i]))
					}
				}
			}
		})
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// sameBits reports whether x and y have the same bits, or are both NaN.
func sameBits(x, y float32) bool {
	if x != x && y != y {
		return true
	}
	return math.Float32bits(x) == math.Float32bits(y)
}

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
	checkAdamKernel(t)
}

func checkAdamKernel(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	k := adamCoeffs{b1: 0.9, b2: 0.999, d1: 0.1, d2: 0.001, c1: 1.7, c2: 31.6, lr: 1e-3, eps: 1e-8}
	// 3<<16 + 5 parameters are split across goroutines when GOMAXPROCS > 1.
	for _, n := range []int{1, 7, 8, 15, 16, 17, 33, 1000, 3<<16 + 5} {
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

// activationInputs returns n pre-activations spread over float32's range,
// with the special values and the edges of the sigmoid kernels' cases
// among them.
func activationInputs(rng *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.5, -0.5,
		88, -88, 103.9, -103.9, 104, -104, 119.9, -119.9, 120, -120, 120.1, -120.1,
		745, -745, 1e30, -1e30, math.MaxFloat32, -math.MaxFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0x1p-149, -0x1p-149}
	z := make([]float32, n)
	for i := range z {
		switch {
		case i < len(special):
			z[i] = special[i]
		case i%3 == 0:
			z[i] = math.Float32frombits(rng.Uint32())
		default:
			z[i] = float32(rng.NormFloat64() * 30)
		}
	}
	return z
}

// TestActivationKernelsMatchGo checks that the build's activation and
// derivative kernels give the same bits as activateRowsGo and
// mulDerivativeGo, for row widths that leave every remainder of the vector
// widths.
func TestActivationKernelsMatchGo(t *testing.T) {
	t.Parallel()
	checkActivationKernels(t)
}

func checkActivationKernels(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, a := range []Activation{Identity, ReLU, Sigmoid, Tanh} {
		for _, units := range []int{1, 3, 4, 7, 8, 9, 16, 17, 60, 100} {
			t.Run(fmt.Sprintf("%s/units=%d", a, units), func(t *testing.T) {
				const rows = 37
				z := activationInputs(rng, rows*units)
				b := activationInputs(rng, units)
				rng.Shuffle(len(z), func(i, j int) { z[i], z[j] = z[j], z[i] })
				want := clone(z)
				activateRowsGo(a, want, b)
				got := clone(z)
				activateRows(a, got, b)
				for i := range want {
					if !sameBits(want[i], got[i]) {
						r, j := i/units, i%units
						t.Fatalf("activateRows: z[%d] + b[%d] = %g + %g gives %g, want %g",
							r*units+j, j, z[i], b[j], got[i], want[i])
					}
				}

				dy := activationInputs(rng, len(want))
				wantDy := clone(dy)
				mulDerivativeGo(a, wantDy, want)
				mulDerivative(a, dy, want)
				for i := range wantDy {
					if !sameBits(wantDy[i], dy[i]) {
						t.Fatalf("mulDerivative: dy[%d] = %g at y = %g, want %g", i, dy[i], want[i], wantDy[i])
					}
				}
			})
		}
	}
}

// TestSoftmaxKernelMatchesGo checks that the build's softmax cross-entropy
// kernel gives the same loss, count and gradient bits as softmaxRowsGo,
// also with more classes than the kernel keeps exponentials for, without
// a gradient, and with the gradient written over the logits.
func TestSoftmaxKernelMatchesGo(t *testing.T) {
	t.Parallel()
	checkSoftmaxKernel(t)
}

func checkSoftmaxKernel(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, classes := range []int{1, 3, 10, 64, 70} {
		for _, scale := range []float32{1, 1.0 / 64, 1e30} {
			t.Run(fmt.Sprintf("classes=%d/scale=%g", classes, scale), func(t *testing.T) {
				const rows = 41
				logits := activationInputs(rng, rows*classes)
				rng.Shuffle(len(logits), func(i, j int) { logits[i], logits[j] = logits[j], logits[i] })
				for i := range logits[:len(logits)/2] {
					logits[i] = float32(rng.NormFloat64() * 5) // rows without extremes
				}
				labels := make([]uint8, rows)
				for i := range labels {
					labels[i] = uint8(rng.IntN(classes))
				}

				want := make([]float32, len(logits))
				wantLoss, wantCorrect := softmaxRowsGo(want, logits, labels, classes, scale)
				got := make([]float32, len(logits))
				gotLoss, gotCorrect := softmaxRows(got, logits, labels, classes, scale)
				if math.Float64bits(gotLoss) != math.Float64bits(wantLoss) && !(gotLoss != gotLoss && wantLoss != wantLoss) {
					t.Errorf("loss sum = %v, want %v", gotLoss, wantLoss)
				}
				if gotCorrect != wantCorrect {
					t.Errorf("correct = %d, want %d", gotCorrect, wantCorrect)
				}
				for i := range want {
					if !sameBits(want[i], got[i]) {
						t.Fatalf("dlogits[%d] = %g, want %g (logit %g)", i, got[i], want[i], logits[i])
					}
				}

				if _, c := softmaxRows(nil, logits, labels, classes, scale); c != wantCorrect {
					t.Errorf("without dlogits: correct = %d, want %d", c, wantCorrect)
				}
				// A row with an infinite or NaN logit makes the whole sum NaN,
				// so the loss of the finite rows is compared on its own.
				finite := len(logits) / 2 / classes
				wantLoss, _ = softmaxRowsGo(nil, logits[:finite*classes], labels[:finite], classes, scale)
				gotLoss, _ = softmaxRows(nil, logits[:finite*classes], labels[:finite], classes, scale)
				if math.IsNaN(wantLoss) || math.Float64bits(gotLoss) != math.Float64bits(wantLoss) {
					t.Errorf("loss sum of %d finite rows = %v, want %v, not NaN", finite, gotLoss, wantLoss)
				}
				inPlace := clone(logits)
				softmaxRows(inPlace, inPlace, labels, classes, scale)
				for i := range want {
					if !sameBits(want[i], inPlace[i]) {
						t.Fatalf("in place: dlogits[%d] = %g, want %g", i, inPlace[i], want[i])
					}
				}
			})
		}
	}
}

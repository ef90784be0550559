package nn_test

import (
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestToFixedRoundTrip(t *testing.T) {
	t.Parallel()
	limit := nn.FixedLimit(1)
	rng := rand.New(rand.NewPCG(1, 1))
	values := []float32{0, 1, -1, 0.5, 0x1p-9, -0x1p-9, 0x1p29, -0x1p29, 3.1415927}
	for range 1000 {
		// Magnitudes from 2^-9 to 2^20, where every float32 bit has a place
		// among the 32 fraction bits.
		v := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(30)-9)))
		if math.Abs(float64(v)) >= 0x1p-9 {
			values = append(values, v)
		}
	}
	for _, v := range values {
		f, ok := nn.ToFixed(float64(v), limit)
		if !ok {
			t.Errorf("ToFixed(%g) failed, want success", v)
			continue
		}
		if got := float32(nn.FromFixed(f)); got != v {
			t.Errorf("FromFixed(ToFixed(%g)) = %g, want the same value", v, got)
		}
	}
}

func TestToFixedRoundsSmallValues(t *testing.T) {
	t.Parallel()
	limit := nn.FixedLimit(1)
	tests := []struct {
		v    float64
		want int64
	}{
		{v: 0x1p-32, want: 1},
		{v: -0x1p-32, want: -1},
		{v: 0x1p-33, want: 0},     // a tie rounds to even
		{v: 0x3p-33, want: 2},     // 1.5 units, a tie, rounds to even
		{v: 0x1.1p-33, want: 1},   // above half a unit
		{v: 1e-12, want: 0},       // below half a unit
		{v: -0x1.8p-32, want: -2}, // -1.5 units
	}
	for _, tt := range tests {
		got, ok := nn.ToFixed(tt.v, limit)
		if !ok || got != tt.want {
			t.Errorf("ToFixed(%g) = %d, %v, want %d, true", tt.v, got, ok, tt.want)
		}
	}
}

func TestToFixedRejectsOutOfRange(t *testing.T) {
	t.Parallel()
	limit := nn.FixedLimit(4) // 2^60 units, 2^28 in real units
	tests := []struct {
		name string
		v    float64
		ok   bool
	}{
		{name: "NaN", v: math.NaN()},
		{name: "+Inf", v: math.Inf(1)},
		{name: "-Inf", v: math.Inf(-1)},
		{name: "limit", v: 0x1p28},
		{name: "-limit", v: -0x1p28},
		{name: "max float64", v: math.MaxFloat64},
		// The float64 below 2^28 is 2^28 - 2^-25, 128 units below the limit.
		{name: "below the limit", v: 0x1p28 - 0x1p-25, ok: true},
		{name: "above -limit", v: -0x1p28 + 0x1p-25, ok: true},
	}
	for _, tt := range tests {
		f, ok := nn.ToFixed(tt.v, limit)
		if ok != tt.ok {
			t.Errorf("%s: ToFixed(%g) ok = %v, want %v", tt.name, tt.v, ok, tt.ok)
		}
		if !ok && f != 0 {
			t.Errorf("%s: ToFixed(%g) = %d on failure, want 0", tt.name, tt.v, f)
		}
	}
}

func TestFixedLimitBoundsSums(t *testing.T) {
	t.Parallel()
	for _, parts := range []int{1, 2, 3, 4, 5, 7, 8, 9, 100, 4096, 65535, 65536} {
		limit := nn.FixedLimit(parts)
		// parts values of magnitude limit-1 sum to less than 2^63.
		hi, lo := bits.Mul64(uint64(parts), uint64(limit-1))
		if hi != 0 || lo > math.MaxInt64 {
			t.Errorf("FixedLimit(%d) = %d: %d values below it can sum past the int64 range", parts, limit, parts)
		}
		// The limit gives away less than a factor of two of the range.
		if hi, lo := bits.Mul64(uint64(parts), uint64(limit)); hi == 0 && lo < 1<<62 {
			t.Errorf("FixedLimit(%d) = %d: %d values at the limit sum to only %d, want at least 2^62", parts, limit, parts, lo)
		}
	}
}

// microBatchGradients returns the gradient of each micro-batch of rows
// samples of a random batch, computed whole from the same parameters.
func microBatchGradients(t *testing.T, n *nn.Network, rows, microBatch int) [][]float32 {
	t.Helper()
	x, labels := randomBatch(rand.New(rand.NewPCG(3, 3)), rows, n.Spec().Inputs, n.Classes())
	inputs := n.Spec().Inputs
	var grads [][]float32
	for from := 0; from < rows; from += microBatch {
		to := min(from+microBatch, rows)
		n.ZeroGrad()
		masks := rand.New(rand.NewPCG(4, uint64(from)))
		if _, _, err := n.AccumulateGradient(x[from*inputs:to*inputs], labels[from:to], 1, masks); err != nil {
			t.Fatalf("AccumulateGradient: %v", err)
		}
		grads = append(grads, slices.Clone(n.Grad()))
	}
	return grads
}

func TestFixedSumIgnoresOrder(t *testing.T) {
	t.Parallel()
	const rows, microBatch = 80, 16
	n := newTestNetwork(t, "20-16relu/0.3-12sigmoid-5", microBatch, 1)
	grads := microBatchGradients(t, n, rows, microBatch)
	limit := nn.FixedLimit(len(grads))

	sumInOrder := func(order []int) []int64 {
		sum := make([]int64, len(n.Grad()))
		for _, i := range order {
			copy(n.Grad(), grads[i])
			if err := n.AddGradientFixed(sum, limit); err != nil {
				t.Fatalf("AddGradientFixed: %v", err)
			}
		}
		return sum
	}
	want := sumInOrder([]int{0, 1, 2, 3, 4})
	rng := rand.New(rand.NewPCG(5, 5))
	for range 10 {
		order := rng.Perm(len(grads))
		if got := sumInOrder(order); !slices.Equal(got, want) {
			t.Fatalf("fixed-point sum in order %v differs from the sum in order 0 to 4 (-want +got):\n%s",
				order, cmp.Diff(want, got))
		}
	}

	// The mean is close to the float64 mean of the micro-batch gradients.
	n.SetMeanGradient(want, rows)
	for i, got := range n.Grad() {
		var mean float64
		for _, g := range grads {
			mean += float64(g[i])
		}
		mean /= rows
		if math.Abs(float64(got)-mean) > 1e-6*math.Abs(mean)+0x1p-32 {
			t.Fatalf("mean gradient element %d = %g, want %g", i, got, mean)
		}
	}
}

func TestAddGradientFixedNamesLayer(t *testing.T) {
	t.Parallel()
	// Layout of 4-3relu-2: layer 1 weights 0-11 and biases 12-14, layer 2
	// weights 15-20 and biases 21-22.
	tests := []struct {
		name  string
		index int
		value float32
		want  nn.FixedPointError
		text  []string
	}{
		{
			name: "NaN bias", index: 13, value: float32(math.NaN()),
			want: nn.FixedPointError{Layer: 1, Units: 3, Activation: nn.ReLU, Bias: true, Index: 1},
			text: []string{"layer 1 (3 relu units)", "bias 1", "NaN", "lower the learning rate"},
		},
		{
			name: "infinite weight", index: 20, value: float32(math.Inf(-1)),
			want: nn.FixedPointError{Layer: 2, Units: 2, Activation: nn.Identity, Index: 5},
			text: []string{"layer 2 (2 identity units)", "weight 5 (input 2, unit 1)", "-Inf"},
		},
		{
			name: "overflowing weight", index: 4, value: 3e8,
			want: nn.FixedPointError{Layer: 1, Units: 3, Activation: nn.ReLU, Index: 4, Limit: 0x1p28},
			text: []string{"layer 1 (3 relu units)", "weight 4 (input 1, unit 1)", "3e+08", "limit of ±2.68435456e+08"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNetwork(t, "4-3relu-2", 1, 1)
			n.Grad()[tt.index] = tt.value
			sum := make([]int64, len(n.Grad()))
			err := n.AddGradientFixed(sum, nn.FixedLimit(4))
			if !errors.Is(err, nn.ErrFixedPointRange) {
				t.Fatalf("AddGradientFixed error = %v, want one wrapping ErrFixedPointRange", err)
			}
			var fpe *nn.FixedPointError
			if !errors.As(err, &fpe) {
				t.Fatalf("AddGradientFixed error = %v, want a *FixedPointError", err)
			}
			want := tt.want
			want.Value = tt.value
			if tt.want.Limit == 0 {
				want.Limit = fpe.Limit // not part of the message for NaN and infinities
			}
			if diff := cmp.Diff(want, *fpe, cmp.Comparer(sameFloat32)); diff != "" {
				t.Errorf("FixedPointError (-want +got):\n%s", diff)
			}
			for _, s := range tt.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// sameFloat32 reports whether a and b have the same bits, so that NaN equals
// NaN.
func sameFloat32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b)
}

func TestSetMeanGradient(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "1-1relu-2", 1, 1) // 6 parameters
	sum := []int64{8 << 32, -4 << 32, 1, 0, 6 << 31, math.MinInt64}
	n.SetMeanGradient(sum, 4)
	want := []float32{2, -1, 0x1p-34, 0, 0.75, -0x1p29}
	if diff := cmp.Diff(want, n.Grad()); diff != "" {
		t.Errorf("SetMeanGradient(sum, 4) (-want +got):\n%s", diff)
	}
}

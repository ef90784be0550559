package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/ringtrain/ringtrain/internal/nn"
)

// newTestNetwork parses spec, allocates a network for maxBatch rows and
// initialises it from seed.
func newTestNetwork(t testing.TB, spec string, maxBatch int, seed uint64) *nn.Network {
	t.Helper()
	s, err := nn.ResolveSpec(spec)
	if err != nil {
		t.Fatalf("ResolveSpec(%q): %v", spec, err)
	}
	n, err := nn.NewNetwork(s, maxBatch)
	if err != nil {
		t.Fatalf("NewNetwork(%q, %d): %v", spec, maxBatch, err)
	}
	n.Init(seed)
	return n
}

// randomBatch returns rows samples of inputs normal values and labels below
// classes.
func randomBatch(rng *rand.Rand, rows, inputs, classes int) ([]float32, []uint8) {
	x := make([]float32, rows*inputs)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]uint8, rows)
	for i := range labels {
		labels[i] = uint8(rng.IntN(classes))
	}
	return x, labels
}

// refMasks draws the dropout masks the way Forward documents it: one
// rng.Float64() per output, layer by layer and row by row.
func refMasks(spec nn.Spec, rows int, rng *rand.Rand) [][]float64 {
	masks := make([][]float64, len(spec.Layers))
	for i, l := range spec.Layers {
		if l.Dropout == 0 {
			continue
		}
		masks[i] = make([]float64, rows*l.Units)
		for k := range masks[i] {
			if rng.Float64() >= l.Dropout {
				masks[i][k] = float64(float32(1 / (1 - l.Dropout)))
			}
		}
	}
	return masks
}

// refLogits is a float64 reference of Forward with the documented parameter
// layout. masks[i] is nil for layers without dropout.
func refLogits(spec nn.Spec, p []float64, x []float32, rows int, masks [][]float64) []float64 {
	a := make([]float64, len(x))
	for i, v := range x {
		a[i] = float64(v)
	}
	off, in := 0, spec.Inputs
	for li, l := range spec.Layers {
		w, b := p[off:off+in*l.Units], p[off+in*l.Units:off+in*l.Units+l.Units]
		off += in*l.Units + l.Units
		next := make([]float64, rows*l.Units)
		for r := range rows {
			for j := range l.Units {
				z := b[j]
				for i := range in {
					z += a[r*in+i] * w[i*l.Units+j]
				}
				next[r*l.Units+j] = refActivate(l.Activation, z)
			}
		}
		if masks != nil && masks[li] != nil {
			for k := range next {
				next[k] *= masks[li][k]
			}
		}
		a, in = next, l.Units
	}
	return a
}

func refActivate(a nn.Activation, z float64) float64 {
	switch a {
	case nn.ReLU:
		return math.Max(z, 0)
	case nn.Sigmoid:
		return 1 / (1 + math.Exp(-z))
	case nn.Tanh:
		return math.Tanh(z)
	}
	return z
}

// refLoss returns the summed softmax cross-entropy of logits in float64.
func refLoss(logits []float64, labels []uint8, classes int) float64 {
	var sum float64
	for r, label := range labels {
		row := logits[r*classes : (r+1)*classes]
		top := floats.Max(row)
		var s float64
		for _, v := range row {
			s += math.Exp(v - top)
		}
		sum += top + math.Log(s) - row[label]
	}
	return sum
}

// TestNetworkGradientFiniteDifference checks Backward against central
// differences of a float64 reference network, with several activations and
// with and without dropout.
func TestNetworkGradientFiniteDifference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spec  string
		train bool
	}{
		{name: "no dropout", spec: "6-5relu/0.3-4sigmoid-3tanh/0.2-3", train: false},
		{name: "dropout", spec: "6-5relu/0.3-4sigmoid-3tanh/0.2-3", train: true},
		{name: "identity hidden", spec: "6-4identity-3", train: true},
	}
	const rows = 4
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNetwork(t, tt.spec, rows, 3)
			spec := n.Spec()
			classes := n.Classes()
			x, labels := randomBatch(rand.New(rand.NewPCG(1, 1)), rows, spec.Inputs, classes)
			scale := float32(1) / rows

			var masks [][]float64
			if tt.train {
				masks = refMasks(spec, rows, rand.New(rand.NewPCG(9, 9)))
			}
			logits := n.Forward(x, rows, tt.train, rand.New(rand.NewPCG(9, 9)))
			p := toFloat64(n.Params())
			wantLogits := refLogits(spec, p, x, rows, masks)
			if !floats.EqualApprox(toFloat64(logits), wantLogits, 1e-5) {
				t.Fatalf("Forward = %v, want %v from the reference", logits, wantLogits)
			}

			dlogits := make([]float32, len(logits))
			if _, _, err := nn.SoftmaxCrossEntropy(dlogits, logits, labels, classes, scale); err != nil {
				t.Fatal(err)
			}
			n.ZeroGrad()
			n.Backward(dlogits)

			loss := func(v []float64) float64 {
				return float64(scale) * refLoss(refLogits(spec, v, x, rows, masks), labels, classes)
			}
			want := fd.Gradient(nil, loss, p, &fd.Settings{Formula: fd.Central, Step: 1e-6})
			got := toFloat64(n.Grad())
			if !floats.EqualApprox(got, want, 1e-5) {
				for i := range got {
					if !scalar.EqualWithinAbsOrRel(got[i], want[i], 1e-5, 1e-5) {
						t.Errorf("Grad()[%d] = %v, want %v by finite differences", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestNetworkWeightOrientation(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "2-2", 1, 1)
	w, b := n.LayerParams(0)
	copy(w, []float32{1, 2, 3, 4}) // W[i*out+j] connects input i to output j.
	copy(b, []float32{0.5, -1})
	got := n.Forward([]float32{1, 10}, 1, false, nil)
	// z0 = 1*1 + 10*3 + 0.5, z1 = 1*2 + 10*4 - 1.
	want := []float32{31.5, 41}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Forward([1 10]) = %v, want %v", got, want)
	}
}

func TestNetworkDropout(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "20-400relu/0.5-2", 8, 1)
	x, _ := randomBatch(rand.New(rand.NewPCG(1, 1)), 8, 20, 2)
	eval := append([]float32(nil), n.Forward(x, 8, false, nil)...)
	first := append([]float32(nil), n.Forward(x, 8, true, rand.New(rand.NewPCG(5, 5)))...)
	second := n.Forward(x, 8, true, rand.New(rand.NewPCG(5, 5)))
	if !floats.Equal(toFloat64(first), toFloat64(second)) {
		t.Errorf("two training passes with the same mask seed differ: %v and %v", first, second)
	}
	if floats.EqualApprox(toFloat64(first), toFloat64(eval), 1e-3) {
		t.Errorf("training pass with dropout 0.5 = evaluation pass %v, want a difference", eval)
	}
	again := n.Forward(x, 8, false, nil)
	if !floats.Equal(toFloat64(again), toFloat64(eval)) {
		t.Errorf("evaluation pass after training = %v, want %v", again, eval)
	}
}

func TestBackwardAccumulatesHalves(t *testing.T) {
	t.Parallel()
	const rows = 8
	n := newTestNetwork(t, "5-7tanh-6relu-3", rows, 2)
	x, labels := randomBatch(rand.New(rand.NewPCG(1, 1)), rows, 5, 3)
	scale := float32(1) / rows
	dlogits := make([]float32, rows*3)

	step := func(lo, hi int) {
		logits := n.Forward(x[lo*5:hi*5], hi-lo, false, nil)
		d := dlogits[:(hi-lo)*3]
		if _, _, err := nn.SoftmaxCrossEntropy(d, logits, labels[lo:hi], 3, scale); err != nil {
			t.Fatal(err)
		}
		n.Backward(d)
	}
	n.ZeroGrad()
	step(0, rows)
	full := toFloat64(n.Grad())

	n.ZeroGrad()
	step(0, rows/2)
	step(rows/2, rows)
	halves := toFloat64(n.Grad())
	if !floats.EqualApprox(full, halves, 1e-6) {
		t.Errorf("gradient of two halves = %v, want the full batch's %v", halves, full)
	}
	if floats.Norm(full, 2) == 0 {
		t.Error("full-batch gradient is zero, want a nonzero gradient")
	}
}

func TestNetworkShapePanics(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "3-4relu/0.5-2", 4, 1)
	fresh := newTestNetwork(t, "3-2", 4, 1)
	tests := []struct {
		name string
		call func()
	}{
		{name: "x length", call: func() { n.Forward(make([]float32, 5), 2, false, nil) }},
		{name: "rows above max batch", call: func() { n.Forward(make([]float32, 15), 5, false, nil) }},
		{name: "negative rows", call: func() { n.Forward(nil, -1, false, nil) }},
		{name: "dropout without rng", call: func() { n.Forward(make([]float32, 6), 2, true, nil) }},
		{name: "backward before forward", call: func() { fresh.Backward(make([]float32, 2)) }},
		{name: "dlogits length", call: func() {
			n.Forward(make([]float32, 6), 2, false, nil)
			n.Backward(make([]float32, 3))
		}},
		{name: "layer index", call: func() { n.LayerParams(2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPanic(t, tt.call)
		})
	}
}

func TestForwardZeroRows(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "3-4relu-2", 4, 1)
	if got := n.Forward(nil, 0, false, nil); len(got) != 0 {
		t.Errorf("Forward of 0 rows = %v, want no logits", got)
	}
	n.Backward(nil)
	if floats.Norm(toFloat64(n.Grad()), 2) != 0 {
		t.Error("Backward of 0 rows changed the gradient")
	}
}

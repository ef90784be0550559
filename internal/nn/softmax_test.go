package nn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats"

	"github.com/ringtrain/ringtrain/internal/nn"
)

// logitsFromProbs returns one row of log(p) per label: probability high at
// the label and low elsewhere.
func logitsFromProbs(labels []uint8, classes int, high, low float64) []float32 {
	logits := make([]float32, len(labels)*classes)
	for r, label := range labels {
		for j := range classes {
			p := low
			if j == int(label) {
				p = high
			}
			logits[r*classes+j] = float32(math.Log(p))
		}
	}
	return logits
}

func TestCrossEntropyMeanLoss(t *testing.T) {
	t.Parallel()
	labels := []uint8{3, 0, 9}
	tests := []struct {
		name      string
		high, low float64
		want      float64 // mean loss, computed by hand
		// mistake is the mean of label * sum_j -log p_j, the value when the
		// integer label multiplies every class in place of a one-hot vector.
		mistake float64
	}{
		// want = -log(0.1); mistake = (3+0+9)/3 * 10 * -log(0.1).
		{name: "uniform", high: 0.1, low: 0.1, want: 2.302585, mistake: 92.103404},
		// want = -log(0.91); mistake = 4 * (-log(0.91) - 9 log(0.01)).
		{name: "confident", high: 0.91, low: 0.01, want: 0.094311, mistake: 166.163369},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logits := logitsFromProbs(labels, 10, tt.high, tt.low)
			sum, _, err := nn.SoftmaxCrossEntropy(nil, logits, labels, 10, 1)
			if err != nil {
				t.Fatalf("SoftmaxCrossEntropy: %v", err)
			}
			mean := sum / float64(len(labels))
			if math.Abs(mean-tt.want) > 1e-6 {
				t.Errorf("mean loss = %.6f, want %.6f", mean, tt.want)
			}
			if math.Abs(mean-tt.mistake) < 1 {
				t.Errorf("mean loss = %.6f, the value of the integer-label mistake", mean)
			}
		})
	}
}

func TestCrossEntropyAccuracy(t *testing.T) {
	t.Parallel()
	logits := []float32{
		0, 5, 1, // argmax 1
		2, 2, 2, // tie: argmax 0
		-1, -3, -0.5, // argmax 2
	}
	_, correct, err := nn.SoftmaxCrossEntropy(nil, logits, []uint8{1, 0, 0}, 3, 1)
	if err != nil {
		t.Fatalf("SoftmaxCrossEntropy: %v", err)
	}
	if correct != 2 {
		t.Errorf("correct = %d, want 2", correct)
	}
}

func TestCrossEntropyExtremeLogits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		logits []float32
		label  uint8
		want   float64
	}{
		// log(1 + 2e^-800) rounds to 0, so the loss is 0 - (-800).
		{name: "far below", logits: []float32{0, -800, -800}, label: 1, want: 800},
		{name: "certain", logits: []float32{0, -800, -800}, label: 0, want: 0},
		// 800 - 0 + log(1 + e^-1 + e^-800) = 800 + 0.313262.
		{name: "far above", logits: []float32{800, 799, 0}, label: 2, want: 800.313262},
		{name: "max float32", logits: []float32{math.MaxFloat32, 0}, label: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dlogits := make([]float32, len(tt.logits))
			sum, _, err := nn.SoftmaxCrossEntropy(dlogits, tt.logits, []uint8{tt.label}, len(tt.logits), 1)
			if err != nil {
				t.Fatalf("SoftmaxCrossEntropy: %v", err)
			}
			if math.IsNaN(sum) || math.IsInf(sum, 0) {
				t.Fatalf("loss = %v, want finite", sum)
			}
			if math.Abs(sum-tt.want) > 1e-6 {
				t.Errorf("loss = %.6f, want %.6f", sum, tt.want)
			}
			for j, d := range dlogits {
				if d != d || math.IsInf(float64(d), 0) {
					t.Errorf("dlogits[%d] = %v, want finite", j, d)
				}
			}
		})
	}
}

func TestSoftmaxExtremeLogits(t *testing.T) {
	t.Parallel()
	got := make([]float32, 3)
	nn.Softmax(got, []float32{800, 799, 0}, 3)
	// e^0 / (1 + e^-1) and e^-1 / (1 + e^-1).
	want := []float64{0.731059, 0.268941, 0}
	for j := range want {
		if math.Abs(float64(got[j])-want[j]) > 1e-6 {
			t.Errorf("Softmax([800 799 0])[%d] = %.6f, want %.6f", j, got[j], want[j])
		}
	}
}

func TestSoftmaxShiftInvariant(t *testing.T) {
	t.Parallel()
	base := []float32{0.5, -1, 2, 0.25}
	labels := []uint8{2}
	wantP := make([]float32, 4)
	nn.Softmax(wantP, base, 4)
	wantLoss, _, err := nn.SoftmaxCrossEntropy(nil, base, labels, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, shift := range []float32{-1000, -3, 16, 4096} {
		shifted := make([]float32, len(base))
		for j, v := range base {
			shifted[j] = v + shift
		}
		gotP := make([]float32, 4)
		nn.Softmax(gotP, shifted, 4)
		for j := range gotP {
			if math.Abs(float64(gotP[j]-wantP[j])) > 1e-6 {
				t.Errorf("shift %v: softmax[%d] = %v, want %v", shift, j, gotP[j], wantP[j])
			}
		}
		gotLoss, _, err := nn.SoftmaxCrossEntropy(nil, shifted, labels, 4, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(gotLoss-wantLoss) > 1e-6 {
			t.Errorf("shift %v: loss = %v, want %v", shift, gotLoss, wantLoss)
		}
	}
}

func TestCrossEntropyBatchMean(t *testing.T) {
	t.Parallel()
	// With two classes and logits [0, a], the loss of label 0 is
	// log(1 + e^a), so a = log(e^L - 1) gives the per-sample loss L.
	perSample := []float64{0.5, 1.0, 1.5, 2.0}
	logits := make([]float32, 0, 2*len(perSample))
	for _, l := range perSample {
		logits = append(logits, 0, float32(math.Log(math.Exp(l)-1)))
	}
	labels := make([]uint8, len(perSample))
	sum, _, err := nn.SoftmaxCrossEntropy(nil, logits, labels, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sum-5) > 1e-6 {
		t.Errorf("loss sum = %v, want 5", sum)
	}
	if mean := sum / float64(len(perSample)); math.Abs(mean-1.25) > 1e-6 {
		t.Errorf("mean loss = %v, want 1.25", mean)
	}
}

func TestCrossEntropyLabelRange(t *testing.T) {
	t.Parallel()
	logits := make([]float32, 3*10)
	dlogits := make([]float32, len(logits))
	for i := range dlogits {
		dlogits[i] = 7
	}
	_, _, err := nn.SoftmaxCrossEntropy(dlogits, logits, []uint8{3, 12, 0}, 10, 1)
	if !errors.Is(err, nn.ErrLabelRange) {
		t.Fatalf("error = %v, want one wrapping ErrLabelRange", err)
	}
	for _, want := range []string{"row 1", "label 12", "want 0 to 9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
	for i, d := range dlogits {
		if d != 7 {
			t.Fatalf("dlogits[%d] = %v after a rejected label, want it untouched", i, d)
		}
	}
	if _, _, err := nn.SoftmaxCrossEntropy(nil, logits[:10], []uint8{10}, 10, 1); !errors.Is(err, nn.ErrLabelRange) {
		t.Errorf("label 10 of 10 classes: error = %v, want ErrLabelRange", err)
	}
}

func TestCrossEntropyGradientFiniteDifference(t *testing.T) {
	t.Parallel()
	const classes, rows = 5, 4
	const scale = 0.25
	rng := rand.New(rand.NewPCG(1, 1))
	// Logits on a grid of 1/64, so that x ± 2^-10 is exact in float32 and
	// the finite differences see the intended step.
	x := make([]float64, rows*classes)
	for i := range x {
		x[i] = math.Round(rng.NormFloat64()*3*64) / 64
	}
	labels := []uint8{0, 4, 2, 2}
	logits := make([]float32, len(x))
	loss := func(v []float64) float64 {
		for i := range v {
			logits[i] = float32(v[i])
		}
		sum, _, err := nn.SoftmaxCrossEntropy(nil, logits, labels, classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		return scale * sum
	}
	want := fd.Gradient(nil, loss, x, &fd.Settings{Formula: fd.Central, Step: 0x1p-10})

	for i := range x {
		logits[i] = float32(x[i])
	}
	dlogits := make([]float32, len(logits))
	if _, _, err := nn.SoftmaxCrossEntropy(dlogits, logits, labels, classes, scale); err != nil {
		t.Fatal(err)
	}
	got := toFloat64(dlogits)
	if !floats.EqualApprox(got, want, 1e-6) {
		t.Errorf("dlogits = %v, want %v by finite differences", got, want)
	}
}

func TestCrossEntropyInPlace(t *testing.T) {
	t.Parallel()
	logits := []float32{1, 2, 3, 0, 0, 4}
	labels := []uint8{2, 0}
	want := make([]float32, len(logits))
	wantLoss, _, err := nn.SoftmaxCrossEntropy(want, logits, labels, 3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	gotLoss, _, err := nn.SoftmaxCrossEntropy(logits, logits, labels, 3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if gotLoss != wantLoss {
		t.Errorf("in-place loss = %v, want %v", gotLoss, wantLoss)
	}
	for j := range want {
		if logits[j] != want[j] {
			t.Errorf("in-place dlogits[%d] = %v, want %v", j, logits[j], want[j])
		}
	}
}

func TestCrossEntropyShapePanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func()
	}{
		{name: "zero classes", call: func() { nn.SoftmaxCrossEntropy(nil, nil, nil, 0, 1) }},
		{name: "ragged logits", call: func() { nn.SoftmaxCrossEntropy(nil, make([]float32, 5), []uint8{0, 0}, 2, 1) }},
		{name: "label count", call: func() { nn.SoftmaxCrossEntropy(nil, make([]float32, 4), []uint8{0}, 2, 1) }},
		{name: "dlogits length", call: func() {
			nn.SoftmaxCrossEntropy(make([]float32, 3), make([]float32, 4), []uint8{0, 1}, 2, 1)
		}},
		{name: "softmax dst length", call: func() { nn.Softmax(make([]float32, 3), make([]float32, 4), 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustPanic(t, tt.call)
		})
	}
}

// mustPanic fails the test unless f panics.
func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("call did not panic, want a panic")
		}
	}()
	f()
}

func toFloat64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

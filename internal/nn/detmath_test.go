package nn

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"
)

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Abs(want)
}

func TestDetExpMatchesMath(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	var xs []float64
	for range 20000 {
		xs = append(xs, -745+rng.Float64()*(709+745))
	}
	for range 2000 {
		xs = append(xs, (rng.Float64()-0.5)*1e-3, (rng.Float64()-0.5)*2)
	}
	xs = append(xs, 0, -0.3466, 0.3466, -708.5, -720, 709.78, -1e-300)
	for _, x := range xs {
		got, want := detExp(x), math.Exp(x)
		tol := 2e-15
		if want < 0x1p-1022 {
			// Subnormal results keep fewer significant bits.
			tol = 0x1p-1074 / want * 2
		}
		if e := relErr(got, want); e > tol {
			t.Errorf("detExp(%v) = %v, want %v (relative error %.3g)", x, got, want, e)
		}
	}
}

func TestDetExpSpecialValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x    float64
		want float64
	}{
		{name: "zero", x: 0, want: 1},
		{name: "overflow", x: 710, want: math.Inf(1)},
		{name: "plus infinity", x: math.Inf(1), want: math.Inf(1)},
		{name: "underflow", x: -746, want: 0},
		{name: "minus infinity", x: math.Inf(-1), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detExp(tt.x); got != tt.want {
				t.Errorf("detExp(%v) = %v, want %v", tt.x, got, tt.want)
			}
		})
	}
	if got := detExp(math.NaN()); !math.IsNaN(got) {
		t.Errorf("detExp(NaN) = %v, want NaN", got)
	}
}

func TestDetExpm1NearZero(t *testing.T) {
	t.Parallel()
	for _, x := range []float64{1e-12, -1e-12, 1e-6, -3e-4, 0.2, -0.34, 0.5, -2, -40} {
		got, want := detExpm1(x), math.Expm1(x)
		if e := relErr(got, want); e > 4e-15 {
			t.Errorf("detExpm1(%v) = %v, want %v (relative error %.3g)", x, got, want, e)
		}
	}
}

func TestDetLogMatchesMath(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	xs := []float64{1, 2, 0.5, math.Sqrt2 / 2, math.Sqrt2, 1 + 1e-12, 1 - 1e-12,
		math.MaxFloat64, 0x1p-1022, 1e-300}
	for range 20000 {
		xs = append(xs, rng.Float64(), math.Exp((rng.Float64()-0.5)*1400))
	}
	for _, x := range xs {
		if x < 0x1p-1022 {
			// math.Log on amd64 is wrong for subnormals (Go 1.26), so they
			// have a test of their own.
			continue
		}
		got, want := detLog(x), math.Log(x)
		if math.Abs(got-want) > 1e-15*math.Max(1, math.Abs(want)) {
			t.Errorf("detLog(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestDetLogSubnormal(t *testing.T) {
	t.Parallel()
	// The smallest subnormal is 2^-1074, so its logarithm is -1074 ln 2.
	want := -1074 * math.Ln2
	if got := detLog(math.SmallestNonzeroFloat64); math.Abs(got-want) > 1e-12 {
		t.Errorf("detLog(2^-1074) = %v, want %v", got, want)
	}
}

func TestDetLogSpecialValues(t *testing.T) {
	t.Parallel()
	if got := detLog(0); !math.IsInf(got, -1) {
		t.Errorf("detLog(0) = %v, want -Inf", got)
	}
	if got := detLog(math.Inf(1)); !math.IsInf(got, 1) {
		t.Errorf("detLog(+Inf) = %v, want +Inf", got)
	}
	for _, x := range []float64{-1, math.NaN()} {
		if got := detLog(x); !math.IsNaN(got) {
			t.Errorf("detLog(%v) = %v, want NaN", x, got)
		}
	}
}

func TestNormalSourceMoments(t *testing.T) {
	t.Parallel()
	s := normalSource{rng: rand.New(rand.NewPCG(1, 1))}
	const count = 200000
	var sum, sumSq, beyond2 float64
	for range count {
		v := s.next()
		sum += v
		sumSq += v * v
		if math.Abs(v) > 2 {
			beyond2++
		}
	}
	mean := sum / count
	variance := sumSq/count - mean*mean
	// The standard error of the mean is 1/sqrt(count) = 0.0022, and of the
	// variance sqrt(2/count) = 0.0032; the bounds are about 5 of them.
	if math.Abs(mean) > 0.011 {
		t.Errorf("mean = %v, want 0 within 0.011", mean)
	}
	if math.Abs(variance-1) > 0.016 {
		t.Errorf("variance = %v, want 1 within 0.016", variance)
	}
	// P(|Z| > 2) = 0.0455 for a standard normal.
	if frac := beyond2 / count; math.Abs(frac-0.0455) > 0.003 {
		t.Errorf("fraction beyond 2 = %v, want 0.0455 within 0.003", frac)
	}
}

// TestArithmeticGolden hashes the bits of the package's own arithmetic: the
// exponential and logarithm, the activations, softmax cross-entropy, the
// optimizers, the normal draws and Init. The hash was recorded on
// linux/amd64 and is the same on linux/386 and with GOAMD64=v3, where the
// compiler may fuse multiply-adds. A change of value on any platform fails
// here. Matrix products are left out, because their bits belong to the
// BLAS implementation.
func TestArithmeticGolden(t *testing.T) {
	t.Parallel()
	h := fnv.New64a()
	put32 := func(v float32) { binary.Write(h, binary.LittleEndian, math.Float32bits(v)) }
	put64 := func(v float64) { binary.Write(h, binary.LittleEndian, math.Float64bits(v)) }

	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		x := (rng.Float64() - 0.5) * 1400
		put64(detExp(x))
		put64(detExpm1(x / 1000))
		put64(detLog(math.Abs(x)))
	}
	for range 2000 {
		z := float32(rng.NormFloat64() * 6)
		put32(sigmoid(z))
		put32(tanh(z))
		dy := []float32{1.5, 1.5, 1.5, 1.5}
		y := []float32{sigmoid(z), tanh(z), z, z}
		mulDerivative(Sigmoid, dy[0:1], y[0:1])
		mulDerivative(Tanh, dy[1:2], y[1:2])
		mulDerivative(ReLU, dy[2:3], y[2:3])
		for _, v := range dy {
			put32(v)
		}
	}

	logits := make([]float32, 50*10)
	labels := make([]uint8, 50)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 20)
	}
	for i := range labels {
		labels[i] = uint8(rng.IntN(10))
	}
	dlogits := make([]float32, len(logits))
	loss, _, err := SoftmaxCrossEntropy(dlogits, logits, labels, 10, 1.0/50)
	if err != nil {
		t.Fatal(err)
	}
	put64(loss)
	for _, v := range dlogits {
		put32(v)
	}

	params := make([]float32, 1000)
	for i := range params {
		params[i] = float32(rng.NormFloat64())
	}
	adam, sgd := DefaultAdam(), &SGD{LR: 0.01, Momentum: 0.9}
	other := append([]float32(nil), params...)
	for range 5 {
		for i := range dlogits[:len(params)/2] {
			dlogits[i] = float32(rng.NormFloat64())
		}
		grad := append(dlogits[:len(params)/2:len(params)/2], dlogits[:len(params)/2]...)
		adam.Step(params, grad)
		sgd.Step(other, grad)
	}
	for i := range params {
		put32(params[i])
		put32(other[i])
	}

	normal := normalSource{rng: rng}
	for range 1000 {
		put64(normal.next())
	}
	spec, err := Preset("mnist-mlp")
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNetwork(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	n.Init(5)
	for _, v := range n.Params() {
		put32(v)
	}

	if got, want := h.Sum64(), uint64(0x8faeb26fbcb2d787); got != want {
		t.Errorf("hash of the arithmetic = %#016x, want %#016x", got, want)
	}
}

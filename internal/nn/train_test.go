package nn_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/floats"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestLossMatchesForward(t *testing.T) {
	t.Parallel()
	// A max batch of 4 makes Loss work through 10 rows in three chunks.
	n := newTestNetwork(t, "6-5relu/0.5-4sigmoid-3", 4, 1)
	big := newTestNetwork(t, "6-5relu/0.5-4sigmoid-3", 10, 1)
	x, labels := randomBatch(rand.New(rand.NewPCG(1, 1)), 10, 6, 3)

	gotLoss, gotCorrect, err := n.Loss(x, labels)
	if err != nil {
		t.Fatalf("Loss: %v", err)
	}
	logits := big.Forward(x, 10, false, nil)
	wantLoss, wantCorrect, err := nn.SoftmaxCrossEntropy(nil, logits, labels, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(gotLoss-wantLoss) > 1e-9*wantLoss || gotCorrect != wantCorrect {
		t.Errorf("Loss = %v, %d, want %v, %d", gotLoss, gotCorrect, wantLoss, wantCorrect)
	}
}

func TestLossLabelRangeNamesRow(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "2-2", 2, 1)
	x := make([]float32, 2*5)
	_, _, err := n.Loss(x, []uint8{0, 1, 1, 0, 2})
	if !errors.Is(err, nn.ErrLabelRange) {
		t.Fatalf("Loss error = %v, want one wrapping ErrLabelRange", err)
	}
	if !strings.Contains(err.Error(), "row 4 has label 2") {
		t.Errorf("Loss error = %q, want it to name row 4 and label 2", err)
	}
}

func TestAccumulateGradientMatchesSteps(t *testing.T) {
	t.Parallel()
	a := newTestNetwork(t, "6-5relu/0.5-4tanh-3", 8, 1)
	b := newTestNetwork(t, "6-5relu/0.5-4tanh-3", 8, 1)
	x, labels := randomBatch(rand.New(rand.NewPCG(1, 1)), 8, 6, 3)

	gotLoss, gotCorrect, err := a.AccumulateGradient(x, labels, 0.125, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatalf("AccumulateGradient: %v", err)
	}
	logits := b.Forward(x, 8, true, rand.New(rand.NewPCG(4, 4)))
	dlogits := make([]float32, len(logits))
	wantLoss, wantCorrect, err := nn.SoftmaxCrossEntropy(dlogits, logits, labels, 3, 0.125)
	if err != nil {
		t.Fatal(err)
	}
	b.Backward(dlogits)
	if gotLoss != wantLoss || gotCorrect != wantCorrect {
		t.Errorf("AccumulateGradient = %v, %d, want %v, %d", gotLoss, gotCorrect, wantLoss, wantCorrect)
	}
	if !floats.Equal(toFloat64(a.Grad()), toFloat64(b.Grad())) {
		t.Error("AccumulateGradient gradient differs from Forward, SoftmaxCrossEntropy and Backward")
	}

	labels[3] = 3
	before := toFloat64(a.Grad())
	if _, _, err := a.AccumulateGradient(x, labels, 0.125, rand.New(rand.NewPCG(4, 4))); !errors.Is(err, nn.ErrLabelRange) {
		t.Errorf("AccumulateGradient with label 3 of 3 classes: error = %v, want ErrLabelRange", err)
	}
	if !floats.Equal(before, toFloat64(a.Grad())) {
		t.Error("AccumulateGradient changed Grad despite a bad label")
	}
}

// TestTrainingSeparatesToyProblem trains a small network on two classes
// split by the line x0 + x1 = 0 and checks that the loss falls and the
// points end up classified.
func TestTrainingSeparatesToyProblem(t *testing.T) {
	t.Parallel()
	const rows = 64
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 0, 2*rows)
	labels := make([]uint8, 0, rows)
	for len(labels) < rows {
		a, b := rng.Float64()*4-2, rng.Float64()*4-2
		if math.Abs(a+b) < 0.2 {
			continue // keep a margin around the boundary
		}
		x = append(x, float32(a), float32(b))
		label := uint8(0)
		if a+b > 0 {
			label = 1
		}
		labels = append(labels, label)
	}

	n := newTestNetwork(t, "2-8tanh/0.1-8relu-2", rows, 1)
	opt := nn.DefaultAdam()
	opt.LR = 0.02
	first, _, err := n.Loss(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	masks := rand.New(rand.NewPCG(2, 2))
	for range 300 {
		n.ZeroGrad()
		if _, _, err := n.AccumulateGradient(x, labels, 1.0/rows, masks); err != nil {
			t.Fatal(err)
		}
		opt.Step(n.Params(), n.Grad())
	}
	last, correct, err := n.Loss(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	if last > first/4 {
		t.Errorf("mean loss went from %.4f to %.4f, want a fall to below a quarter", first/rows, last/rows)
	}
	if correct < rows*95/100 {
		t.Errorf("correct = %d of %d after training, want at least 95%%", correct, rows)
	}
}

// tiledBLAS computes Sgemm with gonum's kernel in tiles of at most 64×64
// outputs, which gonum runs on the calling goroutine. gonum splits larger
// products across goroutines, which allocates, so the allocation test uses
// this implementation to measure what the network itself allocates.
type tiledBLAS struct {
	gonum.Implementation
}

func (tiledBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	const tile = 64
	for i := 0; i < m; i += tile {
		aOff := i * lda // rows of A
		if tA != blas.NoTrans {
			aOff = i // columns of the stored A
		}
		for j := 0; j < n; j += tile {
			bOff := j // columns of B
			if tB != blas.NoTrans {
				bOff = j * ldb // rows of the stored B
			}
			gonum.Implementation{}.Sgemm(tA, tB, min(tile, m-i), min(tile, n-j), k, alpha,
				a[aOff:], lda, b[bOff:], ldb, beta, c[i*ldc+j:], ldc)
		}
	}
}

func TestTiledBLASMatchesGonum(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	const m, n, k = 130, 70, 90
	random := func(size int) []float32 {
		s := make([]float32, size)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	a, b := random(m*k), random(k*n)
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			lda, ldb := k, n
			if tA == blas.Trans {
				lda = m
			}
			if tB == blas.Trans {
				ldb = k
			}
			want, got := random(m*n), make([]float32, m*n)
			copy(got, want)
			gonum.Implementation{}.Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0.5, want, n)
			tiledBLAS{}.Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0.5, got, n)
			if !floats.EqualApprox(toFloat64(got), toFloat64(want), 1e-4) {
				t.Errorf("tiled Sgemm(%c, %c) differs from gonum", tA, tB)
			}
		}
	}
}

// trainStep returns one full training step on a fixed batch.
func trainStep(t testing.TB, spec string, rows int, opt nn.Optimizer) func() {
	t.Helper()
	n := newTestNetwork(t, spec, rows, 1)
	x, labels := randomBatch(rand.New(rand.NewPCG(1, 1)), rows, n.Spec().Inputs, n.Classes())
	masks := rand.New(rand.NewPCG(2, 2))
	scale := 1 / float32(rows)
	return func() {
		n.ZeroGrad()
		if _, _, err := n.AccumulateGradient(x, labels, scale, masks); err != nil {
			t.Fatal(err)
		}
		opt.Step(n.Params(), n.Grad())
	}
}

// TestTrainStepAllocatesNothing is not parallel because it installs a BLAS
// implementation for the whole process. Parallel tests start only after it
// has restored the previous one.
func TestTrainStepAllocatesNothing(t *testing.T) {
	small := []struct {
		name string
		spec string
		opt  nn.Optimizer
	}{
		{name: "adam dropout", spec: "20-16relu/0.5-12sigmoid-8tanh/0.2-4", opt: nn.DefaultAdam()},
		{name: "sgd", spec: "20-16relu-4", opt: &nn.SGD{LR: 0.1, Momentum: 0.9}},
	}
	// These products are small enough for gonum to stay on one goroutine.
	for _, tt := range small {
		step := trainStep(t, tt.spec, 16, tt.opt)
		step() // The first optimizer step allocates its state.
		if allocs := testing.AllocsPerRun(20, step); allocs != 0 {
			t.Errorf("%s: training step allocates %v times, want 0", tt.name, allocs)
		}
	}

	// gonum runs larger products on several goroutines, which allocates,
	// so with gonum these run on tiledBLAS. OpenBLAS runs them itself.
	if nn.BLAS() == "gonum" {
		previous := blas32.Implementation()
		blas32.Use(tiledBLAS{})
		defer blas32.Use(previous)
	}
	for _, spec := range []string{"mnist-mlp", "3072-64sigmoid/0.2-64relu-10"} {
		step := trainStep(t, spec, 64, nn.DefaultAdam())
		step()
		if allocs := testing.AllocsPerRun(3, step); allocs != 0 {
			t.Errorf("%s, batch 64: training step allocates %v times, want 0", spec, allocs)
		}
	}
}

// BenchmarkTrainStep measures one step of Forward, SoftmaxCrossEntropy,
// Backward and Adam with the installed BLAS implementation.
func BenchmarkTrainStep(b *testing.B) {
	for _, spec := range []string{"mnist-mlp", "cifar10-mlp"} {
		for _, rows := range []int{64, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", spec, rows), func(b *testing.B) {
				step := trainStep(b, spec, rows, nn.DefaultAdam())
				step()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					step()
				}
				b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}

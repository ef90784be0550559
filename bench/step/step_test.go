package step_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/nn"
)

// dataRoot returns RINGTRAIN_TEST_DATA, a folder holding mnist/ and
// cifar-10-binary.tar.gz, or skips when it is unset.
func dataRoot(tb testing.TB) string {
	tb.Helper()
	root := os.Getenv("RINGTRAIN_TEST_DATA")
	if root == "" {
		tb.Skip("RINGTRAIN_TEST_DATA is unset: set it to a folder holding mnist/ and cifar-10-binary.tar.gz")
	}
	// go test runs in the package folder; a relative path is meant from
	// the module root, two levels up.
	if !filepath.IsAbs(root) {
		if _, err := os.Stat(root); err != nil {
			root = filepath.Join("..", "..", root)
		}
	}
	return root
}

var (
	loadMu sync.Mutex
	loaded = map[string]*dataset.Dataset{}
)

// load reads a dataset once per test binary, because decompressing CIFAR-10
// takes seconds.
func load(tb testing.TB, name string) *dataset.Dataset {
	tb.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if d, ok := loaded[name]; ok {
		return d
	}
	opts := dataset.Options{DataDir: dataRoot(tb), Logger: slog.New(slog.DiscardHandler)}
	d, err := dataset.Load(context.Background(), name, opts)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	loaded[name] = d
	return d
}

// trainer runs training steps of one network over one training split with
// inputs scaled to [0, 1], the scaling of the PyTorch reference.
type trainer struct {
	net    *nn.Network
	opt    *nn.Adam
	split  *dataset.Split
	batch  int
	order  []int // the epoch's permutation of sample indices
	next   int   // position in order of the next batch
	rng    *rand.Rand
	pixels []uint8
	x      []float32
	labels []uint8
}

func newTrainer(tb testing.TB, preset string, split *dataset.Split, batch int) *trainer {
	tb.Helper()
	spec, err := nn.Preset(preset)
	if err != nil {
		tb.Fatalf("Preset(%q): %v", preset, err)
	}
	net, err := nn.NewNetwork(spec, batch)
	if err != nil {
		tb.Fatalf("NewNetwork(%s, %d): %v", preset, batch, err)
	}
	net.Init(1)
	dim := split.Dim()
	return &trainer{
		net:    net,
		opt:    nn.DefaultAdam(),
		split:  split,
		batch:  batch,
		rng:    rand.New(rand.NewPCG(1, 1)),
		pixels: make([]uint8, batch*dim),
		x:      make([]float32, batch*dim),
		labels: make([]uint8, batch),
	}
}

// step gathers the next batch of the shuffled order, decodes it and takes
// one Adam step on it. It returns the batch's mean loss.
func (tr *trainer) step(tb testing.TB) float64 {
	if tr.next+tr.batch > len(tr.order) {
		// Shuffle in place, so that a new epoch allocates nothing.
		if tr.order == nil {
			tr.order = make([]int, tr.split.N)
		}
		for i := range tr.order {
			tr.order[i] = i
		}
		tr.rng.Shuffle(len(tr.order), func(i, j int) { tr.order[i], tr.order[j] = tr.order[j], tr.order[i] })
		tr.next = 0
	}
	dim := tr.split.Dim()
	for row, i := range tr.order[tr.next : tr.next+tr.batch] {
		copy(tr.pixels[row*dim:(row+1)*dim], tr.split.Sample(i))
		tr.labels[row] = tr.split.Labels[i]
	}
	tr.next += tr.batch
	dataset.Normalization{}.Decode(tr.x, tr.pixels, dim, tr.split.Channels)

	tr.net.ZeroGrad()
	loss, _, err := tr.net.AccumulateGradient(tr.x, tr.labels, 1/float32(tr.batch), tr.rng)
	if err != nil {
		tb.Fatalf("AccumulateGradient: %v", err)
	}
	tr.opt.Step(tr.net.Params(), tr.net.Grad())
	return loss / float64(tr.batch)
}

// TestStepLowersMNISTLoss checks that the benchmarked loop trains: the mean
// loss of 20 batches after 300 steps is below that of the first 20.
func TestStepLowersMNISTLoss(t *testing.T) {
	data := load(t, "mnist")
	tr := newTrainer(t, "mnist-mlp", &data.Train, 64)
	mean := func() float64 {
		var sum float64
		for range 20 {
			sum += tr.step(t)
		}
		return sum / 20
	}
	first := mean()
	for range 300 {
		tr.step(t)
	}
	if later := mean(); !(later < first/2) {
		t.Errorf("mean loss after 300 steps = %.3f, want below half of the first 20 steps' %.3f", later, first)
	}
}

// BenchmarkTrainStepData measures one training step of each preset on its
// own dataset at batches 64 and 256: gathering the batch, decoding its
// bytes, Forward, SoftmaxCrossEntropy, Backward and Adam.
func BenchmarkTrainStepData(b *testing.B) {
	for _, tt := range []struct{ preset, dataset string }{
		{"mnist-mlp", "mnist"},
		{"cifar10-mlp", "cifar10"},
	} {
		for _, batch := range []int{64, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", tt.preset, batch), func(b *testing.B) {
				tr := newTrainer(b, tt.preset, &load(b, tt.dataset).Train, batch)
				// Warm up past the first optimizer step, which allocates
				// Adam's state.
				for range 5 {
					tr.step(b)
				}
				b.ReportAllocs()
				for b.Loop() {
					tr.step(b)
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}

package worker

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/nn"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// TestEvaluateMatchesNetworkLoss checks that an Evaluate request of more
// rows than the replica's batch limit, and not a multiple of it, returns
// the same bits as nn's Loss over all rows at once.
func TestEvaluateMatchesNetworkLoss(t *testing.T) {
	t.Parallel()
	const model = "784-30relu-10"
	spec, err := nn.ResolveSpec(model)
	if err != nil {
		t.Fatalf("ResolveSpec(%q): %v", model, err)
	}
	job := &ringtrainpb.JobSpec{
		JobId: "job", Model: model, Dataset: "mnist", Classes: 10, Channels: 1, Height: 28, Width: 28,
		Optimizer: "adam", LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Seed: 3,
		BatchSize: 64, ParamCount: uint64(spec.ParamCount()),
	}
	r, err := newReplica(job)
	if err != nil {
		t.Fatalf("newReplica: %v", err)
	}
	r.initialize()
	w := &Worker{cfg: Config{Name: "w1"}, generation: 1, replica: r}

	const rows = 600 // more than 2 batches of maxBatch, with a short last one
	if rows <= 2*r.maxBatch || rows%r.maxBatch == 0 {
		t.Fatalf("rows = %d with maxBatch %d does not cover a short last chunk", rows, r.maxBatch)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	pixels := make([]byte, rows*r.dim)
	labels := make([]byte, rows)
	for i := range pixels {
		pixels[i] = byte(rng.IntN(256))
	}
	for i := range labels {
		labels[i] = byte(rng.IntN(10))
	}
	req := &ringtrainpb.EvaluateRequest{
		Generation: 1,
		Samples:    &ringtrainpb.Samples{Count: rows, Pixels: pixels, Labels: labels},
	}
	resp, err := w.Evaluate(context.Background(), req)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}

	net, err := nn.NewNetwork(spec, r.maxBatch)
	if err != nil {
		t.Fatalf("NewNetwork: %v", err)
	}
	net.Init(job.GetSeed())
	x := make([]float32, rows*r.dim)
	dataset.Normalization{}.Decode(x, pixels, r.dim, 1)
	wantLoss, wantCorrect, err := net.Loss(x, labels)
	if err != nil {
		t.Fatalf("Loss: %v", err)
	}
	if resp.GetLossSum() != wantLoss {
		t.Errorf("Evaluate loss sum = %v, want %v", resp.GetLossSum(), wantLoss)
	}
	if int(resp.GetCorrect()) != wantCorrect {
		t.Errorf("Evaluate correct = %d, want %d", resp.GetCorrect(), wantCorrect)
	}
	if resp.GetCount() != rows {
		t.Errorf("Evaluate count = %d, want %d", resp.GetCount(), rows)
	}
}

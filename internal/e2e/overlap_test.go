package e2e_test

import (
	"context"
	"testing"
)

// overlapModel has four layers of 50,240, 33,280, 262,656 and 5,130
// values, which make two buckets: the last two layers and the first two.
const overlapModel = "784-64relu/0.1-512relu-512sigmoid-10"

// TestOverlapSameModel trains the same fast-mode job twice on three
// workers: once summing each bucket of layers while the backward pass
// goes on, once after the whole backward pass. Overlapped collectives run
// while backward still writes the first layer's gradient. Both runs must
// end with the same parameters, bit for bit.
func TestOverlapSameModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two jobs; skipped with -short")
	}
	cfg := quickConfig(t)
	cfg.Model = overlapModel
	cfg.Epochs = 1
	cfg.TrainSamples = 3000 // 47 steps; the last batch of 56 samples splits 19, 19, 18
	cfg.TestSamples = 1000

	overlapped := runLocalJob(t, cfg, 3)
	checkHistory(t, overlapped, 1, 3000, 0.7)
	if got := overlapped.Workers; len(got) != 3 {
		t.Fatalf("status lists %d workers, want 3", len(got))
	}
	for _, w := range overlapped.Workers {
		t.Logf("worker %s: compute %.3f ms, all-reduce %.3f ms, overlapped %.3f ms a step",
			w.ID, w.ComputeSeconds*1e3, w.AllReduceSeconds*1e3, w.OverlapSeconds*1e3)
	}

	cfg.ReduceAfterBackward = true
	sequential := runLocalJob(t, cfg, 3)
	if sequential.Fingerprint == "" || sequential.Fingerprint != overlapped.Fingerprint {
		t.Errorf("fingerprint after backward = %q, overlapped = %q, want the same", sequential.Fingerprint, overlapped.Fingerprint)
	}
	if sequential.Step != overlapped.Step {
		t.Errorf("steps after backward = %d, overlapped = %d, want the same", sequential.Step, overlapped.Step)
	}
	for _, w := range sequential.Workers {
		if w.OverlapSeconds != 0 {
			t.Errorf("worker %s reducing after backward reports %g s of overlap, want 0", w.ID, w.OverlapSeconds)
		}
	}
}

// TestOverlapWorkerKilled kills one of three worker processes while they
// sum buckets during the backward pass. The survivors must abandon the
// step, whichever bucket was in flight, and finish the job with one step
// per batch and identical replicas.
func TestOverlapWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	s := runWithKilledWorker(t, ctx, 30, 2,
		"--model", overlapModel, "--epochs", "1", "--train-samples", "6000", "--test-samples", "1000")
	checkHistory(t, s, 1, 6000, 0.7)
	checkStepCount(t, s, 1, 6000)
	if failures := countFailures(s); failures == 0 {
		t.Error("history counts no failure, want the killed worker's")
	}
	checkReplicas(t, ctx, s)
}

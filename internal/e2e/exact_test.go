package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringtrain/ringtrain/internal/coordinator"
)

// exactConfig is a quick exact-mode MNIST job on loopback. Its 3000
// training samples make 47 steps, and the last batch of 56 samples ends
// with a micro-batch of 8. Its 3000 test samples make three evaluation
// chunks, which more than one worker share.
func exactConfig(t *testing.T) coordinator.Config {
	t.Helper()
	cfg := quickConfig(t)
	cfg.Mode = coordinator.ModeExact
	cfg.Seed = 7
	cfg.Epochs = 1
	cfg.TrainSamples = 3000
	cfg.TestSamples = 3000
	return cfg
}

// runLocalJob trains cfg to the end with n in-process workers, stops the
// workers and returns the final status.
func runLocalJob(t *testing.T, cfg coordinator.Config, n int) coordinator.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	cfg.MinWorkers = n
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	workerCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	startWorkers(t, workerCtx, n, coord.GossipAddr())
	if err := coord.Run(ctx); err != nil {
		t.Fatalf("Run with %d workers: %v", n, err)
	}
	return coord.FinalStatus()
}

// checkSameModel compares the parts of two final statuses that exact mode
// makes independent of the workers: the fingerprint, the step count and
// every epoch's training and test loss and accuracy.
func checkSameModel(t *testing.T, run string, want, got coordinator.Status) {
	t.Helper()
	if got.State != coordinator.StateFinished {
		t.Errorf("%s: state = %q, want %q", run, got.State, coordinator.StateFinished)
	}
	if got.Fingerprint == "" || got.Fingerprint != want.Fingerprint {
		t.Errorf("%s: fingerprint = %q, want %q", run, got.Fingerprint, want.Fingerprint)
	}
	if got.Step != want.Step {
		t.Errorf("%s: step = %d, want %d", run, got.Step, want.Step)
	}
	if len(got.History) != len(want.History) {
		t.Fatalf("%s: history has %d epochs, want %d", run, len(got.History), len(want.History))
	}
	for i, w := range want.History {
		g := got.History[i]
		if g.TrainLoss != w.TrainLoss || g.TrainAccuracy != w.TrainAccuracy {
			t.Errorf("%s: epoch %d train loss %v accuracy %v, want %v and %v",
				run, w.Epoch, g.TrainLoss, g.TrainAccuracy, w.TrainLoss, w.TrainAccuracy)
		}
		if g.TestLoss != w.TestLoss || g.TestAccuracy != w.TestAccuracy {
			t.Errorf("%s: epoch %d test loss %v accuracy %v, want %v and %v",
				run, w.Epoch, g.TestLoss, g.TestAccuracy, w.TestLoss, w.TestAccuracy)
		}
	}
}

func TestExactModeSameModelAnyWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("trains five jobs; skipped with -short")
	}
	tests := []struct {
		name    string
		model   string
		batch   int
		workers []int
	}{
		{name: "mnist-mlp", workers: []int{1, 2, 3}},
		// Two micro-batches a step leave one of three workers idle, and
		// dropout masks must not depend on which worker draws them.
		{name: "dropout, idle worker", model: "784-100relu/0.3-60sigmoid/0.2-10", batch: 32, workers: []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := exactConfig(t)
			cfg.Model = tt.model
			if tt.batch > 0 {
				cfg.BatchSize = tt.batch
			}
			want := runLocalJob(t, cfg, tt.workers[0])
			if want.Mode != coordinator.ModeExact || want.MicroBatch != 16 {
				t.Errorf("status mode %q micro-batch %d, want exact and 16", want.Mode, want.MicroBatch)
			}
			checkHistory(t, want, 1, 3000, 0.7)
			t.Logf("%d worker: fingerprint %s, train loss %v", tt.workers[0], want.Fingerprint, want.History[0].TrainLoss)
			for _, n := range tt.workers[1:] {
				got := runLocalJob(t, cfg, n)
				checkSameModel(t, fmt.Sprintf("%d workers", n), want, got)
			}
		})
	}
}

func TestExactModeResumeWithMoreWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three jobs; skipped with -short")
	}
	cfg := exactConfig(t)
	cfg.TrainSamples = 6000 // 94 steps
	want := runLocalJob(t, cfg, 1)

	// Two workers train until a checkpoint of step 30 or later is written,
	// then the coordinator and the workers stop.
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "checkpoints")
	cfg.CheckpointEvery = 10
	cfg.MinWorkers = 2
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	firstCtx, stopFirst := context.WithCancel(ctx)
	first, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	startWorkers(t, firstCtx, 2, first.GossipAddr())
	done := runAsync(firstCtx, first)
	s := waitStatus(t, ctx, first.HTTPAddr(), "a checkpoint of step 30", func(s coordinator.Status) bool {
		return (s.LastCheckpoint != nil && s.LastCheckpoint.Step >= 30) || s.State == coordinator.StateFinished
	})
	stopFirst()
	<-done
	if s.State == coordinator.StateFinished || s.Step >= want.Step {
		t.Fatalf("the first job reached step %d of %d before it was stopped, want it stopped mid-epoch", s.Step, want.Step)
	}
	t.Logf("first job stopped after the checkpoint of step %d", s.LastCheckpoint.Step)

	// Three new workers resume from the checkpoint folder.
	got := runLocalJob(t, cfg, 3)
	resumed := false
	for _, e := range got.Events {
		resumed = resumed || strings.HasPrefix(e.Message, "resumed from checkpoint")
	}
	if !resumed {
		t.Error("events of the second job name no resume from a checkpoint")
	}
	checkSameModel(t, "2 then 3 workers", want, got)
}

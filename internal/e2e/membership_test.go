package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/worker"
)

// runAsync runs the coordinator and returns the channel its result arrives on.
func runAsync(ctx context.Context, c *coordinator.Coordinator) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return done
}

func TestWorkerJoinsMidTraining(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cfg := quickConfig(t)
	cfg.Epochs = 1
	cfg.MinWorkers = 1
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	startWorkers(t, ctx, 1, coord.GossipAddr())
	done := runAsync(ctx, coord)

	waitStatus(t, ctx, coord.HTTPAddr(), "step 10", func(s coordinator.Status) bool { return s.Step >= 10 })
	joiner, err := worker.New(worker.Config{
		Name: "late", GRPCAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
		Join: []string{coord.GossipAddr()}, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("worker.New: %v", err)
	}
	go joiner.Run(ctx)
	// The joiner received m, v and t: had it not, its first fingerprint
	// would differ from the other worker's and the job would stop.
	s := waitStatus(t, ctx, coord.HTTPAddr(), "a ring of two", func(s coordinator.Status) bool {
		training := 0
		for _, w := range s.Workers {
			if w.State == coordinator.WorkerTraining {
				training++
			}
		}
		return training == 2 && s.Step > 10
	})
	t.Logf("second worker in the ring at step %d, generation %d", s.Step, s.Generation)

	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	s = coordStatus(t, coord)
	if s.Generation < 2 {
		t.Errorf("generation = %d, want at least 2 after a join", s.Generation)
	}
	checkHistory(t, s, 1, 6000, 0.7)
	// The joiner received t with m and v, so its t also counts the steps
	// taken before it joined.
	checkReplicas(t, ctx, s)
	joiner.Kill()
}

func TestMinWorkersPausesJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cfg := quickConfig(t)
	cfg.Epochs = 1
	cfg.MinWorkers = 2
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	workers := startWorkers(t, ctx, 2, coord.GossipAddr())
	done := runAsync(ctx, coord)

	waitStatus(t, ctx, coord.HTTPAddr(), "step 20", func(s coordinator.Status) bool { return s.Step >= 20 })
	workers[1].Kill()
	paused := waitStatus(t, ctx, coord.HTTPAddr(), "the job waiting", func(s coordinator.Status) bool { return s.State == coordinator.StateWaiting })
	time.Sleep(500 * time.Millisecond)
	again := waitStatus(t, ctx, coord.HTTPAddr(), "the job still waiting", func(s coordinator.Status) bool { return s.State == coordinator.StateWaiting })
	if again.Step != paused.Step {
		t.Errorf("step moved from %d to %d while below the minimum of workers", paused.Step, again.Step)
	}

	replacement, err := worker.New(worker.Config{
		Name: "replacement", GRPCAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
		Join: []string{coord.GossipAddr()}, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("worker.New: %v", err)
	}
	go replacement.Run(ctx)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	replacement.Kill()
	checkHistory(t, coordStatus(t, coord), 1, 6000, 0.7)
}

// coordStatus returns the final status of a coordinator whose Run has
// returned, from its history file.
func coordStatus(t *testing.T, c *coordinator.Coordinator) coordinator.Status {
	t.Helper()
	return c.FinalStatus()
}

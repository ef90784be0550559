package e2e_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/checkpoint"
	"github.com/ringtrain/ringtrain/internal/coordinator"
)

func TestStopWritesFinalCheckpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cfg := quickConfig(t)
	cfg.Epochs = 5
	cfg.CheckpointDir = t.TempDir()
	cfg.CheckpointEvery = 100000
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	startWorkers(t, ctx, 2, coord.GossipAddr())
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := runAsync(runCtx, coord)

	waitStatus(t, ctx, coord.HTTPAddr(), "step 20", func(s coordinator.Status) bool { return s.Step >= 20 })
	stop()
	err = <-done
	if !errors.Is(err, coordinator.ErrStopped) {
		t.Fatalf("Run after cancel = %v, want ErrStopped", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want it to wrap context.Canceled", err)
	}

	s := coord.FinalStatus()
	if s.State != coordinator.StateStopped {
		t.Errorf("final state = %q, want %q", s.State, coordinator.StateStopped)
	}
	for _, w := range s.Workers {
		if w.State != coordinator.WorkerIdle {
			t.Errorf("worker %s state = %q after the job, want %q", w.ID, w.State, coordinator.WorkerIdle)
		}
	}
	if s.LastCheckpoint == nil || s.LastCheckpoint.Step != s.Step {
		t.Fatalf("last checkpoint = %+v, want one at the final step %d", s.LastCheckpoint, s.Step)
	}
	ck, err := checkpoint.Read(s.LastCheckpoint.Path)
	if err != nil {
		t.Fatalf("read final checkpoint: %v", err)
	}
	if ck.Header.Step != s.Step {
		t.Errorf("final checkpoint holds step %d, want %d", ck.Header.Step, s.Step)
	}
}

func TestCoordinatorSIGTERMExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a process; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	args := coordinatorArgs(t, "127.0.0.1:0", httpAddr, dir,
		"--local-workers", "2", "--epochs", "5", "--checkpoint-dir", filepath.Join(dir, "checkpoints"))
	coord := startProcess(t, "coordinator", filepath.Join(bin, "coordinator"), args...)

	waitStatus(t, ctx, httpAddr, "step 20", func(s coordinator.Status) bool { return s.Step >= 20 })
	if err := coord.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	waitExit(t, ctx, coord, "coordinator")

	s := readHistory(t, dir)
	if s.State != coordinator.StateStopped {
		t.Errorf("history state = %q, want %q", s.State, coordinator.StateStopped)
	}
	if s.LastCheckpoint == nil || s.LastCheckpoint.Step != s.Step {
		t.Errorf("last checkpoint = %+v, want one at the final step %d", s.LastCheckpoint, s.Step)
	}
}

// checkpointLog records the step of every "checkpoint written" log record.
type checkpointLog struct {
	mu    *sync.Mutex
	steps *[]uint64
}

func (h checkpointLog) Enabled(context.Context, slog.Level) bool { return true }

func (h checkpointLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "checkpoint written" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "step" {
			h.mu.Lock()
			*h.steps = append(*h.steps, a.Value.Uint64())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h checkpointLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h checkpointLog) WithGroup(string) slog.Handler      { return h }

// With --checkpoint-every equal to the steps of an epoch, the periodic
// checkpoint falls on the epoch's last step, where the checkpoint after
// the evaluation is written anyway.
func TestCheckpointEveryEpochWrittenOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cfg := quickConfig(t)
	cfg.CheckpointDir = t.TempDir()
	perEpoch := (cfg.TrainSamples + cfg.BatchSize - 1) / cfg.BatchSize
	cfg.CheckpointEvery = perEpoch
	cfg.CheckpointKeep = 10
	var (
		mu    sync.Mutex
		steps []uint64
	)
	cfg.Logger = slog.New(checkpointLog{mu: &mu, steps: &steps})
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	startWorkers(t, ctx, 2, coord.GossipAddr())
	if err := coord.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []uint64{0, uint64(perEpoch), uint64(2 * perEpoch)}
	if !slices.Equal(steps, want) {
		t.Errorf("checkpoints written at steps %v, want %v", steps, want)
	}
}

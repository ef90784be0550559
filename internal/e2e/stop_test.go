package e2e_test

import (
	"context"
	"errors"
	"path/filepath"
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

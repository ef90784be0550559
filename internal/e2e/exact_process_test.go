package e2e_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/coordinator"
)

func TestExactModeWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	bin := buildCommands(t)
	// 9600 samples make 150 steps, so the kill at step 100 comes mid-epoch.
	job := []string{"--mode", "exact", "--seed", "7", "--epochs", "1", "--train-samples", "9600", "--test-samples", "1000"}

	// The reference: one worker inside the coordinator's process.
	refDir := t.TempDir()
	ref := startProcess(t, "reference coordinator", filepath.Join(bin, "coordinator"),
		coordinatorArgs(t, freeAddr(t), freeAddr(t), refDir, append(job, "--local-workers", "1")...)...)
	waitExit(t, ctx, ref, "reference coordinator")
	want := readHistory(t, refDir)

	// Three worker processes, one of which is killed after step 100.
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	workers := startWorkerProcesses(t, bin, gossip, 3)
	coord := startProcess(t, "coordinator", filepath.Join(bin, "coordinator"),
		coordinatorArgs(t, gossip, httpAddr, dir, append(job, "--min-workers", "2")...)...)
	// A worker that joins after the first two forms a new generation too,
	// so the one after the kill is counted from the one at the kill.
	before := waitStatus(t, ctx, httpAddr, "step 100", func(s coordinator.Status) bool { return s.Step >= 100 })
	killed := time.Now()
	if err := workers[1].cmd.Process.Kill(); err != nil {
		t.Fatalf("kill worker: %v", err)
	}
	s := waitStatus(t, ctx, httpAddr, "a new generation", func(s coordinator.Status) bool {
		return s.Generation > before.Generation || s.State == coordinator.StateFinished
	})
	t.Logf("killed at step %d; generation %d at step %d, %v later",
		before.Step, s.Generation, s.Step, time.Since(killed).Round(time.Millisecond))

	waitExit(t, ctx, coord, "coordinator")
	got := readHistory(t, dir)
	if got.Generation <= before.Generation {
		t.Errorf("generation = %d, want above %d, the generation at the kill", got.Generation, before.Generation)
	}
	checkSameModel(t, "3 workers, one killed", want, got)
	failures := 0
	for _, h := range got.History {
		failures += h.Failures
	}
	t.Logf("fingerprint %s in both runs; %d steps abandoned and run again", got.Fingerprint, failures)
}

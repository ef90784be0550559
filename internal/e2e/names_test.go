package e2e_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/coordinator"
)

const (
	// rejoinDeadline bounds the wait for a worker restarted on new ports to
	// be back in the ring.
	rejoinDeadline = 25 * time.Second
	// rejectDeadline bounds the wait for a worker under a name in use to
	// exit. The coordinator rejects it on its first registration.
	rejectDeadline = 30 * time.Second
)

// workerRow returns the /status row of the worker name.
func workerRow(t *testing.T, s coordinator.Status, name string) coordinator.WorkerStatus {
	t.Helper()
	for _, w := range s.Workers {
		if w.ID == name {
			return w
		}
	}
	t.Fatalf("status lists no worker %s", name)
	return coordinator.WorkerStatus{}
}

// lastRing returns the workers of the newest generation in s.
func lastRing(s coordinator.Status) []string {
	if len(s.Generations) == 0 {
		return nil
	}
	return s.Generations[len(s.Generations)-1].Workers
}

func TestWorkerRestartedOnNewPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs, kills and restarts processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	workers := startWorkerProcesses(t, bin, gossip, 3)
	// With --min-workers 3 the job waits for proc-2 to come back, so the
	// test does not race the end of the job.
	coord := startProcess(t, "coordinator", filepath.Join(bin, "coordinator"), coordinatorArgs(t, gossip, httpAddr, dir,
		"--epochs", "2", "--train-samples", "12000", "--test-samples", "2000", "--min-workers", "3")...)

	before := waitStatus(t, ctx, httpAddr, "step 100", func(s coordinator.Status) bool { return s.Step >= 100 })
	oldAddr := workerRow(t, before, "proc-2").Address
	killed := time.Now()
	if err := workers[1].cmd.Process.Kill(); err != nil {
		t.Fatalf("kill proc-2: %v", err)
	}
	waitStatus(t, ctx, httpAddr, "the job waiting for a third worker", func(s coordinator.Status) bool {
		return s.State == coordinator.StateWaiting
	})

	// The same command again: new gRPC and gossip ports, under the name
	// that memberlist still gives to the killed process.
	restarted := time.Now()
	startProcess(t, "restarted proc-2", filepath.Join(bin, "worker"), workerArgs("proc-2", gossip)...)
	// memberlist v0.7.0 drops a dead node 30s or more after its death and
	// then accepts its name from any address, so only a deadline below that
	// shows that the name moved as soon as the killed process was declared
	// dead. With --probe-interval 500ms that takes an estimated 14s at
	// most, then 1s of DeadNodeReclaimTime and a registration retry.
	rejoinCtx, cancelRejoin := context.WithTimeout(ctx, rejoinDeadline)
	defer cancelRejoin()
	s := waitStatus(t, rejoinCtx, httpAddr, "proc-2 back in the ring", func(s coordinator.Status) bool {
		return s.State == coordinator.StateTraining && slices.Contains(lastRing(s), "proc-2") && s.Step > before.Step
	})
	t.Logf("proc-2 back in the ring %v after the SIGKILL, %v after its restart",
		time.Since(killed).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	if got := workerRow(t, s, "proc-2").Address; got == oldAddr {
		t.Errorf("proc-2 back at its old address %s, want the restarted process's new one", got)
	}

	waitExit(t, ctx, coord, "coordinator")
	s = readHistory(t, dir)
	checkHistory(t, s, 2, 12000, 0.85)
	checkStepCount(t, s, 2, 12000)
	row := workerRow(t, s, "proc-2")
	// A finished job marks the workers of its last ring idle; a failed or
	// departed worker keeps its own state.
	if row.State != coordinator.WorkerIdle {
		t.Errorf("proc-2 ends in state %q, want %q", row.State, coordinator.WorkerIdle)
	}
	if row.Step != s.Step {
		t.Errorf("proc-2 ends at step %d, want the job's %d", row.Step, s.Step)
	}
	// The restarted process started empty, so it holds the job's
	// fingerprint and Adam's t only if it received both.
	checkReplicas(t, ctx, s)
}

func TestDuplicateNameRejected(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	startWorkerProcesses(t, bin, gossip, 3)
	coord := startProcess(t, "coordinator", filepath.Join(bin, "coordinator"), coordinatorArgs(t, gossip, httpAddr, dir,
		"--epochs", "3", "--train-samples", "12000", "--test-samples", "2000", "--min-workers", "3")...)

	before := waitStatus(t, ctx, httpAddr, "step 50", func(s coordinator.Status) bool { return s.Step >= 50 })
	holder := workerRow(t, before, "proc-2").Address
	duplicate := startProcess(t, "duplicate proc-2", filepath.Join(bin, "worker"), workerArgs("proc-2", gossip)...)
	var exitErr error
	select {
	case exitErr = <-duplicate.done:
		duplicate.done <- exitErr
	case <-time.After(rejectDeadline):
		t.Fatalf("the duplicate proc-2 still runs after %v, want it to exit on the rejected registration", rejectDeadline)
	}
	var exit *exec.ExitError
	if !errors.As(exitErr, &exit) || exit.ExitCode() != 1 {
		t.Errorf("duplicate exited with %v, want exit status 1", exitErr)
	}
	logs := duplicate.logs.String()
	for _, want := range []string{`"proc-2"`, holder, "--name"} {
		if !strings.Contains(logs, want) {
			t.Errorf("duplicate's output does not contain %q:\n%s", want, tail(logs, 2000))
		}
	}
	if strings.Contains(logs, "registered with coordinator") {
		t.Error("duplicate logged a successful registration")
	}
	after := waitStatus(t, ctx, httpAddr, "50 more steps", func(s coordinator.Status) bool {
		return s.Step >= before.Step+50 || s.State == coordinator.StateFinished
	})
	if after.State == coordinator.StateFinished {
		t.Fatal("the job finished before the test saw it train on after the duplicate; lengthen the job")
	}

	waitExit(t, ctx, coord, "coordinator")
	s := readHistory(t, dir)
	checkHistory(t, s, 3, 12000, 0.85)
	checkStepCount(t, s, 3, 12000)
	if failures := countFailures(s); failures != 0 {
		t.Errorf("history counts %d failures, want none: the duplicate disturbed the ring", failures)
	}
	for _, g := range s.Generations {
		if !slices.Contains(g.Workers, "proc-2") {
			t.Errorf("generation %d (%s) is without proc-2, want the healthy proc-2 in every ring", g.Generation, g.Reason)
		}
	}
	row := workerRow(t, s, "proc-2")
	if row.Address != holder {
		t.Errorf("proc-2 ends at %s, want the healthy process's %s", row.Address, holder)
	}
	// A finished job marks the workers of its last ring idle; a failed or
	// departed worker keeps its own state.
	if row.State != coordinator.WorkerIdle {
		t.Errorf("proc-2 ends in state %q, want %q", row.State, coordinator.WorkerIdle)
	}
	if row.Step != s.Step {
		t.Errorf("proc-2 ends at step %d, want the job's %d", row.Step, s.Step)
	}
	rejected := false
	for _, e := range s.Events {
		rejected = rejected || strings.Contains(e.Message, "the name is in use")
	}
	if !rejected {
		t.Error("events name no rejected registration")
	}
}

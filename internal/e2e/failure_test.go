package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// process is a command of the built binaries that the test kills at its end.
type process struct {
	cmd  *exec.Cmd
	logs *logBuffer
	done chan error
}

// logBuffer is a bytes.Buffer safe for the writes of a running process and
// the reads of the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startProcess(t *testing.T, name string, path string, args ...string) *process {
	t.Helper()
	logs := &logBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{cmd: cmd, logs: logs, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s log (last 4000 bytes):\n%s", name, tail(logs.String(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitStatus polls /status until cond holds, and returns that document.
func waitStatus(t *testing.T, ctx context.Context, httpAddr string, what string, cond func(coordinator.Status) bool) coordinator.Status {
	t.Helper()
	for {
		if s, err := getStatus(t, httpAddr); err == nil && cond(s) {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func startWorkerProcesses(t *testing.T, bin, join string, n int) []*process {
	t.Helper()
	var procs []*process
	for i := range n {
		name := "proc-" + strconv.Itoa(i+1)
		procs = append(procs, startProcess(t, name, filepath.Join(bin, "worker"), workerArgs(name, join)...))
	}
	return procs
}

// workerArgs returns the command line of a worker process on loopback. Its
// ports are picked anew by every process started with it.
func workerArgs(name, join string) []string {
	return []string{"--name", name, "--join", join, "--grpc-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0",
		"--probe-interval", "500ms"}
}

func coordinatorArgs(t *testing.T, gossip, httpAddr, dir string, extra ...string) []string {
	t.Helper()
	args := []string{
		"--dataset", "mnist", "--grpc-addr", "127.0.0.1:0", "--http-addr", httpAddr, "--gossip-addr", gossip,
		"--history", filepath.Join(dir, "history.json"), "--probe-interval", "500ms", "--step-timeout", "5s",
	}
	if d := mnistDir(t); d != "" {
		args = append(args, "--data-dir", d)
	}
	return append(args, extra...)
}

func readHistory(t *testing.T, dir string) coordinator.Status {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "history.json"))
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	var s coordinator.Status
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("decode history: %v", err)
	}
	return s
}

func waitExit(t *testing.T, ctx context.Context, p *process, name string) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("%s exited with %v", name, err)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not finish in time", name)
	}
}

func TestWorkerKilledDuringTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	s := runWithKilledWorker(t, ctx, 100, 1,
		"--epochs", "2", "--train-samples", "12000", "--test-samples", "2000")
	if s.Generation < 2 {
		t.Errorf("generation = %d, want at least 2 after a failure", s.Generation)
	}
	checkHistory(t, s, 2, 12000, 0.85)
	checkStepCount(t, s, 2, 12000)
	if failures := countFailures(s); failures == 0 {
		t.Error("history counts no failure, want the killed worker's")
	}
	checkReplicas(t, ctx, s)
}

// runWithKilledWorker runs a coordinator process with args and three worker
// processes, SIGKILLs worker victim once step killAt has committed, waits
// for the ring to re-form and the job to end, and returns the final status.
func runWithKilledWorker(t *testing.T, ctx context.Context, killAt uint64, victim int, args ...string) coordinator.Status {
	t.Helper()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	workers := startWorkerProcesses(t, bin, gossip, 3)
	args = append(args, "--min-workers", "2")
	coord := startProcess(t, "coordinator", filepath.Join(bin, "coordinator"), coordinatorArgs(t, gossip, httpAddr, dir, args...)...)

	waitStatus(t, ctx, httpAddr, fmt.Sprintf("step %d", killAt), func(s coordinator.Status) bool { return s.Step >= killAt })
	killed := time.Now()
	if err := workers[victim].cmd.Process.Kill(); err != nil {
		t.Fatalf("kill worker: %v", err)
	}
	s := waitStatus(t, ctx, httpAddr, "a new generation", func(s coordinator.Status) bool {
		return s.Generation > 1 && s.State == coordinator.StateTraining
	})
	t.Logf("ring re-formed %v after SIGKILL, at step %d", time.Since(killed).Round(time.Millisecond), s.Step)

	waitExit(t, ctx, coord, "coordinator")
	return readHistory(t, dir)
}

func TestWorkerPausedWithoutReset(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and stops processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	workers := startWorkerProcesses(t, bin, gossip, 3)
	coord := startProcess(t, "coordinator", filepath.Join(bin, "coordinator"), coordinatorArgs(t, gossip, httpAddr, dir,
		"--epochs", "2", "--train-samples", "12000", "--test-samples", "2000", "--min-workers", "2")...)

	waitStatus(t, ctx, httpAddr, "step 100", func(s coordinator.Status) bool { return s.Step >= 100 })
	// A stopped process keeps its sockets open, so its peers get neither a
	// reset nor a FIN: only silence, as behind a cut network link. Its
	// peers must give up through their deadlines or memberlist.
	paused := time.Now()
	if err := workers[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("stop worker: %v", err)
	}
	s := waitStatus(t, ctx, httpAddr, "a ring without proc-2", func(s coordinator.Status) bool {
		if len(s.Generations) == 0 || s.State != coordinator.StateTraining {
			return false
		}
		last := s.Generations[len(s.Generations)-1]
		return last.Generation > 1 && !slices.Contains(last.Workers, "proc-2") && s.Step > last.Step
	})
	t.Logf("ring re-formed and committed a step %v after SIGSTOP, at step %d", time.Since(paused).Round(time.Millisecond), s.Step)
	if err := workers[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("continue worker: %v", err)
	}

	waitExit(t, ctx, coord, "coordinator")
	s = readHistory(t, dir)
	checkHistory(t, s, 2, 12000, 0.85)
	checkStepCount(t, s, 2, 12000)
	if failures := countFailures(s); failures == 0 {
		t.Error("history counts no failure, want the paused worker's")
	}
	checkReplicas(t, ctx, s)
}

func countFailures(s coordinator.Status) int {
	failures := 0
	for _, h := range s.History {
		failures += h.Failures
	}
	return failures
}

// checkReplicas fetches the committed state of every worker of the final
// view. Each must have the job's fingerprint and Adam's step count t equal
// to the number of committed steps: a survivor that applied an abandoned
// step, or a joiner that did not receive t, fails here.
func checkReplicas(t *testing.T, ctx context.Context, s coordinator.Status) {
	t.Helper()
	if len(s.Generations) == 0 {
		t.Fatal("final status lists no generation")
	}
	// Once the job ends its workers are idle, so the final view names them.
	final := s.Generations[len(s.Generations)-1].Workers
	members := 0
	for _, w := range s.Workers {
		if !slices.Contains(final, w.ID) {
			continue
		}
		members++
		h := fetchStateHeader(t, ctx, w.Address, s.Generation, s.Step)
		if h.GetStep() != s.Step {
			t.Errorf("worker %s is at step %d, want %d", w.ID, h.GetStep(), s.Step)
		}
		if h.GetOptimizerSteps() != int64(s.Step) {
			t.Errorf("worker %s: Adam's t = %d, want %d, one per committed step", w.ID, h.GetOptimizerSteps(), s.Step)
		}
		if got := tensor.FormatFingerprint(h.GetFingerprint()); got != s.Fingerprint {
			t.Errorf("worker %s: fingerprint %s, want the job's %s", w.ID, got, s.Fingerprint)
		}
	}
	if members == 0 {
		t.Errorf("final status lists none of the final view's workers %v", final)
	}
}

// fetchStateHeader returns the header of a worker's committed state, as
// the coordinator fetches it for a checkpoint.
func fetchStateHeader(t *testing.T, ctx context.Context, addr string, generation, step uint64) *ringtrainpb.StateHeader {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial worker %s: %v", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := ringtrainpb.NewWorkerClient(conn).FetchState(ctx, &ringtrainpb.FetchStateRequest{Generation: generation, CommittedStep: step})
	if err != nil {
		t.Fatalf("FetchState from %s: %v", addr, err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("FetchState from %s: %v", addr, err)
	}
	if first.GetHeader() == nil {
		t.Fatalf("FetchState from %s: first message has no header", addr)
	}
	return first.GetHeader()
}

func TestCoordinatorRestartResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	startWorkerProcesses(t, bin, gossip, 3)
	args := coordinatorArgs(t, gossip, httpAddr, dir,
		"--epochs", "3", "--train-samples", "6000", "--test-samples", "1000", "--min-workers", "3",
		"--checkpoint-dir", filepath.Join(dir, "checkpoints"), "--checkpoint-every", "40")

	first := startProcess(t, "first coordinator", filepath.Join(bin, "coordinator"), args...)
	before := waitStatus(t, ctx, httpAddr, "the middle of epoch 2", func(s coordinator.Status) bool {
		return s.Epoch == 2 && s.EpochSamples >= 3000
	})
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill coordinator: %v", err)
	}
	err := <-first.done
	first.done <- err
	t.Logf("coordinator killed at step %d", before.Step)

	second := startProcess(t, "second coordinator", filepath.Join(bin, "coordinator"), args...)
	waitExit(t, ctx, second, "second coordinator")
	s := readHistory(t, dir)
	if s.JobID != before.JobID {
		t.Errorf("restarted job id %q, want %q", s.JobID, before.JobID)
	}
	resumed := false
	for _, e := range s.Events {
		resumed = resumed || strings.HasPrefix(e.Message, "resumed from")
	}
	if !resumed {
		t.Error("events of the restarted coordinator name no resume")
	}
	checkHistory(t, s, 3, 6000, 0.85)
	checkStepCount(t, s, 3, 6000)
	checkResumedTrainSamples(t, s, 6000, 64)
}

// checkResumedTrainSamples checks that each epoch's train figures cover all
// its samples, except in the epoch that a restarted coordinator resumed from
// the workers' state. That epoch leaves out the samples of the steps between
// the checkpoint and the workers' step, and an event records the count.
func checkResumedTrainSamples(t *testing.T, s coordinator.Status, samples, batch int) {
	t.Helper()
	var checkpointStep, workersStep int
	var noted bool
	for _, e := range s.Events {
		if rest, ok := strings.CutPrefix(e.Message, "resumed from checkpoint at step "); ok {
			checkpointStep, _ = strconv.Atoi(rest)
		}
		if rest, ok := strings.CutPrefix(e.Message, "resumed from the workers' state at step "); ok {
			workersStep, _ = strconv.Atoi(rest)
		}
		noted = noted || strings.Contains(e.Message, "train loss and accuracy leave out")
	}
	if checkpointStep == 0 {
		t.Fatal("events of the restarted coordinator name no checkpoint step")
	}

	stepsPerEpoch := (samples + batch - 1) / batch
	resumedEpoch := checkpointStep/stepsPerEpoch + 1
	// offset returns the samples of the resumed epoch that steps up to step
	// used, as that epoch begins after the step that ends the one before.
	offset := func(step int) int {
		return min(max(step-(resumedEpoch-1)*stepsPerEpoch, 0)*batch, samples)
	}
	missing := 0
	if workersStep > 0 {
		missing = offset(workersStep) - offset(checkpointStep)
	}
	t.Logf("resumed from checkpoint at step %d, workers' state at step %d: %d samples missing from epoch %d",
		checkpointStep, workersStep, missing, resumedEpoch)

	for _, h := range s.History {
		want := samples
		if h.Epoch == resumedEpoch {
			want -= missing
		}
		if h.TrainSamples != want {
			t.Errorf("epoch %d train_samples = %d, want %d", h.Epoch, h.TrainSamples, want)
		}
	}
	if missing > 0 && !noted {
		t.Errorf("no event notes the %d samples left out of epoch %d's train figures", missing, resumedEpoch)
	}
	if missing == 0 && noted {
		t.Error("an event notes samples left out of the train figures, but the checkpoint covered all")
	}
}

// TestCoordinatorKilledDuringEvaluation kills the coordinator after an
// epoch's last step committed but before its evaluation ended, when the
// workers hold a step that no checkpoint has. The restarted coordinator
// must evaluate that epoch and go on without a step of its own.
func TestCoordinatorKilledDuringEvaluation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip, httpAddr := freeAddr(t), freeAddr(t)
	startWorkerProcesses(t, bin, gossip, 2)
	// The whole test set makes the evaluation long enough to be caught, and
	// checkpoints every 1000 steps leave only the job's first one behind.
	args := coordinatorArgs(t, gossip, httpAddr, dir,
		"--epochs", "2", "--train-samples", "6400", "--min-workers", "2",
		"--checkpoint-dir", filepath.Join(dir, "checkpoints"), "--checkpoint-every", "1000")

	first := startProcess(t, "first coordinator", filepath.Join(bin, "coordinator"), args...)
	var before coordinator.Status
	for {
		s, err := getStatus(t, httpAddr)
		if err == nil && s.State == coordinator.StateEvaluating && s.Epoch == 1 {
			before = s
			break
		}
		if err == nil && len(s.History) > 0 {
			t.Skip("epoch 1 was evaluated between two polls of /status; nothing to test in this run")
		}
		select {
		case <-ctx.Done():
			t.Fatal("timed out waiting for the evaluation of epoch 1")
		case <-time.After(2 * time.Millisecond):
		}
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill coordinator: %v", err)
	}
	err := <-first.done
	first.done <- err
	t.Logf("coordinator killed while evaluating, at step %d", before.Step)

	second := startProcess(t, "second coordinator", filepath.Join(bin, "coordinator"), args...)
	waitExit(t, ctx, second, "second coordinator")
	s := readHistory(t, dir)
	if s.State != coordinator.StateFinished {
		t.Errorf("state = %q, want %q", s.State, coordinator.StateFinished)
	}
	checkHistory(t, s, 2, 6400, 0.8)
	checkStepCount(t, s, 2, 6400)
	checkReplicas(t, ctx, s)
}

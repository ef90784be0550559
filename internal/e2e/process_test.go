package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/ringtrain/ringtrain/internal/coordinator"
)

// commands is the folder of the coordinator and worker commands, built
// once for all the tests of this binary.
var commands struct {
	sync.Once
	dir    string
	output []byte
	err    error
}

// buildCommands compiles the coordinator and worker commands on its first
// call and returns their folder.
func buildCommands(t *testing.T) string {
	t.Helper()
	commands.Do(func() {
		commands.dir, commands.err = os.MkdirTemp("", "ringtrain-e2e-bin-")
		if commands.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", commands.dir+string(os.PathSeparator),
			"github.com/ringtrain/ringtrain/cmd/coordinator", "github.com/ringtrain/ringtrain/cmd/worker")
		commands.output, commands.err = cmd.CombinedOutput()
	})
	if commands.err != nil {
		t.Fatalf("go build: %v\n%s", commands.err, commands.output)
	}
	return commands.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if commands.dir != "" {
		os.RemoveAll(commands.dir)
	}
	os.Exit(code)
}

func TestSeparateWorkerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs four processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	gossip := freeAddr(t)
	history := filepath.Join(dir, "history.json")

	// Workers first: they retry until the coordinator's gossip port opens.
	for i := range 3 {
		w := exec.CommandContext(ctx, filepath.Join(bin, "worker"),
			"--name", "proc-"+strconv.Itoa(i+1),
			"--join", gossip,
			"--grpc-addr", "127.0.0.1:0",
			"--gossip-addr", "127.0.0.1:0")
		var logs bytes.Buffer
		w.Stderr = &logs
		if err := w.Start(); err != nil {
			t.Fatalf("start worker: %v", err)
		}
		t.Cleanup(func() {
			w.Process.Kill()
			w.Wait()
			if t.Failed() {
				t.Logf("worker %d log:\n%s", i+1, logs.String())
			}
		})
	}

	args := []string{
		"--dataset", "mnist",
		"--epochs", "1",
		"--train-samples", "3000",
		"--test-samples", "1000",
		"--min-workers", "3",
		"--grpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--gossip-addr", gossip,
		"--history", history,
		"--output", filepath.Join(dir, "model.rtm"),
	}
	if d := mnistDir(t); d != "" {
		args = append(args, "--data-dir", d)
	}
	coord := exec.CommandContext(ctx, filepath.Join(bin, "coordinator"), args...)
	out, err := coord.CombinedOutput()
	if err != nil {
		t.Fatalf("coordinator exited with %v\n%s", err, out)
	}

	data, err := os.ReadFile(history)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	var s coordinator.Status
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("decode history: %v", err)
	}
	if len(s.Workers) != 3 {
		t.Errorf("history lists %d workers, want 3", len(s.Workers))
	}
	checkHistory(t, s, 1, 3000, 0.7)
}

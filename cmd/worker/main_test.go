package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// mainEnv is the environment variable that makes the test binary run main
// with its arguments in place of the tests, so a test can check what the
// command prints.
const mainEnv = "RINGTRAIN_TEST_WORKER_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestErrorLineHasOnePrefix(t *testing.T) {
	// The worker package prefixes its listen error with "worker: " itself.
	cmd := exec.Command(os.Args[0],
		"--name", "w", "--grpc-addr", "127.0.0.1:99999", "--gossip-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("worker with an invalid gRPC port exited 0, want a failure. stderr:\n%s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "worker: listen for gRPC") {
		t.Errorf("error line %q, want it to start with %q", last, "worker: listen for gRPC")
	}
	if strings.HasPrefix(last, "worker: worker: ") {
		t.Errorf("error line %q repeats the prefix", last)
	}
}

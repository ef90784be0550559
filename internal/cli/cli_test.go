package cli_test

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/cli"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	if got, want := cli.EnvName("batch-size"), "RINGTRAIN_BATCH_SIZE"; got != want {
		t.Errorf("EnvName(batch-size) = %q, want %q", got, want)
	}
}

func TestApplyEnvCommandLineWins(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	epochs := fs.Int("epochs", 10, "")
	batch := fs.Int("batch-size", 64, "")
	timeout := fs.Duration("step-timeout", time.Second, "")
	if err := fs.Parse([]string{"--epochs", "3"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RINGTRAIN_EPOCHS": "7", "RINGTRAIN_BATCH_SIZE": "256", "RINGTRAIN_STEP_TIMEOUT": "2s"}
	if err := cli.ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("ApplyEnv: %v", err)
	}
	if *epochs != 3 {
		t.Errorf("epochs = %d, want 3 from the command line", *epochs)
	}
	if *batch != 256 {
		t.Errorf("batch-size = %d, want 256 from the environment", *batch)
	}
	if *timeout != 2*time.Second {
		t.Errorf("step-timeout = %v, want 2s from the environment", *timeout)
	}
}

func TestApplyEnvInvalidValue(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Int("epochs", 10, "")
	fs.Parse(nil)
	err := cli.ApplyEnv(fs, func(k string) (string, bool) { return "ten", k == "RINGTRAIN_EPOCHS" })
	if err == nil || !strings.Contains(err.Error(), "RINGTRAIN_EPOCHS") {
		t.Errorf("ApplyEnv(RINGTRAIN_EPOCHS=ten) error = %v, want one naming the variable", err)
	}
}

func TestNewLoggerRejectsUnknown(t *testing.T) {
	t.Parallel()
	if _, err := cli.NewLogger(io.Discard, "xml", "info"); err == nil {
		t.Error("NewLogger(format xml) succeeded, want an error")
	}
	if _, err := cli.NewLogger(io.Discard, "text", "loud"); err == nil {
		t.Error("NewLogger(level loud) succeeded, want an error")
	}
}

func TestApplyEnvEmptyIsUnset(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	epochs := fs.Int("epochs", 10, "")
	fs.Parse(nil)
	sources, err := cli.ApplyEnvSources(fs, func(k string) (string, bool) { return "", k == "RINGTRAIN_EPOCHS" })
	if err != nil {
		t.Fatalf("ApplyEnvSources(RINGTRAIN_EPOCHS=) = %v, want no error", err)
	}
	if *epochs != 10 {
		t.Errorf("epochs = %d, want the default 10", *epochs)
	}
	if src, ok := sources["epochs"]; ok {
		t.Errorf("sources[epochs] = %q, want no entry", src)
	}
}

func TestApplyEnvSources(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Int("epochs", 10, "")
	fs.Int("batch-size", 64, "")
	fs.Int("seed", 1, "")
	if err := fs.Parse([]string{"--epochs", "3"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RINGTRAIN_EPOCHS": "7", "RINGTRAIN_BATCH_SIZE": "256"}
	sources, err := cli.ApplyEnvSources(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("ApplyEnvSources: %v", err)
	}
	want := map[string]string{"epochs": "--epochs", "batch-size": "RINGTRAIN_BATCH_SIZE"}
	if diff := cmp.Diff(want, sources); diff != "" {
		t.Errorf("ApplyEnvSources sources (-want +got):\n%s", diff)
	}
}

func TestErrorLinePrefixOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"bare", errors.New("invalid --epochs 0"), "coordinator: invalid --epochs 0"},
		{"prefixed", errors.New("coordinator: listen: busy"), "coordinator: listen: busy"},
		{"other prefix", errors.New("coordinatorx: odd"), "coordinator: coordinatorx: odd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cli.ErrorLine("coordinator", tt.err); got != tt.want {
				t.Errorf("ErrorLine(%q) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

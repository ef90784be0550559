package coordinator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOutputsRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"output in missing folder", Config{Output: filepath.Join(dir, "missing", "m.rtm")}, "invalid output file"},
		{"history in missing folder", Config{History: filepath.Join(dir, "missing", "h.json")}, "invalid history file"},
		{"output is a folder", Config{Output: dir}, "it is a folder"},
		{"output below a file", Config{Output: filepath.Join(file, "m.rtm")}, "is not a folder"},
		{"checkpoint folder is a file", Config{CheckpointDir: file}, "checkpoint folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.checkOutputs()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkOutputs() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckOutputsCreatesCheckpointFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{
		Output:        filepath.Join(dir, "m.rtm"),
		History:       filepath.Join(dir, "h.json"),
		CheckpointDir: filepath.Join(dir, "a", "b"),
	}
	if err := cfg.checkOutputs(); err != nil {
		t.Fatalf("checkOutputs() = %v, want nil", err)
	}
	if info, err := os.Stat(cfg.CheckpointDir); err != nil || !info.IsDir() {
		t.Errorf("checkpoint folder after checkOutputs: %v, want a folder", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "a" {
		t.Errorf("folder holds %v after checkOutputs, want only the checkpoint folder", entries)
	}
}

package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringtrain/ringtrain/internal/coordinator"
)

func TestDivergedLossStopsJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeMNIST(t, dir, 200, nil)
	cfg := quickConfig(t)
	cfg.DataDir = dir
	cfg.TrainSamples, cfg.TestSamples = 0, 0
	cfg.LearningRate = 1e30
	cfg.History = filepath.Join(t.TempDir(), "history.json")
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	startWorkers(t, ctx, 2, coord.GossipAddr())

	err = coord.Run(ctx)
	if !errors.Is(err, coordinator.ErrDiverged) {
		t.Fatalf("Run error = %v, want ErrDiverged", err)
	}
	for _, want := range []string{"step ", "--lr (now 1e+30)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run error = %q, want it to contain %q", err, want)
		}
	}

	data, err := os.ReadFile(cfg.History)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	var s coordinator.Status
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("decode history: %v", err)
	}
	if s.State != coordinator.StateFailed {
		t.Errorf("history state = %q, want %q", s.State, coordinator.StateFailed)
	}
	if !strings.Contains(s.Error, "diverged") {
		t.Errorf("history error = %q, want the divergence", s.Error)
	}
}

package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/worker"
)

// jobTimeout bounds one benchmarked job, loading and evaluation included.
const jobTimeout = 5 * time.Minute

// dataRoot returns RINGTRAIN_TEST_DATA, the folder holding mnist/ and
// cifar-10-binary.tar.gz, or skips the benchmark when it is unset.
func dataRoot(b *testing.B) string {
	b.Helper()
	root := os.Getenv("RINGTRAIN_TEST_DATA")
	if root == "" {
		b.Skip("RINGTRAIN_TEST_DATA is unset: set it to a folder holding mnist/")
	}
	// go test runs in the package folder; a relative path is meant from
	// the module root, two levels up.
	if !filepath.IsAbs(root) {
		if _, err := os.Stat(root); err != nil {
			root = filepath.Join("..", "..", root)
		}
	}
	return root
}

// mnistDir returns the MNIST folder under RINGTRAIN_TEST_DATA, or skips the
// benchmark when the variable is unset.
func mnistDir(b *testing.B) string {
	b.Helper()
	return filepath.Join(dataRoot(b), "mnist")
}

// runJob trains one MNIST epoch on workers local workers and returns its
// statistics from the history file.
func runJob(ctx context.Context, b *testing.B, dataDir string, workers, batch int) coordinator.EpochStats {
	b.Helper()
	cfg := coordinator.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.Epochs = 1
	cfg.BatchSize = batch
	cfg.TestSamples = 1000
	epoch, _ := runConfig(ctx, b, cfg, workers)
	return epoch
}

// runConfig runs the one-epoch job cfg on workers local workers, on
// loopback ports, and returns the epoch's statistics from the history file
// and each worker's step times.
func runConfig(ctx context.Context, b *testing.B, cfg coordinator.Config, workers int) (coordinator.EpochStats, []worker.StepTimes) {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	history := filepath.Join(b.TempDir(), "history.json")

	cfg.MinWorkers = workers
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.History = history
	cfg.Logger = logger
	coord, err := coordinator.New(cfg)
	if err != nil {
		b.Fatalf("coordinator.New: %v", err)
	}

	workerCtx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopWorkers()
		wg.Wait()
	}()
	started := make([]*worker.Worker, workers)
	for i := range workers {
		w, err := worker.New(worker.Config{
			Name:       "local-" + strconv.Itoa(i+1),
			GRPCAddr:   "127.0.0.1:0",
			GossipAddr: "127.0.0.1:0",
			Join:       []string{coord.GossipAddr()},
			Logger:     logger,
		})
		if err != nil {
			b.Fatalf("worker.New(%d): %v", i+1, err)
		}
		started[i] = w
		wg.Go(func() { _ = w.Run(workerCtx) })
	}

	if err := coord.Run(ctx); err != nil {
		b.Fatalf("coordinator.Run: %v", err)
	}
	times := make([]worker.StepTimes, workers)
	for i, w := range started {
		times[i] = w.StepTimes()
	}
	return firstEpoch(b, history), times
}

// firstEpoch reads the statistics of the first epoch from a history file.
func firstEpoch(b *testing.B, path string) coordinator.EpochStats {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatalf("read history: %v", err)
	}
	var status coordinator.Status
	if err := json.Unmarshal(data, &status); err != nil {
		b.Fatalf("parse history %s: %v", path, err)
	}
	if len(status.History) != 1 {
		b.Fatalf("history %s has %d epochs, want 1", path, len(status.History))
	}
	return status.History[0]
}

// BenchmarkLocalCluster runs whole one-epoch MNIST jobs and reports the
// training samples/s and milliseconds per step of the epoch, from the
// history that the coordinator writes. Loading, ring formation and
// evaluation of 1,000 test samples are outside those figures but inside a
// CPU profile of the benchmark.
func BenchmarkLocalCluster(b *testing.B) {
	dataDir := mnistDir(b)
	for _, workers := range []int{1, 2, 3} {
		for _, batch := range []int{64, 256} {
			b.Run(fmt.Sprintf("workers=%d/batch=%d", workers, batch), func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
				defer cancel()
				var seconds float64
				var samples, steps int
				for b.Loop() {
					epoch := runJob(ctx, b, dataDir, workers, batch)
					seconds += epoch.Seconds
					samples += epoch.Samples
					steps += (epoch.Samples + batch - 1) / batch
				}
				b.ReportMetric(float64(samples)/seconds, "samples/s")
				b.ReportMetric(seconds/float64(steps)*1e3, "ms/step")
			})
		}
	}
}

package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/worker"
)

// BenchmarkOverlap trains each preset on three local workers at batch 64,
// with the all-reduce after the backward pass (overlap=false) and
// overlapping it (overlap=true). Both sum the same buckets, so the first
// measures compute and all-reduce apart and the second the time the
// overlap saves. It reports the epoch's milliseconds per step, from the
// coordinator's history, and the workers' mean compute, all-reduce and
// overlapped milliseconds per step. mnist-mlp trains one whole epoch,
// cifar10-mlp its first 6,400 samples (100 steps).
func BenchmarkOverlap(b *testing.B) {
	const workers, batch = 3, 64
	root := dataRoot(b)
	presets := []struct {
		name, dataset, dir string
		trainSamples       int
	}{
		{name: "mnist-mlp", dataset: "mnist", dir: filepath.Join(root, "mnist")},
		{name: "cifar10-mlp", dataset: "cifar10", dir: root, trainSamples: 6400},
	}
	for _, p := range presets {
		for _, overlap := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/overlap=%t", p.name, overlap), func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
				defer cancel()
				cfg := coordinator.DefaultConfig()
				cfg.Dataset = p.dataset
				cfg.DataDir = p.dir
				cfg.Epochs = 1
				cfg.BatchSize = batch
				cfg.TrainSamples = p.trainSamples
				cfg.TestSamples = 1000
				cfg.ReduceAfterBackward = !overlap

				var seconds float64
				var steps int
				var total worker.StepTimes
				for b.Loop() {
					epoch, times := runConfig(ctx, b, cfg, workers)
					seconds += epoch.Seconds
					steps += (epoch.Samples + batch - 1) / batch
					for _, t := range times {
						total.Steps += t.Steps
						total.Compute += t.Compute
						total.AllReduce += t.AllReduce
						total.Overlap += t.Overlap
					}
				}
				perStep := func(d time.Duration) float64 {
					return d.Seconds() / float64(total.Steps) * 1e3
				}
				b.ReportMetric(seconds/float64(steps)*1e3, "ms/step")
				b.ReportMetric(perStep(total.Compute), "compute-ms")
				b.ReportMetric(perStep(total.AllReduce), "allreduce-ms")
				b.ReportMetric(perStep(total.Overlap), "overlap-ms")
			})
		}
	}
}

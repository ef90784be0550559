package coordinator

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/nn"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// loadData reads the dataset, checks it against the model and builds the
// job spec that every worker receives.
func (c *Coordinator) loadData(ctx context.Context) error {
	spec, err := nn.ResolveSpec(c.cfg.Model)
	if err != nil {
		return fmt.Errorf("coordinator: model %q: %w", c.cfg.Model, err)
	}
	c.logger.Info("loading dataset", "dataset", c.cfg.Dataset, "data_dir", c.cfg.DataDir)
	data, err := dataset.Load(ctx, c.cfg.Dataset, dataset.Options{
		DataDir:  c.cfg.DataDir,
		CacheDir: c.cfg.CacheDir,
		Progress: c.cfg.Progress,
		Logger:   c.logger,
	})
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	limit(&data.Train, c.cfg.TrainSamples)
	limit(&data.Test, c.cfg.TestSamples)
	if err := checkLabels(data); err != nil {
		return err
	}
	train := &data.Train
	if spec.Inputs != train.Dim() {
		return fmt.Errorf("coordinator: model %q takes %d inputs, but %s samples have %d: use a model whose first size is %d",
			c.cfg.Model, spec.Inputs, data.Name, train.Dim(), train.Dim())
	}
	if out := spec.Layers[len(spec.Layers)-1].Units; out != data.Classes {
		return fmt.Errorf("coordinator: model %q has %d outputs, but %s has %d classes: end the model with %d units",
			c.cfg.Model, out, data.Name, data.Classes, data.Classes)
	}

	var norm dataset.Normalization
	if c.cfg.Normalize == "meanstd" || (c.cfg.Normalize == "auto" && data.Name == "cifar10") {
		norm = dataset.ChannelStats(train)
	}
	c.data = data
	c.job = &ringtrainpb.JobSpec{
		JobId:         c.jobID,
		Model:         spec.String(),
		Dataset:       data.Name,
		Classes:       uint32(data.Classes),
		Channels:      uint32(train.Channels),
		Height:        uint32(train.Height),
		Width:         uint32(train.Width),
		NormMean:      norm.Mean,
		NormStd:       norm.Std,
		Optimizer:     c.cfg.Optimizer,
		LearningRate:  c.cfg.LearningRate,
		Beta1:         c.cfg.Beta1,
		Beta2:         c.cfg.Beta2,
		Epsilon:       c.cfg.Epsilon,
		Momentum:      c.cfg.Momentum,
		Seed:          c.cfg.Seed,
		BatchSize:     uint32(c.cfg.BatchSize),
		StepTimeoutMs: uint32(c.cfg.StepTimeout.Milliseconds()),
		ParamCount:    uint64(spec.ParamCount()),
		Mode:          c.cfg.Mode,
		MicroBatch:    uint32(exactMicroBatch(c.cfg)),

		ReduceAfterBackward: c.cfg.ReduceAfterBackward,
	}
	c.status.update(func(s *Status) {
		s.Model = spec.String()
		s.Params = spec.ParamCount()
	})
	c.logger.Info("dataset loaded", "dataset", data.Name, "train", train.N, "test", data.Test.N,
		"model", spec.String(), "params", spec.ParamCount(), "normalization", len(norm.Mean) > 0)
	return nil
}

// limit keeps the first n samples of s when n is positive and smaller.
func limit(s *dataset.Split, n int) {
	if n <= 0 || n >= s.N {
		return
	}
	s.Pixels = s.Pixels[:n*s.Dim()]
	s.Labels = s.Labels[:n]
	s.N = n
}

// checkLabels rejects a label outside [0, classes) in either split before
// any training starts.
func checkLabels(data *dataset.Dataset) error {
	for _, split := range []struct {
		name string
		s    *dataset.Split
	}{{"training", &data.Train}, {"test", &data.Test}} {
		for i, label := range split.s.Labels {
			if int(label) >= data.Classes {
				return fmt.Errorf("coordinator: %s sample %d of %s has label %d, outside 0 to %d: the dataset files are corrupt",
					split.name, i, data.Name, label, data.Classes-1)
			}
		}
	}
	return nil
}

// epochOrder returns the permutation of n training samples for an epoch. It
// depends only on the seed and the epoch number, so every coordinator run of
// the same job visits the samples in the same order.
func epochOrder(seed uint64, epoch, n int) []int {
	return rand.New(rand.NewPCG(seed, uint64(epoch))).Perm(n)
}

// sliceBounds splits a batch of size n into parts slices as even as
// possible; slice i is [bounds[i], bounds[i+1]).
func sliceBounds(n, parts int) []int {
	bounds := make([]int, parts+1)
	for i := range bounds {
		bounds[i] = i * n / parts
	}
	return bounds
}

// microBatchBounds splits a batch of n samples into parts runs of whole
// micro-batches of size m, as even as possible in micro-batches. Slice i is
// [bounds[i], bounds[i+1]). Only the last micro-batch of the batch may be
// smaller than m. A slice is empty when there are fewer micro-batches than
// parts.
func microBatchBounds(n, m, parts int) []int {
	micro := (n + m - 1) / m
	bounds := make([]int, parts+1)
	for i := range bounds {
		bounds[i] = min(n, i*micro/parts*m)
	}
	return bounds
}

// gather copies the samples at the given indices into one message.
func gather(s *dataset.Split, indices []int) *ringtrainpb.Samples {
	dim := s.Dim()
	pixels := make([]byte, 0, len(indices)*dim)
	labels := make([]byte, len(indices))
	for i, idx := range indices {
		pixels = append(pixels, s.Sample(idx)...)
		labels[i] = s.Labels[idx]
	}
	return &ringtrainpb.Samples{Count: uint32(len(indices)), Pixels: pixels, Labels: labels}
}

// dropoutSeed derives the seed of one slice's dropout masks from the job
// seed, the step and the slice's first position in the batch. Exact mode
// passes offset 0 for every slice, and each worker derives the masks of a
// micro-batch from this seed and the micro-batch's position.
func dropoutSeed(seed, step uint64, offset int) uint64 {
	x := seed ^ step*0x9e3779b97f4a7c15 ^ uint64(offset)<<40
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

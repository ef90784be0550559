package coordinator

import (
	"github.com/ringtrain/ringtrain/internal/nn"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// The functions in this file are where fast and exact mode differ on the
// coordinator. In exact mode a global batch is cut into micro-batches of
// Config.MicroBatch samples from its start, and each worker receives a
// contiguous run of whole micro-batches. Every quantity summed over the
// workers is an integer, so the step's results do not depend on the split.

// splitBatch returns the bounds of the workers' slices of a global batch of
// n samples: slice i is [bounds[i], bounds[i+1]).
func (c *Coordinator) splitBatch(n, workers int) []int {
	if c.cfg.Mode == ModeExact {
		return microBatchBounds(n, c.cfg.MicroBatch, workers)
	}
	return sliceBounds(n, workers)
}

// stepDropoutSeed returns the dropout seed for the slice at position offset
// of a step's global batch. In exact mode every slice gets the step's seed,
// and a worker seeds each micro-batch from it and the micro-batch's
// position, so the masks do not depend on which worker computes it.
func (c *Coordinator) stepDropoutSeed(step uint64, offset int) uint64 {
	if c.cfg.Mode == ModeExact {
		offset = 0
	}
	return dropoutSeed(c.cfg.Seed, step, offset)
}

// stepLossSum returns the summed loss of a step's global batch. In exact
// mode it adds the workers' fixed-point sums as integers, which gives the
// same value in any order. In fast mode it adds their float64 sums in rank
// order.
func (c *Coordinator) stepLossSum(responses []*ringtrainpb.StepResponse) float64 {
	if c.cfg.Mode == ModeExact {
		var fixed int64
		for _, resp := range responses {
			fixed += resp.GetLossSumFixed()
		}
		return nn.FromFixed(fixed)
	}
	var sum float64
	for _, resp := range responses {
		sum += resp.GetLossSum()
	}
	return sum
}

// exactMicroBatch returns the micro-batch size in exact mode and 0 in fast
// mode, which does not use it.
func exactMicroBatch(cfg Config) int {
	if cfg.Mode == ModeExact {
		return cfg.MicroBatch
	}
	return 0
}

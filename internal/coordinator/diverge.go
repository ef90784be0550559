package coordinator

import (
	"errors"
	"fmt"
	"math"
)

// ErrDiverged reports that training produced a loss that is not finite, NaN
// or ±Inf, so the parameters can no longer be trusted and the job stops.
var ErrDiverged = errors.New("training diverged")

// checkFinite returns an error wrapping [ErrDiverged] when loss, the value
// of the named quantity at the given step, is NaN or infinite.
func (c *Coordinator) checkFinite(quantity string, step uint64, loss float64) error {
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		return nil
	}
	advice := fmt.Sprintf("lower --lr (now %g) and run again", c.cfg.LearningRate)
	if c.cfg.CheckpointDir != "" {
		// A checkpoint resumes only under the learning rate it was
		// written with.
		advice += " on a new --checkpoint-dir; the old one keeps the last committed state"
	}
	return fmt.Errorf("coordinator: %w at step %d: %s is %v: %s", ErrDiverged, step, quantity, loss, advice)
}

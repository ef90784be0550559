package coordinator

import (
	"context"
	"errors"
	"fmt"
)

// ErrStopped reports that the job was stopped before it finished because
// the context passed to [Coordinator.Run] ended, as on SIGINT or SIGTERM.
var ErrStopped = errors.New("job stopped")

// stop ends the job after ctx ended: it writes a last checkpoint of the
// committed step when checkpoints are on, and records the stop.
func (c *Coordinator) stop(ctx context.Context) error {
	// The checkpoint needs calls to a worker, which must outlive ctx but
	// not wait forever.
	checkpointCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RPCTimeout)
	defer cancel()
	last := c.status.snapshot().LastCheckpoint
	if last == nil || last.Step != c.pos.step {
		c.maybeCheckpoint(checkpointCtx, true)
	}
	c.status.setState(StateStopped)
	c.status.event("job stopped at step %d", c.pos.step)
	c.logger.Info("job stopped", "job", c.jobID, "step", c.pos.step, "epoch", c.pos.epoch+1, "cause", context.Cause(ctx))
	return fmt.Errorf("coordinator: %w at step %d: %w", ErrStopped, c.pos.step, ctx.Err())
}

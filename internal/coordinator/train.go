package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringtrain/ringtrain/internal/modelfile"
	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// position is the job's committed progress, and the sums of the epoch in
// progress.
type position struct {
	epoch  int // 0-based epoch in progress
	offset int // training samples of this epoch that committed steps used
	step   uint64
	// fingerprint is that of the parameters after fingerprintStep, which
	// workers report one step late. verified is false until one is known.
	fingerprint     uint64
	fingerprintStep uint64
	verified        bool

	// Sums of the epoch in progress. lossSamples counts the samples whose
	// loss is in lossSum, which after a resume from the workers' state can
	// be fewer than offset.
	lossSum     float64
	correct     int
	lossSamples int
	seconds     float64
	failures    int
}

// knownFingerprint returns the verified fingerprint of the parameters after
// the committed step, when the coordinator has one.
func (p *position) knownFingerprint() (uint64, bool) {
	return p.fingerprint, p.verified && p.fingerprintStep == p.step
}

func (p *position) setFingerprint(step, fp uint64) {
	p.fingerprint, p.fingerprintStep, p.verified = fp, step, true
}

// train runs the remaining steps of every epoch and evaluates the test set
// after each.
func (c *Coordinator) train(ctx context.Context) error {
	n := c.data.Train.N
epochs:
	for c.pos.epoch < c.cfg.Epochs {
		epoch := c.pos.epoch
		order := epochOrder(c.cfg.Seed, epoch, n)
		c.status.update(func(s *Status) { s.Epoch = c.pos.epoch + 1 })
		started := time.Now()
		attempts := 0
		c.bar.Start(c.pos.epoch+1, c.cfg.Epochs, n)
		for c.pos.offset < n {
			if err := c.ensureView(ctx); err != nil {
				return err
			}
			// Forming a view can adopt the workers' newer state, as after a
			// coordinator restart. That can move the job into a later epoch,
			// whose order differs, or to the end of this one, whose
			// evaluation is then all that is left.
			if c.pos.epoch != epoch {
				continue epochs
			}
			if c.pos.offset >= n {
				break
			}
			batch := order[c.pos.offset:min(c.pos.offset+c.cfg.BatchSize, n)]
			if c.pos.step == 0 && c.status.snapshot().LastCheckpoint == nil {
				// A first checkpoint records the job's identifier, so a
				// restarted coordinator can resume from the workers' state.
				c.maybeCheckpoint(ctx, true)
			}
			err := c.step(ctx, batch)
			if err == nil {
				attempts = 0
				c.maybeCheckpoint(ctx, false)
				continue
			}
			if !errors.Is(err, errRetry) {
				return err
			}
			c.view = nil
			c.viewReason = err.Error()
			c.pos.failures++
			c.metrics.AddFailure()
			attempts++
			c.logger.Warn("step abandoned", "step", c.pos.step+1, "epoch", c.pos.epoch+1, "err", err)
			c.status.event("step %d abandoned: %v", c.pos.step+1, err)
			// Back off when a step keeps failing without a worker to blame,
			// so a flapping network does not spin the loop.
			if attempts > 1 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(min(time.Duration(attempts)*200*time.Millisecond, 5*time.Second)):
				}
			}
		}
		c.pos.seconds += time.Since(started).Seconds()
		c.bar.Finish()

		c.status.setState(StateEvaluating)
		testLoss, testAccuracy, err := c.evaluate(ctx)
		if err != nil {
			return err
		}
		if err := c.checkFinite("the test loss", c.pos.step, testLoss); err != nil {
			return err
		}
		stats := EpochStats{
			Epoch:         c.pos.epoch + 1,
			Samples:       c.pos.offset,
			TrainSamples:  c.pos.lossSamples,
			TrainLoss:     c.pos.lossSum / float64(max(c.pos.lossSamples, 1)),
			TrainAccuracy: float64(c.pos.correct) / float64(max(c.pos.lossSamples, 1)),
			TestLoss:      testLoss,
			TestAccuracy:  testAccuracy,
			Seconds:       c.pos.seconds,
			Failures:      c.pos.failures,
		}
		c.status.update(func(s *Status) { s.History = append(s.History, stats) })
		c.metrics.ObserveEpoch(stats.Epoch, stats.TrainLoss, stats.TrainAccuracy, stats.TestLoss, stats.TestAccuracy)
		c.status.event("epoch %d: train loss %.4f accuracy %.4f, test loss %.4f accuracy %.4f",
			stats.Epoch, stats.TrainLoss, stats.TrainAccuracy, stats.TestLoss, stats.TestAccuracy)
		c.logger.Info("epoch finished", "epoch", stats.Epoch,
			"samples", stats.Samples, "train_samples", stats.TrainSamples,
			"train_loss", stats.TrainLoss, "train_accuracy", stats.TrainAccuracy,
			"test_loss", stats.TestLoss, "test_accuracy", stats.TestAccuracy,
			"seconds", stats.Seconds, "failures", c.pos.failures, "step", c.pos.step)
		c.pos = position{epoch: c.pos.epoch + 1, step: c.pos.step,
			fingerprint: c.pos.fingerprint, fingerprintStep: c.pos.fingerprintStep, verified: c.pos.verified}
		c.maybeCheckpoint(ctx, true)
	}
	return nil
}

// step runs one global batch on the current view and commits it when every
// worker summed its gradient. A failure returns an error wrapping errRetry
// after marking the workers to blame; the position does not move.
func (c *Coordinator) step(ctx context.Context, batch []int) error {
	v := c.view
	stepNumber := c.pos.step + 1
	started := time.Now()
	bounds := c.splitBatch(len(batch), len(v.members))
	responses := make([]*ringtrainpb.StepResponse, len(v.members))
	c.status.setState(StateTraining)

	// The coordinator waits a little longer than the workers' own deadline,
	// so a worker stuck on a dead peer reports that before its call expires.
	stepCtx, cancel := context.WithTimeout(ctx, c.cfg.StepTimeout+5*time.Second)
	defer cancel()
	stopWatch := c.abortOnFailure(stepCtx, cancel, v, stepNumber)
	defer stopWatch()
	errs := c.forEach(v.members, func(i int, w *worker) error {
		resp, err := w.client.Step(stepCtx, &ringtrainpb.StepRequest{
			Generation:  v.generation,
			Step:        stepNumber,
			Epoch:       uint32(c.pos.epoch + 1),
			GlobalBatch: uint32(len(batch)),
			Samples:     gather(&c.data.Train, batch[bounds[i]:bounds[i+1]]),
			DropoutSeed: c.stepDropoutSeed(stepNumber, bounds[i]),
			BatchOffset: uint32(bounds[i]),
		})
		if status.Code(err) == codes.OutOfRange {
			// The step would fail again if run again, so the other
			// workers need not wait for it.
			cancel()
		}
		responses[i] = resp
		return err
	})
	if err := c.stepFailure(ctx, v, errs); err != nil {
		return err
	}

	fps := make([]uint64, len(responses))
	var correct int
	for i, resp := range responses {
		fps[i] = resp.GetFingerprint()
		correct += int(resp.GetCorrect())
	}
	lossSum := c.stepLossSum(responses)
	if err := checkFingerprints(c.pos.step, v.members, fps); err != nil {
		return err
	}
	// The position does not move past a step whose loss is not finite, so
	// no checkpoint records it.
	if err := c.checkFinite("the summed training loss", stepNumber, lossSum); err != nil {
		return err
	}
	c.pos.setFingerprint(stepNumber-1, fps[0])
	c.pos.step = stepNumber
	c.pos.offset += len(batch)
	c.pos.lossSum += lossSum
	c.pos.correct += correct
	c.pos.lossSamples += len(batch)
	c.registry.recordStep(v.members, stepNumber, responses)
	c.status.addStepLoss(stepNumber, lossSum/float64(len(batch)))
	c.observeStep(time.Since(started), v, responses, len(batch))
	c.bar.Update(c.pos.offset, c.pos.lossSum/float64(max(c.pos.lossSamples, 1)))
	c.status.update(func(s *Status) {
		s.Step = stepNumber
		s.EpochSamples = c.pos.offset
		s.Fingerprint = tensor.FormatFingerprint(c.pos.fingerprint)
	})
	c.logger.Debug("step committed", "step", stepNumber, "epoch", c.pos.epoch+1,
		"loss", lossSum/float64(len(batch)), "generation", v.generation)
	return nil
}

// abortOnFailure cancels a step as soon as memberlist declares a worker of
// its view dead, so the survivors do not wait out their deadlines. The
// returned function stops the watch and waits for it.
func (c *Coordinator) abortOnFailure(ctx context.Context, cancel context.CancelFunc, v *view, step uint64) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-c.node.Changed():
				live := make(map[string]bool)
				for _, m := range c.node.Members() {
					live[m.Name] = true
				}
				for _, w := range v.members {
					if !live[w.name] {
						c.logger.Warn("worker failed during step, aborting it", "peer", w.name, "step", step)
						cancel()
						return
					}
				}
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// stepFailure sorts the failed calls of a step. A worker that returned
// Aborted, FailedPrecondition or Canceled is alive and saw the failure of
// another, while any other error marks the worker itself as failed. A worker that
// rejects its samples is a bug, not a failure, and stops the job. So does a
// gradient that exact mode cannot hold in fixed point, which returns
// OutOfRange and would come out the same on every retry.
func (c *Coordinator) stepFailure(ctx context.Context, v *view, errs []error) error {
	blamed := make([]error, len(errs))
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		switch status.Code(err) {
		case codes.Aborted, codes.FailedPrecondition, codes.Canceled:
			c.logger.Debug("worker abandoned step", "peer", v.members[i].name, "err", err)
		case codes.InvalidArgument:
			return fmt.Errorf("coordinator: worker %s rejected step %d: %w", v.members[i].name, c.pos.step+1, err)
		case codes.OutOfRange:
			return fmt.Errorf("coordinator: step %d stopped on worker %s: %w", c.pos.step+1, v.members[i].name, err)
		default:
			blamed[i] = err
		}
	}
	if failed == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := c.dropFailed(ctx, v.members, blamed, fmt.Sprintf("step %d", c.pos.step+1)); err != nil {
		return err
	}
	return fmt.Errorf("coordinator: step %d failed on %d of %d workers: %w", c.pos.step+1, failed, len(errs), errRetry)
}

// writeModel fetches the committed parameters from the first worker of the
// view and writes the model file.
func (c *Coordinator) writeModel(ctx context.Context) error {
	if c.cfg.Output == "" {
		return nil
	}
	for {
		if err := c.ensureView(ctx); err != nil {
			return err
		}
		st, err := c.fetchState(ctx, c.view.members[0])
		if err != nil {
			c.logger.Warn("fetch parameters failed", "peer", c.view.members[0].name, "err", err)
			c.registry.markFailed(c.view.members[0], time.Now())
			c.view = nil
			continue
		}
		train := &c.data.Train
		m := &modelfile.Model{
			Header: modelfile.Header{
				Model:       c.job.GetModel(),
				Dataset:     c.data.Name,
				Classes:     c.data.Classes,
				ClassNames:  c.data.ClassNames,
				Channels:    train.Channels,
				Height:      train.Height,
				Width:       train.Width,
				NormMean:    c.job.GetNormMean(),
				NormStd:     c.job.GetNormStd(),
				Step:        c.pos.step,
				Fingerprint: tensor.FormatFingerprint(c.pos.fingerprint),
			},
			Params: st.params,
		}
		if err := modelfile.Write(c.cfg.Output, m); err != nil {
			return fmt.Errorf("coordinator: %w", err)
		}
		c.logger.Info("model written", "path", c.cfg.Output, "step", c.pos.step, "fingerprint", m.Header.Fingerprint)
		c.status.event("model written to %s", c.cfg.Output)
		return nil
	}
}

// observeStep feeds one committed step to the metrics: the slowest worker's
// compute and all-reduce times, the largest overlap of the two, and the bytes each worker sent in the ring,
// 2(N-1)/N times the gradient's size: 4 bytes a value in fast mode, 8 in
// exact mode.
func (c *Coordinator) observeStep(wall time.Duration, v *view, responses []*ringtrainpb.StepResponse, samples int) {
	var compute, reduce, overlap float64
	for _, resp := range responses {
		compute = max(compute, resp.GetComputeSeconds())
		reduce = max(reduce, resp.GetAllreduceSeconds())
		overlap = max(overlap, resp.GetOverlapSeconds())
	}
	n := int64(len(v.members))
	valueBytes := int64(4)
	if c.cfg.Mode == ModeExact {
		valueBytes = 8
	}
	bytes := valueBytes * int64(c.job.GetParamCount()) * 2 * (n - 1) / n
	c.metrics.ObserveStep(wall.Seconds(), compute, reduce, samples, bytes)
	c.metrics.ObserveStepOverlap(overlap)
	c.metrics.SetWorkers(c.registry.countByState())
}

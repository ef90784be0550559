package worker

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringtrain/ringtrain/internal/nn"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// exactStep runs one step in exact mode. The slice starts at position
// offset of the global batch and holds whole micro-batches. Each
// micro-batch is computed alone, with the same shape whatever the number of
// workers, and with dropout masks drawn from the step's seed and the
// micro-batch's position. Its gradient and loss sum are converted to fixed
// point and added as integers. The integer sums travel around the ring, so
// every worker ends with the same total whatever the split, and the mean
// gradient then waits in the network's gradient buffer until the step is
// committed, as in fast mode.
//
// A gradient or loss that fixed point cannot hold fails the step with
// codes.OutOfRange, which stops the job: running the step again would give
// the same values.
func (w *Worker) exactStep(ctx context.Context, r *replica, req *ringtrainpb.StepRequest,
	x []float32, labels []uint8, resp *ringtrainpb.StepResponse, start time.Time) (*ringtrainpb.StepResponse, error) {
	offset, batch, rows := int(req.GetBatchOffset()), int(req.GetGlobalBatch()), len(labels)
	if err := checkMicroBatches(offset, rows, batch, r.microBatch); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "worker %s: step %d: %v", w.cfg.Name, req.GetStep(), err)
	}

	clear(r.fixedSum)
	limit := nn.FixedLimit((batch + r.microBatch - 1) / r.microBatch)
	var lossSum int64
	var correct int
	for from := 0; from < rows; from += r.microBatch {
		to := min(from+r.microBatch, rows)
		position := offset + from
		fail := func(code codes.Code, err error) error {
			return status.Errorf(code, "worker %s: step %d: micro-batch of samples %d to %d of the global batch: %v",
				w.cfg.Name, req.GetStep(), position, offset+to-1, err)
		}

		r.net.ZeroGrad()
		masks := rand.New(rand.NewPCG(req.GetDropoutSeed(), uint64(position)))
		loss, hits, err := r.net.AccumulateGradient(x[from*r.dim:to*r.dim], labels[from:to], 1, masks)
		if err != nil {
			return nil, fail(codes.InvalidArgument, err)
		}
		if err := r.net.AddGradientFixed(r.fixedSum, limit); err != nil {
			w.logger.Error("step stopped", "step", req.GetStep(), "err", err)
			return nil, fail(codes.OutOfRange, err)
		}
		fixed, ok := nn.ToFixed(loss, limit)
		if !ok {
			err := lossRangeError(loss, limit)
			w.logger.Error("step stopped", "step", req.GetStep(), "err", err)
			return nil, fail(codes.OutOfRange, err)
		}
		lossSum += fixed
		correct += hits
	}
	resp.LossSumFixed = lossSum
	resp.LossSum = nn.FromFixed(lossSum)
	resp.Correct = uint32(correct)
	compute := time.Since(start)
	resp.ComputeSeconds = compute.Seconds()

	reduceStart := time.Now()
	if err := w.ring.AllReduceInt64(ctx, req.GetStep(), r.fixedSum); err != nil {
		w.logger.Warn("step abandoned", "step", req.GetStep(), "generation", req.GetGeneration(), "err", err)
		return nil, ringStatus(w.cfg.Name, req.GetStep(), err)
	}
	reduce := time.Since(reduceStart)
	resp.AllreduceSeconds = reduce.Seconds()
	w.times.add(compute, reduce, 0)
	r.net.SetMeanGradient(r.fixedSum, batch)
	r.pending = req.GetStep()
	return resp, nil
}

// lossRangeError returns the error for a micro-batch's loss sum that fixed
// point cannot hold.
func lossRangeError(loss float64, limit int64) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("%w: loss sum is %v: training has diverged; lower the learning rate",
			nn.ErrFixedPointRange, loss)
	}
	return fmt.Errorf("%w: loss sum %g is at or beyond the limit of ±%g: training has diverged; lower the learning rate",
		nn.ErrFixedPointRange, loss, nn.FromFixed(limit))
}

// checkMicroBatches returns an error unless a slice of rows samples at
// position offset of a global batch of batch samples holds whole
// micro-batches of microBatch samples. Only the end of the global batch may
// cut the slice's last micro-batch short. An empty slice holds none.
func checkMicroBatches(offset, rows, batch, microBatch int) error {
	switch {
	case batch < 1 || offset+rows > batch:
		return fmt.Errorf("slice of %d samples at position %d does not fit in a global batch of %d", rows, offset, batch)
	case rows == 0:
		return nil
	case offset%microBatch != 0:
		return fmt.Errorf("slice starts at position %d of the global batch, which is not a multiple of the micro-batch size %d", offset, microBatch)
	case rows%microBatch != 0 && offset+rows != batch:
		return fmt.Errorf("slice of %d samples at position %d ends inside a micro-batch of %d, before the end of the global batch of %d",
			rows, offset, microBatch, batch)
	}
	return nil
}

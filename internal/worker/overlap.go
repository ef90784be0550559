package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/ringtrain/ringtrain/internal/nn"
)

// minBucketValues is the smallest number of gradient values in one bucket,
// 1 MiB of float32, except in the bucket of the first layer, which takes
// whatever is left. Each bucket is its own collective, with a fixed cost of
// a few gRPC streams, so the small layers near the output are merged.
// cifar10-mlp gets two buckets: its last four layers and its first.
// mnist-mlp gets one, because its last two layers hold 6,670 values, too
// few to save more than the collective would cost.
const minBucketValues = 1 << 18

// bucket is a run of whole layers whose gradient is summed over the ring
// in one collective.
type bucket struct {
	lo, hi int // range of [nn.Network.Grad]
	// layer is the bucket's first layer. Layers finish their backward pass
	// from the last to the first, so the bucket is complete once layer is.
	layer int
}

// planBuckets cuts the gradient of net into buckets of whole layers, from
// the last layer to the first, each of at least minValues values unless it
// holds the first layer. The plan depends only on the model, so every
// worker of a job derives the same collectives.
func planBuckets(net *nn.Network, layers, minValues int) []bucket {
	var buckets []bucket
	hi := len(net.Grad())
	lo := hi
	for l := layers - 1; l >= 0; l-- {
		lo -= len(net.LayerGrad(l))
		if hi-lo >= minValues || l == 0 {
			buckets = append(buckets, bucket{lo: lo, hi: hi, layer: l})
			hi = lo
		}
	}
	return buckets
}

// bucketSequence returns the all-reduce sequence number of bucket i of
// step: step*buckets + i. The numbers grow with the step and, within a
// step, with the bucket, which is the order in which a worker issues them.
// A retried step runs in a new generation, where sequences start over.
func bucketSequence(step uint64, buckets, i int) uint64 {
	return step*uint64(buckets) + uint64(i)
}

// reduceTimes are the durations of a step's all-reduce, as StepResponse
// reports them.
type reduceTimes struct {
	total   time.Duration // time inside collectives
	overlap time.Duration // part of total before the backward pass ended
}

// backwardAndReduce runs the backward pass of dlogits, the gradient of the
// last Forward's logits, and sums the gradient over the ring bucket by
// bucket. A nil dlogits means a slice of no samples, whose zero gradient
// still takes part in every collective. Unless the job reduces after the
// backward pass, a bucket's collective starts as soon as its layers are
// final. It returns when the backward pass and every collective have ended,
// with the time the backward pass ended and the times of the collectives.
func (w *Worker) backwardAndReduce(ctx context.Context, r *replica, step uint64, dlogits []float32) (
	computeEnd time.Time, times reduceTimes, err error) {
	type result struct {
		spans [][2]time.Time
		err   error
	}
	ready := make(chan int, len(r.spec.Layers))
	done := make(chan result, 1)
	reduce := func() {
		spans, err := w.reduceBuckets(ctx, r, step, ready)
		done <- result{spans, err}
	}

	overlap := !r.job.GetReduceAfterBackward()
	var layerDone func(l int)
	if overlap {
		go reduce()
		layerDone = func(l int) { ready <- l }
	}
	if dlogits != nil {
		r.net.BackwardLayers(dlogits, layerDone)
	}
	computeEnd = time.Now()
	close(ready)
	if !overlap {
		go reduce()
	}
	res := <-done
	return computeEnd, overlapTimes(res.spans, computeEnd), res.err
}

// reduceBuckets sums r's gradient over the ring, bucket by bucket from the
// last layer's, each bucket as soon as it is complete. ready receives the
// layers whose gradient is final, from the last layer to the first, and is
// closed when all are. It returns the start and end of every collective.
// The first failure stops it, and the remaining buckets are not reduced.
func (w *Worker) reduceBuckets(ctx context.Context, r *replica, step uint64, ready <-chan int) ([][2]time.Time, error) {
	grad := r.net.Grad()
	final := len(r.spec.Layers) // the lowest layer known to be final
	spans := make([][2]time.Time, 0, len(r.buckets))
	for i, b := range r.buckets {
		for final > b.layer {
			l, ok := <-ready
			if !ok {
				final = 0
				break
			}
			final = l
		}
		start := time.Now()
		err := w.ring.AllReduceFloat32(ctx, bucketSequence(step, len(r.buckets), i), grad[b.lo:b.hi])
		spans = append(spans, [2]time.Time{start, time.Now()})
		if err != nil {
			return spans, fmt.Errorf("bucket %d of %d, gradient values %d to %d: %w",
				i+1, len(r.buckets), b.lo, b.hi-1, err)
		}
	}
	return spans, nil
}

// overlapTimes returns the time spent in the collectives of spans and the
// part of it before computeEnd.
func overlapTimes(spans [][2]time.Time, computeEnd time.Time) reduceTimes {
	var t reduceTimes
	for _, s := range spans {
		t.total += s[1].Sub(s[0])
		if s[0].Before(computeEnd) {
			end := s[1]
			if end.After(computeEnd) {
				end = computeEnd
			}
			t.overlap += end.Sub(s[0])
		}
	}
	return t
}

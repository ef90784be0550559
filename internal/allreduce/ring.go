package allreduce

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// plan is the layout of one collective as seen by one rank. Every member
// derives the same segments and frames from the same ring size, length and
// frame size.
type plan struct {
	rank          int
	size          int // members in the ring
	length        int // values in the vector
	frameElements int // maximum values per frame
}

func (p plan) next() int { return (p.rank + 1) % p.size }
func (p plan) prev() int { return (p.rank + p.size - 1) % p.size }

// steps returns the number of ring steps: size-1 of reduce-scatter, then
// size-1 of all-gather.
func (p plan) steps() int { return 2 * (p.size - 1) }

// sendSegment returns the segment that this rank sends at step k.
func (p plan) sendSegment(k int) int { return mod(p.rank-k, p.size) }

// recvSegment returns the segment that this rank receives at step k. It is
// the segment that the previous rank sends at step k.
func (p plan) recvSegment(k int) int { return mod(p.rank-k-1, p.size) }

// segment returns the bounds [lo, hi) of segment j. Segment j starts at
// floor(j*length/size), computed as j*q + j*r/size with q, r = length/size,
// length%size, so that no product overflows. Segment sizes differ by at
// most one, and when length < size some segments are empty.
func (p plan) segment(j int) (lo, hi int) {
	return p.segmentStart(j), p.segmentStart(j + 1)
}

func (p plan) segmentStart(j int) int {
	q, r := p.length/p.size, p.length%p.size
	return j*q + j*r/p.size
}

// frameCount returns the number of frames that segment j is cut into.
func (p plan) frameCount(j int) int {
	lo, hi := p.segment(j)
	return (hi - lo + p.frameElements - 1) / p.frameElements
}

// sendCount returns the number of frames that this rank sends in total.
func (p plan) sendCount() int {
	n := 0
	for k := range p.steps() {
		n += p.frameCount(p.sendSegment(k))
	}
	return n
}

// maxFrame returns the number of values in the largest frame.
func (p plan) maxFrame() int {
	lo, hi := p.segment(p.size - 1) // the last segment is among the largest
	return min(p.frameElements, hi-lo)
}

// span is the part of the vector that one frame carries at one ring step.
type span struct {
	step   int
	offset int
	count  int
}

// frame is one data message of the schedule to send: values starting at
// offset, as little-endian bytes.
type frame struct {
	step   int
	offset int
	data   []byte
}

// transport carries the frames of one collective between ring neighbours.
// The schedule calls send and closeSend from one goroutine and recv from
// another, at the same time.
type transport interface {
	// send sends f to the next rank. The transport may read f.data after
	// send returns, until the frame has reached the next rank, so the
	// schedule does not rewrite those bytes before then.
	send(ctx context.Context, f frame) error
	// closeSend ends the stream to the next rank after its last frame and
	// waits until the next rank has accepted the stream.
	closeSend(ctx context.Context) error
	// recv returns the next frame from the previous rank, in the order in
	// which it was sent, or io.EOF when the stream has ended. The caller
	// frees the frame once it has applied it.
	recv(ctx context.Context) (inFrame, error)
}

// runRing sums data over the ring in place: reduce-scatter, then all-gather.
// At step k rank r sends segment (r-k) mod N and receives segment
// (r-k-1) mod N from rank r-1. It adds received values during the first N-1
// steps and copies them during the rest. onReceive, if not nil, is called
// after each received frame has been applied.
//
// The first error stops both directions and is the one returned.
func runRing[E element](ctx context.Context, p plan, data []E, c codec[E], t transport,
	onReceive func(step, offset int)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		once  sync.Once
		first error
	)
	fail := func(err error) {
		once.Do(func() {
			first = err
			cancel(err)
		})
	}

	// The queue has room for every frame this rank sends, so the receiving
	// loop does not block on it. Step 0 sends this rank's own segment, which
	// comes back complete at step N-1, the first all-gather step.
	queue := make(chan span, p.sendCount())
	lo, hi := p.segment(p.rank)
	for offset := lo; offset < hi; offset += p.frameElements {
		queue <- span{step: 0, offset: offset, count: min(p.frameElements, hi-offset)}
	}

	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if err := sendFrames(ctx, p, data, c, t, queue); err != nil {
			fail(err)
		}
	}()
	if err := receiveFrames(ctx, p, data, c, t, queue, onReceive); err != nil {
		fail(err)
	}
	<-sent
	return first
}

// sendFrames sends the frames that the queue names, in queue order, then
// closes the stream.
func sendFrames[E element](ctx context.Context, p plan, data []E, c codec[E], t transport,
	queue <-chan span) error {
	// Frames go out from the vector's own memory on a little-endian
	// machine. Elsewhere wire mirrors the vector, and a region is encoded
	// into it right before it is sent, so the same argument covers both.
	wire := wireBytes(data, c.size)
	for range p.sendCount() {
		var sp span
		select {
		case sp = <-queue:
		case <-ctx.Done():
			return fmt.Errorf("allreduce: wait for the next frame to send to rank %d: %w",
				p.next(), context.Cause(ctx))
		}

		b := wire[c.size*sp.offset : c.size*(sp.offset+sp.count)]
		if !littleEndian {
			c.encode(b, data[sp.offset:sp.offset+sp.count])
		}
		if err := t.send(ctx, frame{step: sp.step, offset: sp.offset, data: b}); err != nil {
			return fmt.Errorf("allreduce: send frame step %d offset %d to rank %d: %w",
				sp.step, sp.offset, p.next(), err)
		}
	}
	if err := t.closeSend(ctx); err != nil {
		return fmt.Errorf("allreduce: close stream to rank %d: %w", p.next(), err)
	}
	return nil
}

// receiveFrames applies the frames of every step in schedule order and
// queues each received region to be sent on at the next step.
func receiveFrames[E element](ctx context.Context, p plan, data []E, c codec[E], t transport,
	queue chan<- span, onReceive func(step, offset int)) error {
	last := p.steps() - 1
	split := make([]byte, c.size)
	for k := 0; k <= last; k++ {
		lo, hi := p.segment(p.recvSegment(k))
		for offset := lo; offset < hi; offset += p.frameElements {
			want := span{step: k, offset: offset, count: min(p.frameElements, hi-offset)}
			f, err := t.recv(ctx)
			if err == io.EOF {
				return fmt.Errorf("allreduce: stream from rank %d ended before frame step %d offset %d",
					p.prev(), k, offset)
			}
			if err != nil {
				return fmt.Errorf("allreduce: receive frame step %d offset %d from rank %d: %w",
					k, offset, p.prev(), err)
			}
			if f.step != want.step || f.offset != want.offset || f.data.length != c.size*want.count {
				f.free()
				return fmt.Errorf("allreduce: rank %d sent frame step %d offset %d of %d bytes, want step %d offset %d of %d bytes",
					p.prev(), f.step, f.offset, f.data.length, want.step, want.offset, c.size*want.count)
			}

			region := data[offset : offset+want.count]
			if k < p.size-1 {
				applyPayload(region, &f.data, c.size, c.add, split)
			} else {
				applyPayload(region, &f.data, c.size, c.load, split)
			}
			f.free()

			// The transport reads this region after send returns, while
			// this loop writes others. This rank writes the region again
			// only when it receives it at step k+N, in all-gather. Those
			// values are derived from the frame that this rank sends at
			// step k+1, after it has passed around the ring. So that write
			// causally follows the moment the next rank received the frame,
			// and grpc has read every byte of a frame before it can arrive.
			// The region sent at step 0 is written again at step N-1 for
			// the same reason.
			if k < last {
				queue <- span{step: k + 1, offset: offset, count: want.count}
			}
			if onReceive != nil {
				onReceive(k, offset)
			}
		}
	}

	f, err := t.recv(ctx)
	if err == nil {
		f.free()
		return fmt.Errorf("allreduce: rank %d sent frame step %d offset %d after the last step",
			p.prev(), f.step, f.offset)
	}
	if err != io.EOF {
		return fmt.Errorf("allreduce: receive end of stream from rank %d: %w", p.prev(), err)
	}
	return nil
}

// mod returns a mod n in [0, n) for n > 0.
func mod(a, n int) int {
	return ((a % n) + n) % n
}

package allreduce

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// errInboxFinished reports a read from an inbox that its own call has
// already finished, which is a bug in this package.
var errInboxFinished = errors.New("allreduce: read from a finished inbox")

// inboxKey names one collective: the generation of its view and its
// sequence number.
type inboxKey struct {
	generation uint64
	sequence   uint64
}

// inbox buffers the stream of one collective from the previous rank. The
// Exchange handler fills it as frames arrive, and the local call consumes
// it. Whichever starts first creates it, so a peer that starts its call
// before this member never waits for it. The frames buffered per collective
// are bounded by the vector size.
type inbox struct {
	key inboxKey

	changed  chan struct{} // signalled, capacity 1, when the stream state changes
	accepted chan struct{} // closed by the local call once the header matches
	done     chan struct{} // closed by finish

	mu sync.Mutex
	// Guarded by mu.
	header     *ringtrainpb.Frame
	frames     []inFrame // a queue: taken from head, appended at the end
	head       int
	ended      bool  // the stream ended after its last frame
	broken     error // the stream failed
	isAccepted bool
	rejection  error // the local call's reason to reject the header
	finished   bool
	result     error // the reason for finish, nil when the call succeeded
}

func newInbox(key inboxKey) *inbox {
	return &inbox{
		key:      key,
		changed:  make(chan struct{}, 1),
		accepted: make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// signal wakes the consumer without blocking.
func (ib *inbox) signal() {
	select {
	case ib.changed <- struct{}{}:
	default:
	}
}

// attach records the header of the stream that feeds ib. It returns false
// when another stream is already attached.
func (ib *inbox) attach(header *ringtrainpb.Frame) bool {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.header != nil {
		return false
	}
	ib.header = header
	ib.signal()
	return true
}

// senderRank returns the sender rank of the attached header.
func (ib *inbox) senderRank() uint32 {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.header.GetSenderRank()
}

// push appends a data frame. The inbox owns f from then on, and frees it
// at once if it is finished.
func (ib *inbox) push(f inFrame) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.finished {
		f.free()
		return
	}
	if ib.head == len(ib.frames) {
		// The queue is empty, so its storage is reused from the start.
		ib.frames, ib.head = ib.frames[:0], 0
	}
	ib.frames = append(ib.frames, f)
	ib.signal()
}

// buffered returns the number of frames waiting.
func (ib *inbox) buffered() int {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return len(ib.frames) - ib.head
}

// end records the end of the stream: err is nil when it ended normally.
func (ib *inbox) end(err error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if err == nil {
		ib.ended = true
	} else if ib.broken == nil {
		ib.broken = err
	}
	ib.signal()
}

// waitHeader waits for a stream to attach and returns its header.
func (ib *inbox) waitHeader(ctx context.Context) (*ringtrainpb.Frame, error) {
	for {
		ib.mu.Lock()
		header := ib.header
		ib.mu.Unlock()
		if header != nil {
			return header, nil
		}
		if err := ib.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// next removes and returns the oldest frame, which the caller frees. It
// returns io.EOF once the
// stream has ended and every frame has been taken. A broken stream is
// reported at once, even with frames left, because the collective cannot
// complete without the rest.
func (ib *inbox) next(ctx context.Context) (inFrame, error) {
	for {
		// A deadline that has passed is the cause of whatever else went
		// wrong at the same time, such as a peer that gave up on the same
		// deadline, so it is reported first.
		if err := contextError(ctx); err != nil {
			return inFrame{}, err
		}
		ib.mu.Lock()
		var (
			f  inFrame
			ok bool
		)
		broken, ended := ib.broken, ib.ended
		if broken == nil && ib.head < len(ib.frames) {
			f, ok = ib.frames[ib.head], true
			ib.frames[ib.head] = inFrame{}
			ib.head++
		}
		ib.mu.Unlock()

		switch {
		case ok:
			return f, nil
		case broken != nil:
			if err := contextError(ctx); err != nil {
				return inFrame{}, err
			}
			return inFrame{}, broken
		case ended:
			return inFrame{}, io.EOF
		}
		if err := ib.wait(ctx); err != nil {
			return inFrame{}, err
		}
	}
}

// contextError returns context.Cause(ctx) when ctx is done. It returns
// context.DeadlineExceeded as soon as the deadline has passed by the clock,
// even if the timer that ends ctx has not fired yet. gRPC ends a stream on
// the clock, so a peer may see the deadline's effects first.
func contextError(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// wait blocks until the stream state changes, ctx is done or ib is
// finished.
func (ib *inbox) wait(ctx context.Context) error {
	select {
	case <-ib.changed:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-ib.done:
		ib.mu.Lock()
		defer ib.mu.Unlock()
		if ib.result == nil {
			return errInboxFinished
		}
		return ib.result
	}
}

// accept signals to the handler that the local call accepted the header.
func (ib *inbox) accept() {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if !ib.isAccepted {
		ib.isAccepted = true
		close(ib.accepted)
	}
}

// reject records why the local call rejected the header, for the handler
// to send back to the previous rank.
func (ib *inbox) reject(err error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	ib.rejection = err
}

// finish releases the buffered frames and wakes the handler. The first
// result counts: nil when the local call succeeded, otherwise why the call
// failed or the inbox was dropped.
func (ib *inbox) finish(result error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.finished {
		return
	}
	ib.finished = true
	ib.result = result
	for i := ib.head; i < len(ib.frames); i++ {
		ib.frames[i].free()
	}
	ib.frames, ib.head = nil, 0
	close(ib.done)
}

// outcome returns the result given to finish and the rejection, if any.
func (ib *inbox) outcome() (result, rejection error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.result, ib.rejection
}

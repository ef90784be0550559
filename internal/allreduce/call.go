package allreduce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/mem"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// Stats describes the last collective that succeeded.
type Stats struct {
	Sequence      uint64
	BytesSent     int64 // payload bytes sent to the next rank
	BytesReceived int64 // payload bytes received from the previous rank
	Duration      time.Duration
}

// call is one AllReduce call that is using the ring.
type call struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	key    inboxKey
	ib     *inbox
	view   View
	client ringtrainpb.RingClient
}

// AllReduceFloat32 replaces data with its sum over all members of the
// current view. Every member calls it with the same sequence number and
// the same length. The result is bit-identical on every member. On error
// the contents of data are undefined.
//
// Within a generation each sequence number runs once, and sequence numbers
// increase: once a sequence has completed, lower ones are rejected as
// stale. Collectives of different sequence numbers may run concurrently.
//
// It fails with ctx's error when ctx is done, with [ErrStaleGeneration] when
// the view changes during the call, with [ErrStopped] after
// [Service.Close], and with a [LayoutError] when a neighbour's call has
// another length, frame size or element type. In a ring of one it returns
// at once.
func (s *Service) AllReduceFloat32(ctx context.Context, sequence uint64, data []float32) error {
	return allReduce(ctx, s, sequence, data, float32Codec)
}

// AllReduceInt64 replaces data with its sum over all members of the current
// view, like [Service.AllReduceFloat32]. Sums wrap around on overflow, as Go
// int64 addition does, so they are exact modulo 2^64 in any order.
func (s *Service) AllReduceInt64(ctx context.Context, sequence uint64, data []int64) error {
	return allReduce(ctx, s, sequence, data, int64Codec)
}

func allReduce[E element](ctx context.Context, s *Service, sequence uint64, data []E, c codec[E]) error {
	start := time.Now()
	cl, err := s.beginCall(ctx, sequence)
	if err != nil || cl == nil {
		return err
	}

	p := plan{
		rank:          cl.view.Rank,
		size:          len(cl.view.Peers),
		length:        len(data),
		frameElements: s.cfg.FrameElements,
	}
	link := &grpcLink{
		client: cl.client,
		header: &ringtrainpb.Frame{
			Generation:    cl.key.generation,
			Sequence:      cl.key.sequence,
			SenderRank:    uint32(p.rank),
			RingSize:      uint32(p.size),
			Length:        uint64(p.length),
			FrameElements: uint32(p.frameElements),
			Element:       c.name,
		},
		local: Layout{RingSize: p.size, Length: p.length, FrameElements: p.frameElements, Element: c.name},
		next:  p.next(),
		prev:  p.prev(),
		abort: cl.cancel,
		ib:    cl.ib,
	}
	sending := s.takeSendState(p.sendCount())
	link.out, link.release = sending.out, sending.release
	var onReceive func(step, offset int)
	if hook := s.receiveHook.Load(); hook != nil {
		onReceive = *hook
	}

	err = runRing(cl.ctx, p, data, c, link, onReceive)
	link.wait()
	if link.awaitRelease() {
		s.putSendState(sending)
	} else {
		// NOTE: grpc may still read data while the caller rewrites it.
		// The bytes go to a stream that has failed, so no member applies
		// them. The frames' storage is left to the garbage collector.
		s.logger.Warn("allreduce returns before grpc released the vector", "generation", cl.key.generation,
			"sequence", sequence, "rank", p.rank, "timeout", releaseTimeout)
	}
	if err != nil && cl.ctx.Err() != nil && ctx.Err() == nil {
		// A view change, Close or the end of the outgoing stream failed the
		// call from outside the schedule. That cause explains more than the
		// step at which the schedule happened to be waiting.
		err = context.Cause(cl.ctx)
	}
	stats := Stats{
		Sequence:      sequence,
		BytesSent:     link.bytesSent,
		BytesReceived: link.bytesReceived,
		Duration:      time.Since(start),
	}
	s.endCall(cl, err, stats)
	if err != nil {
		s.logger.Debug("allreduce failed", "generation", cl.key.generation, "sequence", sequence,
			"rank", p.rank, "err", err)
		return err
	}
	s.logger.Debug("allreduce done", "generation", cl.key.generation, "sequence", sequence,
		"rank", p.rank, "bytes_sent", stats.BytesSent, "duration", stats.Duration)
	return nil
}

// sendState is the storage of one call's outgoing frames. A call takes it
// from the service and returns it once grpc has released every frame, so
// that later calls send without allocating.
type sendState struct {
	out     []outFrame
	release *releaseCounter
}

// takeSendState returns storage for the given number of outgoing frames.
func (s *Service) takeSendState(frames int) *sendState {
	st, _ := s.sendStates.Get().(*sendState)
	if st == nil {
		st = &sendState{release: newReleaseCounter()}
	}
	if cap(st.out) < frames {
		st.out = make([]outFrame, frames)
	}
	st.out = st.out[:frames]
	return st
}

// putSendState keeps st for a later call. grpc must have released all its
// frames. The references to the vector are dropped, so that st does not
// keep it alive.
func (s *Service) putSendState(st *sendState) {
	for i := range st.out {
		f := &st.out[i]
		f.payload, f.data, f.buffers = nil, nil, [2]mem.Buffer{}
	}
	s.sendStates.Put(st)
}

// beginCall registers a call of sequence in the current view. It returns a
// nil call for a ring of one, which has nothing to exchange.
func (s *Service) beginCall(ctx context.Context, sequence uint64) (*call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("allreduce: sequence %d: %w", sequence, ErrStopped)
	}
	if !s.hasView {
		return nil, errors.New("allreduce: no view installed: call SetView before the first collective")
	}
	if len(s.view.Peers) == 1 {
		return nil, nil
	}

	key := inboxKey{generation: s.view.Generation, sequence: sequence}
	if _, ok := s.calls[key]; ok {
		return nil, fmt.Errorf("allreduce: sequence %d of generation %d is already in progress; give each collective its own sequence number",
			sequence, key.generation)
	}
	if err := s.checkSequence(key); err != nil {
		return nil, err
	}
	ib := s.inboxes[key]
	if ib == nil {
		ib = newInbox(key)
		s.inboxes[key] = ib
	}
	callCtx, cancel := context.WithCancelCause(ctx)
	cl := &call{ctx: callCtx, cancel: cancel, key: key, ib: ib, view: s.view, client: s.client}
	s.calls[key] = cl
	s.running.Add(1)
	return cl, nil
}

// checkSequence returns an error if the collective named by key has ended
// or is older than a completed one. The caller holds s.mu.
func (s *Service) checkSequence(key inboxKey) error {
	if result, ok := s.ended[key]; ok {
		if result == nil {
			return fmt.Errorf("allreduce: sequence %d of generation %d has already completed",
				key.sequence, key.generation)
		}
		return fmt.Errorf("allreduce: sequence %d of generation %d has already failed; retry with a new generation: %w",
			key.sequence, key.generation, result)
	}
	if s.hasCompleted && key.sequence < s.completed {
		return fmt.Errorf("allreduce: sequence %d of generation %d is older than completed sequence %d",
			key.sequence, key.generation, s.completed)
	}
	return nil
}

// endCall unregisters cl and finishes its inbox, which ends the handler of
// the previous rank's stream with the call's outcome.
func (s *Service) endCall(cl *call, err error, stats Stats) {
	s.mu.Lock()
	if s.calls[cl.key] == cl {
		delete(s.calls, cl.key)
	}
	if s.inboxes[cl.key] == cl.ib {
		delete(s.inboxes, cl.key)
	}
	if cl.key.generation == s.view.Generation {
		s.ended[cl.key] = err
		if err == nil {
			s.stats = stats
			s.completeSequence(cl.key)
		}
	}
	s.mu.Unlock()

	cl.ib.finish(err)
	cl.cancel(nil)
	s.running.Done()
}

// completeSequence records that key succeeded. Collectives of lower
// sequence numbers are stale from then on: their inboxes are dropped unless
// a call consumes them, and their results are forgotten because new
// streams for them are rejected anyway. The caller holds s.mu.
func (s *Service) completeSequence(key inboxKey) {
	if s.hasCompleted && key.sequence <= s.completed {
		return
	}
	s.completed, s.hasCompleted = key.sequence, true
	for k := range s.ended {
		if k.sequence < key.sequence {
			delete(s.ended, k)
		}
	}
	for k, ib := range s.inboxes {
		if k.sequence >= key.sequence || s.calls[k] != nil {
			continue
		}
		ib.finish(fmt.Errorf("allreduce: sequence %d superseded by completed sequence %d",
			k.sequence, key.sequence))
		delete(s.inboxes, k)
	}
}

// LastStats returns the statistics of the last collective that succeeded.
func (s *Service) LastStats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

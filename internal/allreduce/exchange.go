package allreduce

import (
	"context"
	"fmt"
	"io"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// received is one result of Recv on an Exchange stream.
type received struct {
	frame inFrame
	err   error
}

// Exchange implements [ringtrainpb.RingServer]. It reads the previous
// rank's stream into the inbox of its collective as fast as frames arrive,
// whether or not the local call has started, so that a peer's sending does
// not wait for this member's call. It returns once the local call has
// accepted the header and the stream has ended, or as soon as the local
// call ends.
//
// It rejects a generation other than the current view's with
// codes.FailedPrecondition and a header that does not match the local call
// with codes.InvalidArgument.
func (s *Service) Exchange(stream ringtrainpb.Ring_ExchangeServer) error {
	if !s.beginHandler() {
		return status.Error(codes.Unavailable, ErrStopped.Error())
	}
	defer s.handlers.Done()

	// Recv runs in its own goroutine so that the handler can return while
	// Recv blocks. Returning ends the stream, which ends that Recv.
	msgs := make(chan received)
	quit := make(chan struct{})
	defer close(quit)
	ctx := stream.Context()
	go readStream(stream, usesFrameCodec(ctx), msgs, quit)

	var header *ringtrainpb.Frame
	select {
	case m := <-msgs:
		if m.err == io.EOF {
			return status.Error(codes.InvalidArgument, "allreduce: stream ended before its header")
		}
		if m.err != nil {
			return m.err
		}
		header = m.frame.message()
		m.frame.free()
	case <-s.stopped:
		return status.Error(codes.Unavailable, ErrStopped.Error())
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}

	ib, rank, err := s.attach(header)
	if err != nil {
		s.logger.Warn("allreduce rejected stream", "generation", header.GetGeneration(),
			"sequence", header.GetSequence(), "peer_rank", header.GetSenderRank(), "err", err)
		return err
	}
	return s.serveStream(stream, ib, rank, msgs)
}

// beginHandler counts a handler in, unless the service is closed.
func (s *Service) beginHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

// usesFrameCodec reports whether the client of the stream in ctx encodes
// frames with [frameCodec]. Any other client uses grpc's proto codec.
func usesFrameCodec(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return slices.Contains(md.Get("content-type"), "application/grpc+"+frameCodecName)
}

// readStream passes every message of stream to msgs until Recv fails or
// quit is closed. A message that quit keeps from being passed on is freed.
func readStream(stream ringtrainpb.Ring_ExchangeServer, frameCodec bool, msgs chan<- received,
	quit <-chan struct{}) {
	var f inFrame
	for {
		var err error
		if frameCodec {
			f = inFrame{}
			err = stream.RecvMsg(&f)
		} else {
			var msg *ringtrainpb.Frame
			if msg, err = stream.Recv(); err == nil {
				f = frameFromProto(msg)
			}
		}
		select {
		case msgs <- received{frame: f, err: err}:
		case <-quit:
			f.free()
			return
		}
		if err != nil {
			return
		}
	}
}

// attach finds or creates the inbox that header names and attaches the
// stream to it. It returns the local rank, for error messages.
func (s *Service) attach(header *ringtrainpb.Frame) (*inbox, int, error) {
	if len(header.GetData()) > 0 {
		return nil, 0, status.Error(codes.InvalidArgument,
			"allreduce: first frame carries data; a stream must start with a header")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, status.Error(codes.Unavailable, ErrStopped.Error())
	}
	if !s.hasView {
		return nil, 0, status.Errorf(codes.FailedPrecondition,
			"allreduce: generation %d rejected: this member has no view installed", header.GetGeneration())
	}
	if header.GetGeneration() != s.view.Generation {
		return nil, 0, status.Errorf(codes.FailedPrecondition,
			"allreduce: generation %d rejected: rank %d is at generation %d",
			header.GetGeneration(), s.view.Rank, s.view.Generation)
	}

	key := inboxKey{generation: header.GetGeneration(), sequence: header.GetSequence()}
	if err := s.checkSequence(key); err != nil {
		return nil, 0, status.Errorf(codes.Aborted, "allreduce: rank %d rejected the stream: %v", s.view.Rank, err)
	}
	ib := s.inboxes[key]
	if ib == nil {
		ib = newInbox(key)
		s.inboxes[key] = ib
	}
	if !ib.attach(header) {
		return nil, 0, status.Errorf(codes.AlreadyExists,
			"allreduce: rank %d already has a stream for sequence %d of generation %d",
			s.view.Rank, key.sequence, key.generation)
	}
	return ib, s.view.Rank, nil
}

// serveStream moves the stream's frames into ib. It returns at the points
// that [Service.Exchange] describes.
func (s *Service) serveStream(stream ringtrainpb.Ring_ExchangeServer, ib *inbox, rank int,
	msgs <-chan received) error {
	ctx := stream.Context()
	sender := ib.senderRank()
	accepted := ib.accepted
	ended := false
	for {
		select {
		case m := <-msgs:
			if m.err == io.EOF {
				ib.end(nil)
				ended, msgs = true, nil
				if accepted == nil {
					return stream.SendAndClose(&ringtrainpb.ExchangeResponse{})
				}
				continue
			}
			if m.err != nil {
				ib.end(fmt.Errorf("stream from rank %d broke: %w", sender, m.err))
				return m.err
			}
			ib.push(m.frame)

		case <-accepted:
			accepted = nil
			if ended {
				return stream.SendAndClose(&ringtrainpb.ExchangeResponse{})
			}

		case <-ib.done:
			result, rejection := ib.outcome()
			if err := resultStatus(rank, ib.key, result, rejection); err != nil {
				return err
			}
			return stream.SendAndClose(&ringtrainpb.ExchangeResponse{})

		case <-ctx.Done():
			// %v, not %w: the peer's cancellation is not the local
			// caller's, so errors.Is must not match context.Canceled.
			ib.end(fmt.Errorf("stream from rank %d broke: %v", sender, ctx.Err()))
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

package allreduce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// grpcLink is the [transport] of one collective over gRPC. Frames to the
// next rank go out on an Exchange stream. Frames from the previous rank come
// from the inbox that this service's Exchange handler fills.
type grpcLink struct {
	client ringtrainpb.RingClient
	header *ringtrainpb.Frame // first message of the outgoing stream
	local  Layout
	next   int
	prev   int
	// abort fails the whole call, for an outgoing stream that the next rank
	// ended early while this rank was not sending.
	abort context.CancelCauseFunc

	// Used only by the sending goroutine.
	stream    ringtrainpb.Ring_ExchangeClient
	bytesSent int64
	out       []outFrame // one per frame sent, because grpc reads them late
	sent      int        // frames sent so far
	release   *releaseCounter

	// Set by the goroutine that waits for the end of the outgoing stream.
	ended     chan struct{} // closed when it returns
	endResult error         // the stream's status; nil when it succeeded

	// Used only by the receiving goroutine.
	ib            *inbox
	accepted      bool
	bytesReceived int64
}

// open starts the stream to the next rank and sends the header, unless the
// stream is already open.
func (l *grpcLink) open(ctx context.Context) error {
	if l.stream != nil {
		return nil
	}
	stream, err := l.client.Exchange(ctx, grpc.CallContentSubtype(frameCodecName))
	if err != nil {
		return fmt.Errorf("open stream: %w", l.streamError(ctx, err))
	}
	l.stream = stream
	l.ended = make(chan struct{})
	go l.awaitEnd(ctx)
	if err := stream.Send(l.header); err != nil {
		return fmt.Errorf("send header: %w", l.sendError(ctx, err))
	}
	return nil
}

// awaitEnd waits for the status of the outgoing stream. The next rank may
// reject the stream at any time, and SendMsg reports that only on a later
// call, if any, so a rank with nothing left to send would wait for the
// deadline. A stream that ends before closeSend fails the call at once.
func (l *grpcLink) awaitEnd(ctx context.Context) {
	defer close(l.ended)
	err := l.stream.RecvMsg(new(ringtrainpb.ExchangeResponse))
	if err == nil {
		return
	}
	l.endResult = l.streamError(ctx, err)
	if contextError(ctx) == nil {
		l.abort(fmt.Errorf("allreduce: stream to rank %d: %w", l.next, l.endResult))
	}
}

// wait waits until the goroutine started by open has returned. Call it
// after ctx of open is done or closeSend has returned.
func (l *grpcLink) wait() {
	if l.ended != nil {
		<-l.ended
	}
}

func (l *grpcLink) send(ctx context.Context, f frame) error {
	if err := l.open(ctx); err != nil {
		return err
	}
	out := &l.out[l.sent]
	l.sent++
	out.step, out.offset, out.payload, out.release = f.step, f.offset, f.data, l.release
	if err := l.stream.SendMsg(out); err != nil {
		return l.sendError(ctx, err)
	}
	l.bytesSent += int64(len(f.data))
	return nil
}

func (l *grpcLink) closeSend(ctx context.Context) error {
	if err := l.open(ctx); err != nil {
		return err
	}
	if err := l.stream.CloseSend(); err != nil {
		return l.streamError(ctx, err)
	}
	select {
	case <-l.ended:
		return l.endResult
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (l *grpcLink) recv(ctx context.Context) (inFrame, error) {
	if !l.accepted {
		if err := l.acceptHeader(ctx); err != nil {
			return inFrame{}, err
		}
		l.accepted = true
	}
	f, err := l.ib.next(ctx)
	if err != nil {
		return inFrame{}, err
	}
	l.bytesReceived += int64(f.data.length)
	return f, nil
}

// releaseTimeout bounds how long a call waits for grpc to release the
// frames it sent. grpc releases a frame once it has copied the frame into
// its write buffer, or dropped it with a failed stream. It releases the
// dropped ones only after a blocked socket write returns, which takes as
// long as the peer takes to read.
const releaseTimeout = time.Second

// awaitRelease waits until grpc has released every frame sent, so that the
// caller may reuse the vector. It returns false when releaseTimeout passed
// first.
func (l *grpcLink) awaitRelease() bool {
	if l.release.pending.Load() == 0 {
		return true
	}
	timer := time.NewTimer(releaseTimeout)
	defer timer.Stop()
	for l.release.pending.Load() != 0 {
		select {
		case <-l.release.released:
		case <-timer.C:
			return false
		}
	}
	return true
}

// acceptHeader waits for the previous rank's header and checks it against
// the local call before any of its values are applied. On a mismatch the
// handler sends the rejection back, so that both sides fail.
func (l *grpcLink) acceptHeader(ctx context.Context) error {
	h, err := l.ib.waitHeader(ctx)
	if err != nil {
		return fmt.Errorf("wait for the stream header: %w", err)
	}
	remote := Layout{
		RingSize:      int(h.GetRingSize()),
		Length:        int(h.GetLength()),
		FrameElements: int(h.GetFrameElements()),
		Element:       h.GetElement(),
	}
	if remote != l.local {
		err := &LayoutError{Rank: int(h.GetSenderRank()), Local: l.local, Remote: remote}
		l.ib.reject(err)
		return err
	}
	if int(h.GetSenderRank()) != l.prev {
		err := fmt.Errorf("allreduce: stream from rank %d, want rank %d: the members disagree on the ring of generation %d",
			h.GetSenderRank(), l.prev, h.GetGeneration())
		l.ib.reject(err)
		return err
	}
	l.ib.accept()
	return nil
}

// sendError converts an error of SendMsg. SendMsg returns io.EOF when the
// next rank ended the stream or the stream broke. The status that explains
// it comes from awaitEnd.
func (l *grpcLink) sendError(ctx context.Context, err error) error {
	if err != io.EOF {
		return l.streamError(ctx, err)
	}
	select {
	case <-l.ended:
		if l.endResult == nil {
			return fmt.Errorf("rank %d ended the stream before the last frame", l.next)
		}
		return l.endResult
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// streamError maps a status from the next rank back to this package's
// errors.
func (l *grpcLink) streamError(ctx context.Context, err error) error {
	// A done ctx is the cause of whatever else failed at the same time.
	if err := contextError(ctx); err != nil {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.FailedPrecondition:
		return fmt.Errorf("rank %d rejected the stream: %s: %w", l.next, st.Message(), ErrStaleGeneration)
	case codes.InvalidArgument:
		if remote, ok := layoutFromStatus(st); ok {
			return &LayoutError{Rank: l.next, Local: l.local, Remote: remote}
		}
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", st.Message(), context.DeadlineExceeded)
	}
	return err
}

// The ErrorInfo of a layout rejection carries the receiving side's layout.
const (
	errorDomain  = "allreduce.ringtrain"
	layoutReason = "LAYOUT_MISMATCH"
)

// layoutStatus returns the status with which the handler rejects a stream
// whose header does not match the local call. Its ErrorInfo carries the
// local layout, from which the sender builds its own [LayoutError].
func layoutStatus(le *LayoutError) error {
	st := status.New(codes.InvalidArgument, le.Error())
	info := &errdetails.ErrorInfo{
		Reason: layoutReason,
		Domain: errorDomain,
		Metadata: map[string]string{
			"ringSize":      strconv.Itoa(le.Local.RingSize),
			"length":        strconv.Itoa(le.Local.Length),
			"frameElements": strconv.Itoa(le.Local.FrameElements),
			"element":       le.Local.Element,
		},
	}
	if detailed, err := st.WithDetails(info); err == nil {
		st = detailed
	}
	return st.Err()
}

// layoutFromStatus returns the layout carried by a status from
// [layoutStatus].
func layoutFromStatus(st *status.Status) (Layout, bool) {
	for _, detail := range st.Details() {
		info, ok := detail.(*errdetails.ErrorInfo)
		if !ok || info.GetReason() != layoutReason || info.GetDomain() != errorDomain {
			continue
		}
		md := info.GetMetadata()
		ringSize, err1 := strconv.Atoi(md["ringSize"])
		length, err2 := strconv.Atoi(md["length"])
		frameElements, err3 := strconv.Atoi(md["frameElements"])
		if err := errors.Join(err1, err2, err3); err != nil {
			return Layout{}, false
		}
		return Layout{RingSize: ringSize, Length: length, FrameElements: frameElements, Element: md["element"]}, true
	}
	return Layout{}, false
}

// resultStatus returns the status with which the handler ends the stream
// of a collective whose inbox was finished with result.
func resultStatus(rank int, key inboxKey, result, rejection error) error {
	var le *LayoutError
	switch {
	case errors.As(rejection, &le):
		return layoutStatus(le)
	case rejection != nil:
		return status.Error(codes.InvalidArgument, rejection.Error())
	case result == nil:
		return nil
	case errors.Is(result, ErrStaleGeneration):
		return status.Error(codes.FailedPrecondition, result.Error())
	case errors.Is(result, ErrStopped):
		return status.Errorf(codes.Unavailable, "allreduce: rank %d stopped: %v", rank, result)
	}
	return status.Errorf(codes.Aborted, "allreduce: rank %d abandoned sequence %d of generation %d: %v",
		rank, key.sequence, key.generation, result)
}

package allreduce

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

func TestInboxFramesThenEOF(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{generation: 1, sequence: 1})
	if !ib.attach(&ringtrainpb.Frame{SenderRank: 2}) {
		t.Fatal("attach to a new inbox failed")
	}
	for offset := range 3 {
		ib.push(inFrame{offset: offset})
	}
	ib.end(nil)

	ctx := t.Context()
	for want := range 3 {
		f, err := ib.next(ctx)
		if err != nil {
			t.Fatalf("next() error = %v, want frame %d", err, want)
		}
		if f.offset != want {
			t.Errorf("next() returned offset %d, want %d", f.offset, want)
		}
	}
	if _, err := ib.next(ctx); err != io.EOF {
		t.Errorf("next() after the last frame = %v, want io.EOF", err)
	}
}

func TestInboxSecondAttachFails(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{})
	ib.attach(&ringtrainpb.Frame{})
	if ib.attach(&ringtrainpb.Frame{}) {
		t.Error("second attach succeeded, want false")
	}
}

func TestInboxBrokenStreamComesFirst(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{})
	ib.push(inFrame{})
	broken := errors.New("connection reset")
	ib.end(broken)
	if _, err := ib.next(t.Context()); !errors.Is(err, broken) {
		t.Errorf("next() = %v, want %v before the buffered frame", err, broken)
	}
}

func TestInboxNextWaitsForFrame(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{})
	// The delay lets next block first. The test passes either way.
	go func() {
		time.Sleep(10 * time.Millisecond)
		ib.push(inFrame{offset: 7})
	}()
	f, err := ib.next(t.Context())
	if err != nil || f.offset != 7 {
		t.Errorf("next() = %v, %v; want the frame at offset 7", f, err)
	}
}

func TestInboxNextReturnsContextCause(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{})
	ib.push(inFrame{})
	cause := errors.New("view changed")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(cause)
	if _, err := ib.next(ctx); !errors.Is(err, cause) {
		t.Errorf("next() with a cancelled context = %v, want %v", err, cause)
	}
	if _, err := ib.waitHeader(ctx); !errors.Is(err, cause) {
		t.Errorf("waitHeader() with a cancelled context = %v, want %v", err, cause)
	}
}

func TestInboxFinishWakesReader(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{})
	stale := errors.New("stale")
	go ib.finish(stale)
	if _, err := ib.waitHeader(t.Context()); !errors.Is(err, stale) {
		t.Errorf("waitHeader() on a finished inbox = %v, want %v", err, stale)
	}
	ib.finish(nil) // a second finish keeps the first result
	if result, _ := ib.outcome(); !errors.Is(result, stale) {
		t.Errorf("outcome() = %v, want %v", result, stale)
	}
	ib.push(inFrame{})
	if n := ib.buffered(); n != 0 {
		t.Errorf("finished inbox holds %d frames, want 0", n)
	}
}

func TestInboxAcceptTwice(t *testing.T) {
	t.Parallel()
	ib := newInbox(inboxKey{})
	ib.accept()
	ib.accept()
	select {
	case <-ib.accepted:
	default:
		t.Error("accepted is open after accept")
	}
}

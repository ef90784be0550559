package allreduce_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ringtrain/ringtrain/internal/allreduce"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// sendRawHeader opens an Exchange stream to addr by hand, sends header and
// ends the stream. It returns the stream's error.
func sendRawHeader(t *testing.T, addr string, header *ringtrainpb.Frame) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	stream, err := ringtrainpb.NewRingClient(conn).Exchange(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(header); err != nil && err != io.EOF {
		return err
	}
	_, err = stream.CloseAndRecv()
	return err
}

func TestLayoutMismatchFailsBothSides(t *testing.T) {
	tests := []struct {
		name           string
		frame0, frame1 int
		length0        int
		length1        int
		want0, want1   string // text that each side's error must contain
	}{
		{
			name:   "length",
			frame0: 65536, frame1: 65536,
			length0: 85170, length1: 85169,
			want0: "local length 85170 frame 65536, remote length 85169 frame 65536",
			want1: "local length 85169 frame 65536, remote length 85170 frame 65536",
		},
		{
			name:   "frame size",
			frame0: 65536, frame1: 1024,
			length0: 85170, length1: 85170,
			want0: "local length 85170 frame 65536, remote length 85170 frame 1024",
			want1: "local length 85170 frame 1024, remote length 85170 frame 65536",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			members := []*member{
				startMember(t, allreduce.Config{FrameElements: tt.frame0}),
				startMember(t, allreduce.Config{FrameElements: tt.frame1}),
			}
			setView(t, members, 1)
			rng := rand.New(rand.NewPCG(1, 1))
			inputs := [][]float32{
				randomFloat32s(rng, 1, tt.length0)[0],
				randomFloat32s(rng, 1, tt.length1)[0],
			}
			data := cloneAll(inputs)
			ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
			defer cancel()
			errs := allReduceFloat32(ctx, members, 1, data)

			for rank, want := range []string{tt.want0, tt.want1} {
				t.Logf("rank %d: %v", rank, errs[rank])
				var layoutErr *allreduce.LayoutError
				if !errors.As(errs[rank], &layoutErr) {
					t.Errorf("rank %d: error = %v, want a LayoutError", rank, errs[rank])
					continue
				}
				if layoutErr.Rank != 1-rank {
					t.Errorf("rank %d: LayoutError.Rank = %d, want %d", rank, layoutErr.Rank, 1-rank)
				}
				if !strings.Contains(errs[rank].Error(), want) {
					t.Errorf("rank %d: error %q does not contain %q", rank, errs[rank], want)
				}
				// No value may move before the layouts agree.
				if !slices.Equal(inputs[rank], data[rank]) {
					t.Errorf("rank %d: data changed by a failed collective (-want +got):\n%s",
						rank, cmp.Diff(inputs[rank], data[rank]))
				}
			}
		})
	}
}

func TestLayoutMismatchElementType(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- members[0].svc.AllReduceFloat32(ctx, 1, make([]float32, 10)) }()
	go func() { errs <- members[1].svc.AllReduceInt64(ctx, 1, make([]int64, 10)) }()
	for range 2 {
		err := <-errs
		var layoutErr *allreduce.LayoutError
		if !errors.As(err, &layoutErr) {
			t.Errorf("error = %v, want a LayoutError", err)
			continue
		}
		if layoutErr.Local.Element == layoutErr.Remote.Element {
			t.Errorf("LayoutError %+v has the same element type on both sides", layoutErr)
		}
		for _, name := range []string{"float32", "int64"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name element type %s", err, name)
			}
		}
	}
}

func TestLayoutMismatchRingOfThree(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 3, allreduce.DefaultConfig())
	data := [][]float32{make([]float32, 1000), make([]float32, 999), make([]float32, 1000)}
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	errs := allReduceFloat32(ctx, members, 1, data)

	// Rank 1 disagrees with both of its neighbours. The others may first
	// see the failure spread from their other neighbour.
	var layoutErr *allreduce.LayoutError
	if !errors.As(errs[1], &layoutErr) {
		t.Errorf("rank 1: error = %v, want a LayoutError", errs[1])
	}
	for rank, err := range errs {
		t.Logf("rank %d: %v", rank, err)
		if err == nil {
			t.Errorf("rank %d succeeded, want an error", rank)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("rank %d: error = %v, want a failure before the deadline", rank, err)
		}
	}
}

func TestExchangeRejectsBadStreams(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	header := func(generation, sequence uint64) *ringtrainpb.Frame {
		return &ringtrainpb.Frame{Generation: generation, Sequence: sequence, SenderRank: 1, RingSize: 2,
			Length: 10, FrameElements: allreduce.DefaultFrameElements, Element: "float32"}
	}
	withData := header(1, 2)
	withData.Data = []byte{1, 2, 3, 4}

	tests := []struct {
		name   string
		header *ringtrainpb.Frame
		want   codes.Code
	}{
		{"older generation", header(0, 1), codes.FailedPrecondition},
		{"newer generation", header(2, 1), codes.FailedPrecondition},
		{"header with data", withData, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sendRawHeader(t, members[0].addr, tt.header)
			if got := status.Code(err); got != tt.want {
				t.Errorf("stream ended with %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestExchangeRejectsSecondStream(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	conn, err := grpc.NewClient(members[0].addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	header := &ringtrainpb.Frame{Generation: 1, Sequence: 7, SenderRank: 1, RingSize: 2,
		Length: 10, FrameElements: allreduce.DefaultFrameElements, Element: "float32"}

	// The first stream stays open, waiting for a local call of sequence 7.
	// Its data frame shows when the header has been attached.
	first, err := ringtrainpb.NewRingClient(conn).Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Send(header); err != nil {
		t.Fatal(err)
	}
	if err := first.Send(&ringtrainpb.Frame{Data: make([]byte, 40)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if got := allreduce.BufferedFrames(members[0].svc); got != 1 {
			return fmt.Errorf("rank 0 buffered %d frames, want 1", got)
		}
		return nil
	})

	err = sendRawHeader(t, members[0].addr, header)
	if got := status.Code(err); got != codes.AlreadyExists {
		t.Errorf("second stream ended with %v (%v), want AlreadyExists", got, err)
	}
}

func TestExchangeBuffersBeforeLocalCall(t *testing.T) {
	checkGoroutines(t)
	// Windows far smaller than a frame: rank 0 can finish sending only if
	// rank 1 reads its frames before its own call starts.
	const window = 64 << 10
	cfg := allreduce.Config{
		FrameElements: 65536,
		DialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
		},
	}
	members := startCluster(t, 2, cfg, grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window))
	const length = 10 * 65536
	inputs := randomFloat32s(rand.New(rand.NewPCG(1, 1)), 2, length)
	results := cloneAll(inputs)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()

	first := make(chan error, 1)
	go func() { first <- members[0].svc.AllReduceFloat32(ctx, 1, results[0]) }()
	// Segment 0 is 5 frames, all sent at step 0.
	waitFor(t, func() error {
		if got := allreduce.BufferedFrames(members[1].svc); got != 5 {
			return fmt.Errorf("rank 1 buffered %d frames, want 5", got)
		}
		return nil
	})

	second := members[1].svc.AllReduceFloat32(ctx, 1, results[1])
	requireNoErrors(t, []error{<-first, second})
	checkFloat32Results(t, inputs, results)
}

package allreduce_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

func TestAllReduceSmallFlowControlWindows(t *testing.T) {
	checkGoroutines(t)
	// 1 MiB frames through 64 KiB HTTP/2 windows, stream and connection.
	const window = 64 << 10
	const frameElements = 262_144
	cfg := allreduce.Config{
		FrameElements: frameElements,
		DialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
		},
	}
	members := startCluster(t, 3, cfg, grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window))

	// Three frames per segment, the last one short.
	length := 3 * (2*frameElements + 1000)
	if raceEnabled {
		length = 3 * (frameElements + 1000)
	}
	inputs := randomFloat32s(rand.New(rand.NewPCG(1, 1)), 3, length)
	results := cloneAll(inputs)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	requireNoErrors(t, allReduceFloat32(ctx, members, 1, results))
	checkFloat32Results(t, inputs, results)
}

// pauseAtFirstFrame makes svc close reached after it has applied its first
// frame, and then block until release is called. Later frames pass.
func pauseAtFirstFrame(t *testing.T, svc *allreduce.Service) (reached <-chan struct{}, release func()) {
	t.Helper()
	reachedCh, releaseCh := make(chan struct{}), make(chan struct{})
	var pauseOnce, releaseOnce sync.Once
	allreduce.SetReceiveHook(svc, func(step, offset int) {
		pauseOnce.Do(func() {
			close(reachedCh)
			<-releaseCh
		})
	})
	release = func() { releaseOnce.Do(func() { close(releaseCh) }) }
	t.Cleanup(release)
	return reachedCh, release
}

func TestStoppedServerFailsRing(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 3, allreduce.DefaultConfig())
	reached, release := pauseAtFirstFrame(t, members[1].svc)

	inputs := randomFloat32s(rand.New(rand.NewPCG(1, 1)), 3, 1_000_000)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	done := make(chan []error, 1)
	go func() { done <- allReduceFloat32(ctx, members, 1, inputs) }()

	// Rank 1 is in the middle of its reduce-scatter when its server stops.
	<-reached
	members[1].srv.Stop()
	release()

	for rank, err := range <-done {
		t.Logf("rank %d: %v", rank, err)
		if err == nil {
			t.Errorf("rank %d succeeded, want an error", rank)
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("rank %d: error = %v, want a failure before the deadline", rank, err)
		}
	}
}

func TestSilentMemberDeadline(t *testing.T) {
	checkGoroutines(t)
	// Rank 2 serves the Ring service and holds the view, but never calls
	// AllReduce.
	members := startCluster(t, 3, allreduce.DefaultConfig())
	inputs := randomFloat32s(rand.New(rand.NewPCG(1, 1)), 3, 200_000)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()

	errs := make([]error, 2)
	var wg sync.WaitGroup
	for rank := range errs {
		wg.Go(func() {
			errs[rank] = members[rank].svc.AllReduceFloat32(ctx, 1, inputs[rank])
		})
	}
	wg.Wait()
	for rank, err := range errs {
		t.Logf("rank %d: %v", rank, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("rank %d: error = %v, want context.DeadlineExceeded", rank, err)
		}
	}
}

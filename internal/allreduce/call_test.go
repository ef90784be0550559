package allreduce_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringtrain/ringtrain/internal/allreduce"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// cifarParams is the parameter count of the cifar10-mlp preset, the
// largest gradient the trainer sums.
const cifarParams = 1_977_510

// largeLength returns cifarParams, or a tenth of it under the race
// detector, which slows the element loops many times over.
func largeLength() int {
	if raceEnabled {
		return cifarParams / 10
	}
	return cifarParams
}

func TestAllReduceFloat32Sums(t *testing.T) {
	for _, frameElements := range []int{allreduce.DefaultFrameElements, 1000} {
		for n := 1; n <= 7; n++ {
			t.Run(fmt.Sprintf("frame %d ring %d", frameElements, n), func(t *testing.T) {
				checkGoroutines(t)
				members := startCluster(t, n, allreduce.Config{FrameElements: frameElements})
				lengths := []int{0, 1, n - 1, n + 1, 85_170}
				if frameElements == allreduce.DefaultFrameElements {
					lengths = append(lengths, largeLength())
				}
				rng := rand.New(rand.NewPCG(1, 1))
				for i, length := range lengths {
					inputs := randomFloat32s(rng, n, length)
					results := cloneAll(inputs)
					ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
					errs := allReduceFloat32(ctx, members, uint64(i+1), results)
					cancel()
					requireNoErrors(t, errs)
					checkFloat32Results(t, inputs, results)
				}
			})
		}
	}
}

func TestAllReduceInt64ExactSums(t *testing.T) {
	for n := 1; n <= 7; n++ {
		t.Run(fmt.Sprintf("ring %d", n), func(t *testing.T) {
			checkGoroutines(t)
			members := startCluster(t, n, allreduce.Config{FrameElements: 1000})
			rng := rand.New(rand.NewPCG(1, 1))
			for i, length := range []int{0, 1, n - 1, n + 1, 85_170} {
				// Full-range values overflow, which wraps the same way in
				// any order.
				inputs := make([][]int64, n)
				want := make([]int64, length)
				for rank := range inputs {
					inputs[rank] = make([]int64, length)
					for e := range inputs[rank] {
						inputs[rank][e] = int64(rng.Uint64())
						want[e] += inputs[rank][e]
					}
				}
				ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
				errs := allReduceInt64(ctx, members, uint64(i+1), inputs)
				cancel()
				requireNoErrors(t, errs)
				for rank, got := range inputs {
					// cmp.Diff is slow on long slices, so it only explains a
					// mismatch.
					if slices.Equal(want, got) {
						continue
					}
					t.Fatalf("length %d rank %d: sum mismatch (-want +got):\n%s", length, rank, cmp.Diff(want, got))
				}
			}
		})
	}
}

func TestAllReduceCIFARGradient(t *testing.T) {
	if testing.Short() {
		t.Skip("sums 7.9 MB vectors")
	}
	length := largeLength()
	for _, n := range []int{2, 3, 4} {
		t.Run(fmt.Sprintf("ring %d", n), func(t *testing.T) {
			checkGoroutines(t)
			members := startCluster(t, n, allreduce.DefaultConfig())
			inputs := randomFloat32s(rand.New(rand.NewPCG(1, 1)), n, length)
			results := cloneAll(inputs)
			ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
			defer cancel()
			requireNoErrors(t, allReduceFloat32(ctx, members, 1, results))
			checkFloat32Results(t, inputs, results)

			// Rank r sends segment (r-k) mod N at step k, and receives what
			// rank r-1 sends.
			sent := make([]int64, n)
			for rank := range n {
				for k := range 2 * (n - 1) {
					j := ((rank-k)%n + n) % n
					sent[rank] += 4 * int64(segmentStart(j+1, n, length)-segmentStart(j, n, length))
				}
			}
			for rank, m := range members {
				stats := m.svc.LastStats()
				if want := sent[rank]; stats.BytesSent != want {
					t.Errorf("rank %d: LastStats().BytesSent = %d, want %d", rank, stats.BytesSent, want)
				}
				if want := sent[(rank+n-1)%n]; stats.BytesReceived != want {
					t.Errorf("rank %d: LastStats().BytesReceived = %d, want %d", rank, stats.BytesReceived, want)
				}
				if stats.Sequence != 1 {
					t.Errorf("rank %d: LastStats().Sequence = %d, want 1", rank, stats.Sequence)
				}
			}
		})
	}
}

func TestAllReduceRingOfOne(t *testing.T) {
	checkGoroutines(t)
	m := startMember(t, allreduce.DefaultConfig())
	if err := m.svc.SetView(allreduce.View{Generation: 1, Rank: 0, Peers: []string{m.addr}}); err != nil {
		t.Fatal(err)
	}
	if conn := allreduce.NextConn(m.svc); conn != nil {
		t.Errorf("ring of one dialled %s", conn.Target())
	}
	data := []float32{1, -2, 3.5}
	if err := m.svc.AllReduceFloat32(t.Context(), 1, data); err != nil {
		t.Fatalf("AllReduceFloat32: %v", err)
	}
	if diff := cmp.Diff([]float32{1, -2, 3.5}, data); diff != "" {
		t.Errorf("ring of one changed data (-want +got):\n%s", diff)
	}
}

func TestAllReduceWithoutView(t *testing.T) {
	m := startMember(t, allreduce.DefaultConfig())
	if err := m.svc.AllReduceFloat32(t.Context(), 1, []float32{1}); err == nil {
		t.Error("AllReduceFloat32 without a view succeeded, want an error")
	}
}

func TestAllReduceConsecutiveSequences(t *testing.T) {
	checkGoroutines(t)
	const n, length = 3, 10_007
	members := startCluster(t, n, allreduce.Config{FrameElements: 1024})
	rng := rand.New(rand.NewPCG(1, 1))
	for sequence := uint64(1); sequence <= 50; sequence++ {
		inputs := randomFloat32s(rng, n, length)
		results := cloneAll(inputs)
		ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
		errs := allReduceFloat32(ctx, members, sequence, results)
		cancel()
		requireNoErrors(t, errs)
		checkFloat32Results(t, inputs, results)
	}

	setView(t, members, 2)
	t.Run("stale header rejected", func(t *testing.T) {
		header := &ringtrainpb.Frame{Generation: 1, Sequence: 51, SenderRank: 2, RingSize: n,
			Length: length, FrameElements: 1024, Element: "float32"}
		err := sendRawHeader(t, members[0].addr, header)
		if got := status.Code(err); got != codes.FailedPrecondition {
			t.Errorf("stream of generation 1 after generation 2 ended with %v (%v), want FailedPrecondition", got, err)
		}
	})
	t.Run("stale member rejected", func(t *testing.T) {
		// A member that missed the view change still holds generation 1.
		stale := startMember(t, allreduce.DefaultConfig())
		view := allreduce.View{Generation: 1, Rank: 0, Peers: []string{stale.addr, members[1].addr}}
		if err := stale.svc.SetView(view); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
		defer cancel()
		err := stale.svc.AllReduceFloat32(ctx, 51, make([]float32, length))
		if !errors.Is(err, allreduce.ErrStaleGeneration) {
			t.Errorf("AllReduceFloat32 of generation 1 = %v, want ErrStaleGeneration", err)
		}
	})
	t.Run("new generation works", func(t *testing.T) {
		inputs := randomFloat32s(rng, n, length)
		results := cloneAll(inputs)
		ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
		defer cancel()
		requireNoErrors(t, allReduceFloat32(ctx, members, 1, results))
		checkFloat32Results(t, inputs, results)
	})
}

func TestAllReduceRejectsDuplicateSequence(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() {
		result <- members[0].svc.AllReduceFloat32(ctx, 1, make([]float32, 100))
	}()
	waitForActiveCalls(t, members[0].svc, 1)

	if err := members[0].svc.AllReduceFloat32(t.Context(), 1, make([]float32, 100)); err == nil {
		t.Error("second AllReduceFloat32 of sequence 1 succeeded, want an error")
	}
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled AllReduceFloat32 = %v, want context.Canceled", err)
	}
}

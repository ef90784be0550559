package allreduce_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

// defaultTestTimeout is the deadline of every collective in the tests that
// expect it to finish.
const defaultTestTimeout = 10 * time.Second

// member is one ring member of a test cluster: a service on its own gRPC
// server on a loopback port.
type member struct {
	svc    *allreduce.Service
	srv    *grpc.Server
	addr   string
	served chan struct{} // closed when Serve has returned
}

// startMember starts a member and stops it when the test ends.
func startMember(t testing.TB, cfg allreduce.Config, serverOptions ...grpc.ServerOption) *member {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := allreduce.NewService(cfg)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	m := &member{
		svc:    svc,
		srv:    grpc.NewServer(append(allreduce.ServerOptions(), serverOptions...)...),
		addr:   lis.Addr().String(),
		served: make(chan struct{}),
	}
	svc.Register(m.srv)
	go func() {
		defer close(m.served)
		_ = m.srv.Serve(lis)
	}()
	t.Cleanup(m.stop)
	return m
}

// stop closes the service, then stops the server. A second stop does
// nothing.
func (m *member) stop() {
	_ = m.svc.Close()
	m.srv.Stop()
	<-m.served
}

// startCluster starts n members and installs generation 1 on all of them.
func startCluster(t testing.TB, n int, cfg allreduce.Config, serverOptions ...grpc.ServerOption) []*member {
	t.Helper()
	members := make([]*member, n)
	for i := range members {
		members[i] = startMember(t, cfg, serverOptions...)
	}
	setView(t, members, 1)
	return members
}

func addresses(members []*member) []string {
	addrs := make([]string, len(members))
	for i, m := range members {
		addrs[i] = m.addr
	}
	return addrs
}

// setView installs generation on every member, in rank order.
func setView(t testing.TB, members []*member, generation uint64) {
	t.Helper()
	peers := addresses(members)
	for rank, m := range members {
		v := allreduce.View{Generation: generation, Rank: rank, Peers: peers}
		if err := m.svc.SetView(v); err != nil {
			t.Fatalf("SetView(generation %d, rank %d): %v", generation, rank, err)
		}
	}
}

// allReduceFloat32 runs one collective on every member at once and returns
// each member's error.
func allReduceFloat32(ctx context.Context, members []*member, sequence uint64, data [][]float32) []error {
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for rank, m := range members {
		wg.Go(func() {
			errs[rank] = m.svc.AllReduceFloat32(ctx, sequence, data[rank])
		})
	}
	wg.Wait()
	return errs
}

func allReduceInt64(ctx context.Context, members []*member, sequence uint64, data [][]int64) []error {
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for rank, m := range members {
		wg.Go(func() {
			errs[rank] = m.svc.AllReduceInt64(ctx, sequence, data[rank])
		})
	}
	wg.Wait()
	return errs
}

// requireNoErrors fails the test unless every member succeeded.
func requireNoErrors(t testing.TB, errs []error) {
	t.Helper()
	for rank, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", rank, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// randomFloat32s returns n vectors of length values each, normally
// distributed with scales that vary by element.
func randomFloat32s(rng *rand.Rand, n, length int) [][]float32 {
	data := make([][]float32, n)
	for i := range data {
		data[i] = make([]float32, length)
		for j := range data[i] {
			scale := math.Pow(10, float64(j%7)-3)
			data[i][j] = float32(rng.NormFloat64() * scale)
		}
	}
	return data
}

func cloneAll[E any](data [][]E) [][]E {
	out := make([][]E, len(data))
	for i := range data {
		out[i] = append([]E(nil), data[i]...)
	}
	return out
}

// segmentStart returns the first element of segment j as the package
// documents it: floor(j*length/n).
func segmentStart(j, n, length int) int {
	return int(int64(j) * int64(length) / int64(n))
}

// ringOrderSum returns the float32 sums that the ring computes: segment j
// starts with rank j's value and adds the other ranks' values in ring order.
func ringOrderSum(inputs [][]float32) []float32 {
	n, length := len(inputs), len(inputs[0])
	sum := make([]float32, length)
	for j := range n {
		for e := segmentStart(j, n, length); e < segmentStart(j+1, n, length); e++ {
			acc := inputs[j][e]
			for i := 1; i < n; i++ {
				acc += inputs[(j+i)%n][e]
			}
			sum[e] = acc
		}
	}
	return sum
}

// checkFloat32Results checks that every member's result has the same bits,
// that it is the sum in ring order, and that it is within float32 rounding
// of the sum in float64.
func checkFloat32Results(t testing.TB, inputs, results [][]float32) {
	t.Helper()
	for rank := 1; rank < len(results); rank++ {
		if i := firstBitDifference(results[0], results[rank]); i >= 0 {
			t.Fatalf("rank %d element %d = %g (bits %#x), rank 0 has %g (bits %#x); want identical bits",
				rank, i, results[rank][i], math.Float32bits(results[rank][i]),
				results[0][i], math.Float32bits(results[0][i]))
		}
	}
	want := ringOrderSum(inputs)
	if i := firstBitDifference(want, results[0]); i >= 0 {
		t.Fatalf("element %d = %g, want %g, the float32 sum in ring order", i, results[0][i], want[i])
	}
	// Each of the n-1 additions rounds by at most half an ulp of the
	// partial sum, which is bounded by the sum of magnitudes.
	const eps = 1.0 / (1 << 24)
	for e := range results[0] {
		var sum, magnitude float64
		for i := range inputs {
			sum += float64(inputs[i][e])
			magnitude += math.Abs(float64(inputs[i][e]))
		}
		tolerance := float64(len(inputs)) * eps * magnitude
		if got := float64(results[0][e]); math.Abs(got-sum) > tolerance {
			t.Fatalf("element %d = %g, want %g within %g", e, got, sum, tolerance)
		}
	}
}

// firstBitDifference returns the first index where a and b differ in bits,
// or -1.
func firstBitDifference(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after its cleanups. Call it before starting anything, so
// that its cleanup runs last.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		err := pollUntil(5*time.Second, func() error {
			if n := runtime.NumGoroutine(); n > before {
				return fmt.Errorf("%d goroutines running, %d before the test", n, before)
			}
			return nil
		})
		if err != nil {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %v\n%s", err, buf)
		}
	})
}

// pollUntil calls check every few milliseconds until it returns nil, and
// returns its last error if that does not happen within timeout.
func pollUntil(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor fails the test unless check returns nil within
// defaultTestTimeout.
func waitFor(t testing.TB, check func() error) {
	t.Helper()
	if err := pollUntil(defaultTestTimeout, check); err != nil {
		t.Fatal(err)
	}
}

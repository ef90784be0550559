package membership_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/membership"
)

const defaultTestTimeout = 10 * time.Second

func startNode(t *testing.T, name string, role membership.Role) *membership.Node {
	t.Helper()
	return startNodeWith(t, name, role, "127.0.0.1:1"+name[len(name)-1:], io.Discard)
}

// startNodeWith starts a node that gossips grpcAddr and logs to logs.
func startNodeWith(t *testing.T, name string, role membership.Role, grpcAddr string, logs io.Writer) *membership.Node {
	t.Helper()
	cfg := membership.DefaultConfig()
	cfg.Name = name
	cfg.BindAddr = "127.0.0.1:0"
	cfg.ProbeInterval = 200 * time.Millisecond
	cfg.ProbeTimeout = 100 * time.Millisecond
	cfg.Meta = membership.Meta{Role: role, GRPCAddress: grpcAddr, Incarnation: 7}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	n, err := membership.Start(cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

// waitFor polls cond every 20ms until it holds or the timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", defaultTestTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func names(n *membership.Node) []string {
	var out []string
	for _, m := range n.Members() {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

func TestNodesFindEachOther(t *testing.T) {
	coord := startNode(t, "coordinator", membership.RoleCoordinator)
	w1 := startNode(t, "worker-1", membership.RoleWorker)
	w2 := startNode(t, "worker-2", membership.RoleWorker)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	for _, w := range []*membership.Node{w1, w2} {
		if err := w.Join(ctx, []string{coord.GossipAddr()}); err != nil {
			t.Fatalf("Join: %v", err)
		}
	}
	want := []string{"coordinator", "worker-1", "worker-2"}
	waitFor(t, "three members everywhere", func() bool {
		return slices.Equal(names(coord), want) && slices.Equal(names(w1), want) && slices.Equal(names(w2), want)
	})
	for _, m := range w2.Members() {
		if m.Name == "worker-1" && (m.Meta.Role != membership.RoleWorker || m.Meta.GRPCAddress != "127.0.0.1:11" || m.Meta.Incarnation != 7) {
			t.Errorf("worker-1 seen by worker-2 with metadata %+v, want role worker, grpc 127.0.0.1:11, incarnation 7", m.Meta)
		}
	}

	// A graceful leave and a crash both drop the member.
	if err := w1.Leave(time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitFor(t, "worker-1 gone", func() bool { return !slices.Contains(names(coord), "worker-1") })
	w2.Shutdown()
	waitFor(t, "worker-2 declared dead", func() bool { return !slices.Contains(names(coord), "worker-2") })
	select {
	case <-coord.Changed():
	default:
		t.Error("Changed() had no pending notification after members left")
	}
}

func TestJoinRetriesUntilContextEnds(t *testing.T) {
	n := startNode(t, "worker-1", membership.RoleWorker)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	// Nothing listens on port 1 of loopback.
	if err := n.Join(ctx, []string{"127.0.0.1:1"}); err == nil {
		t.Error("Join to a closed port succeeded, want an error when the context ends")
	}
}

func TestJoinLogsRepeatsAtDebug(t *testing.T) {
	var logs syncBuffer
	cfg := membership.DefaultConfig()
	cfg.Name = "worker-1"
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Meta = membership.Meta{Role: membership.RoleWorker, GRPCAddress: "127.0.0.1:11"}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := membership.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { n.Shutdown() })

	failures := func() []string {
		var lines []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "join failed, retrying") {
				lines = append(lines, line)
			}
		}
		return lines
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Nothing listens on port 1 of loopback.
	go func() { done <- n.Join(ctx, []string{"127.0.0.1:1"}) }()
	waitFor(t, "three failed join rounds", func() bool { return len(failures()) >= 3 })
	cancel()
	if err := <-done; err == nil {
		t.Error("Join to a closed port succeeded, want an error when the context ends")
	}

	lines := failures()
	if !strings.Contains(lines[0], "level=WARN") {
		t.Errorf("first failed round logged %q, want a warning", lines[0])
	}
	for i, line := range lines[1:] {
		if !strings.Contains(line, "level=DEBUG") {
			t.Errorf("failed round %d logged %q, want it at debug", i+2, line)
		}
	}
}

func TestSetMetaReachesPeers(t *testing.T) {
	coord := startNode(t, "coordinator", membership.RoleCoordinator)
	w := startNode(t, "worker-1", membership.RoleWorker)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := w.Join(ctx, []string{coord.GossipAddr()}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetMeta(membership.Meta{Role: membership.RoleWorker, GRPCAddress: "127.0.0.1:9999"}, time.Second); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	waitFor(t, "new metadata at the coordinator", func() bool {
		for _, m := range coord.Members() {
			if m.Name == "worker-1" && m.Meta.GRPCAddress == "127.0.0.1:9999" {
				return true
			}
		}
		return false
	})
}

func TestStartRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  membership.Config
	}{
		{"no name", membership.Config{BindAddr: "127.0.0.1:0"}},
		{"bad address", membership.Config{Name: "a", BindAddr: "localhost"}},
		{"bad port", membership.Config{Name: "a", BindAddr: "127.0.0.1:99999"}},
		{"timeout above interval", membership.Config{Name: "a", BindAddr: "127.0.0.1:0", ProbeInterval: time.Second, ProbeTimeout: 2 * time.Second}},
		{"negative interval", membership.Config{Name: "a", BindAddr: "127.0.0.1:0", ProbeInterval: -time.Second}},
		{"negative suspicion multiplier", membership.Config{Name: "a", BindAddr: "127.0.0.1:0", SuspicionMult: -3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n, err := membership.Start(tt.cfg); err == nil {
				n.Shutdown()
				t.Errorf("Start(%+v) succeeded, want an error", tt.cfg)
			}
		})
	}
}

// syncBuffer collects log output written from memberlist's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// grpcAddrOf returns the gRPC address n lists for the member name, or "".
func grpcAddrOf(n *membership.Node, name string) string {
	for _, m := range n.Members() {
		if m.Name == name {
			return m.Meta.GRPCAddress
		}
	}
	return ""
}

func TestRestartTakesNameAtNewAddress(t *testing.T) {
	var coordLogs syncBuffer
	coord := startNodeWith(t, "coordinator", membership.RoleCoordinator, "127.0.0.1:10", &coordLogs)
	first := startNodeWith(t, "worker-1", membership.RoleWorker, "127.0.0.1:11", io.Discard)
	if err := first.JoinOnce([]string{coord.GossipAddr()}); err != nil {
		t.Fatalf("JoinOnce: %v", err)
	}
	waitFor(t, "worker-1 at its first address", func() bool { return grpcAddrOf(coord, "worker-1") == "127.0.0.1:11" })

	// A second process under the same name, at another address, while the
	// first one lives: memberlist reports the conflict and keeps the name
	// with the first.
	second := startNodeWith(t, "worker-1", membership.RoleWorker, "127.0.0.1:12", io.Discard)
	if err := second.JoinOnce([]string{coord.GossipAddr()}); err != nil {
		t.Fatalf("JoinOnce: %v", err)
	}
	waitFor(t, "the coordinator to report the name conflict", func() bool {
		return strings.Contains(coordLogs.String(), "Conflicting address for worker-1")
	})
	if got := grpcAddrOf(coord, "worker-1"); got != "127.0.0.1:11" {
		t.Fatalf("coordinator lists worker-1 at %q while its first process lives, want 127.0.0.1:11", got)
	}

	// Once the first process is declared dead, the second takes the name
	// on its next state exchange, as a worker restarted on new ports does.
	crashed := time.Now()
	first.Shutdown()
	waitFor(t, "worker-1 at its second address", func() bool {
		if grpcAddrOf(coord, "worker-1") == "127.0.0.1:12" {
			return true
		}
		second.JoinOnce([]string{coord.GossipAddr()})
		return false
	})
	t.Logf("name taken at the new address %v after the crash", time.Since(crashed).Round(time.Millisecond))
}

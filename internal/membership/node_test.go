package membership_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/membership"
)

const defaultTestTimeout = 10 * time.Second

func startNode(t *testing.T, name string, role membership.Role) *membership.Node {
	t.Helper()
	cfg := membership.DefaultConfig()
	cfg.Name = name
	cfg.BindAddr = "127.0.0.1:0"
	cfg.ProbeInterval = 200 * time.Millisecond
	cfg.ProbeTimeout = 100 * time.Millisecond
	cfg.Meta = membership.Meta{Role: role, GRPCAddress: "127.0.0.1:1" + name[len(name)-1:], Incarnation: 7}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
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

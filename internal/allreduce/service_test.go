package allreduce_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

func TestSetViewFailsCallInFlight(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	result := make(chan error, 1)
	go func() {
		// Rank 1 never joins, so the call waits until the view changes.
		result <- members[0].svc.AllReduceFloat32(t.Context(), 1, make([]float32, 100))
	}()
	waitForActiveCalls(t, members[0].svc, 1)

	setView(t, members, 2)
	if err := <-result; !errors.Is(err, allreduce.ErrStaleGeneration) {
		t.Errorf("AllReduceFloat32 during a view change = %v, want ErrStaleGeneration", err)
	}
}

func TestCloseFailsCallInFlight(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	result := make(chan error, 1)
	go func() {
		result <- members[0].svc.AllReduceFloat32(t.Context(), 1, make([]float32, 100))
	}()
	waitForActiveCalls(t, members[0].svc, 1)

	if err := members[0].svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-result; !errors.Is(err, allreduce.ErrStopped) {
		t.Errorf("AllReduceFloat32 during Close = %v, want ErrStopped", err)
	}
	if err := members[0].svc.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := members[0].svc.AllReduceFloat32(t.Context(), 2, make([]float32, 100)); !errors.Is(err, allreduce.ErrStopped) {
		t.Errorf("AllReduceFloat32 after Close = %v, want ErrStopped", err)
	}
	view := allreduce.View{Generation: 2, Rank: 0, Peers: addresses(members)}
	if err := members[0].svc.SetView(view); !errors.Is(err, allreduce.ErrStopped) {
		t.Errorf("SetView after Close = %v, want ErrStopped", err)
	}
}

func TestSetViewReusesConnection(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 3, allreduce.DefaultConfig())
	svc := members[0].svc
	first := allreduce.NextConn(svc)

	// Rank 1 stays next to rank 0.
	setView(t, members, 2)
	if got := allreduce.NextConn(svc); got != first {
		t.Errorf("connection replaced although the next address is unchanged")
	}

	// Reversing ranks 1 and 2 gives rank 0 another next member.
	reordered := []*member{members[0], members[2], members[1]}
	setView(t, reordered, 3)
	if got := allreduce.NextConn(svc); got == first {
		t.Errorf("connection kept although the next address changed")
	}
	if got, want := allreduce.NextConn(svc).Target(), members[2].addr; got != want {
		t.Errorf("next connection target = %s, want %s", got, want)
	}
}

func TestSetViewRejectsInvalidViews(t *testing.T) {
	m := startMember(t, allreduce.DefaultConfig())
	other := startMember(t, allreduce.DefaultConfig())
	installed := allreduce.View{Generation: 5, Rank: 0, Peers: []string{m.addr, other.addr}}
	if err := m.svc.SetView(installed); err != nil {
		t.Fatalf("SetView(%+v): %v", installed, err)
	}
	if err := m.svc.SetView(installed); err != nil {
		t.Errorf("SetView of the installed view again = %v, want nil", err)
	}

	tests := []struct {
		name string
		view allreduce.View
	}{
		{"no peers", allreduce.View{Generation: 6}},
		{"negative rank", allreduce.View{Generation: 6, Rank: -1, Peers: []string{m.addr}}},
		{"rank past end", allreduce.View{Generation: 6, Rank: 1, Peers: []string{m.addr}}},
		{"empty address", allreduce.View{Generation: 6, Rank: 0, Peers: []string{m.addr, ""}}},
		{"older generation", allreduce.View{Generation: 4, Rank: 0, Peers: installed.Peers}},
		{"same generation other ring", allreduce.View{Generation: 5, Rank: 1, Peers: slices.Clone(installed.Peers)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.svc.SetView(tt.view); err == nil {
				t.Errorf("SetView(%+v) succeeded, want an error", tt.view)
			}
		})
	}
}

// waitForActiveCalls waits until svc has n calls on the ring.
func waitForActiveCalls(t *testing.T, svc *allreduce.Service, n int) {
	t.Helper()
	waitFor(t, func() error {
		if got := allreduce.ActiveCalls(svc); got != n {
			return fmt.Errorf("%d calls active, want %d", got, n)
		}
		return nil
	})
}

func TestResetStartsGenerationsOver(t *testing.T) {
	checkGoroutines(t)
	members := startCluster(t, 2, allreduce.DefaultConfig())
	setView(t, members, 5)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	requireNoErrors(t, allReduceFloat32(ctx, members, 1, [][]float32{{1, 2}, {3, 4}}))

	if err := members[0].svc.SetView(allreduce.View{Generation: 1, Rank: 0, Peers: addresses(members)}); err == nil {
		t.Fatal("SetView(generation 1) after generation 5 succeeded, want an error")
	}
	for _, m := range members {
		m.svc.Reset()
	}
	setView(t, members, 1)
	data := [][]float32{{1, 2}, {3, 4}}
	requireNoErrors(t, allReduceFloat32(ctx, members, 1, data))
	for i, d := range data {
		if d[0] != 4 || d[1] != 6 {
			t.Errorf("member %d after Reset got %v, want [4 6]", i, d)
		}
	}
}

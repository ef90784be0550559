package coordinator

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDropOtherHistories(t *testing.T) {
	t.Parallel()
	candidates := []*worker{{name: "a"}, {name: "b"}, {name: "c"}}
	tests := []struct {
		name        string
		previous    []string
		sources     []int
		fps         []uint64
		wantSources []int
		wantFPs     []uint64
	}{
		{
			name:     "newcomer from another history",
			previous: []string{"a", "b"}, sources: []int{0, 1, 2}, fps: []uint64{7, 7, 9},
			wantSources: []int{0, 1}, wantFPs: []uint64{7, 7},
		},
		{
			name:     "newcomer that agrees",
			previous: []string{"a", "b"}, sources: []int{0, 1, 2}, fps: []uint64{7, 7, 7},
			wantSources: []int{0, 1, 2}, wantFPs: []uint64{7, 7, 7},
		},
		{
			name:     "previous members disagree",
			previous: []string{"a", "b"}, sources: []int{0, 1}, fps: []uint64{7, 8},
			wantSources: []int{0, 1}, wantFPs: []uint64{7, 8},
		},
		{
			name:     "no previous view",
			previous: nil, sources: []int{0, 2}, fps: []uint64{7, 9},
			wantSources: []int{0, 2}, wantFPs: []uint64{7, 9},
		},
		{
			name:     "no previous member holds the step",
			previous: []string{"a"}, sources: []int{1, 2}, fps: []uint64{8, 9},
			wantSources: []int{1, 2}, wantFPs: []uint64{8, 9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Coordinator{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), status: newStatusBoard("job", DefaultConfig())}
			c.pos.step = 12
			sources, fps := c.dropOtherHistories(candidates, tt.previous, tt.sources, tt.fps)
			if diff := cmp.Diff(tt.wantSources, sources); diff != "" {
				t.Errorf("sources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFPs, fps); diff != "" {
				t.Errorf("fingerprints (-want +got):\n%s", diff)
			}
			replaced := 0
			for _, e := range c.status.snapshot().Events {
				if strings.Contains(e.Message, "from another history") {
					replaced++
				}
			}
			if want := len(tt.sources) - len(tt.wantSources); replaced != want {
				t.Errorf("%d events name a replaced history, want %d", replaced, want)
			}
		})
	}
}

package allreduce

import (
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestSegmentsCoverVector(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 9; n++ {
		for length := 0; length <= 40; length++ {
			p := plan{size: n, length: length, frameElements: 3}
			next := 0
			for j := range n {
				lo, hi := p.segment(j)
				if lo != next || hi < lo {
					t.Fatalf("ring %d length %d: segment %d = [%d, %d), want it to start at %d", n, length, j, lo, hi, next)
				}
				if size := hi - lo; size != length/n && size != length/n+1 {
					t.Errorf("ring %d length %d: segment %d has %d values, want %d or %d",
						n, length, j, size, length/n, length/n+1)
				}
				next = hi
			}
			if next != length {
				t.Errorf("ring %d length %d: segments end at %d, want %d", n, length, next, length)
			}
		}
	}
}

func TestSegmentStartNoOverflow(t *testing.T) {
	t.Parallel()
	for _, length := range []int{1 << 40, math.MaxInt - 3, math.MaxInt} {
		for _, n := range []int{2, 5, 7} {
			p := plan{size: n, length: length, frameElements: 1}
			for j := 0; j <= n; j++ {
				want := new(big.Int).Mul(big.NewInt(int64(j)), big.NewInt(int64(length)))
				want.Quo(want, big.NewInt(int64(n)))
				if got := p.segmentStart(j); !want.IsInt64() || int64(got) != want.Int64() {
					t.Errorf("length %d ring %d: segmentStart(%d) = %d, want %v", length, n, j, got, want)
				}
			}
		}
	}
}

// spansOf returns the frames of segment j at step k.
func spansOf(p plan, k, j int) []span {
	var spans []span
	lo, hi := p.segment(j)
	for offset := lo; offset < hi; offset += p.frameElements {
		spans = append(spans, span{step: k, offset: offset, count: min(p.frameElements, hi-offset)})
	}
	return spans
}

func TestScheduleNeighboursAgree(t *testing.T) {
	t.Parallel()
	for n := 2; n <= 8; n++ {
		for _, length := range []int{0, 1, n - 1, n + 1, 1000} {
			for rank := range n {
				p := plan{rank: rank, size: n, length: length, frameElements: 7}
				prev := plan{rank: p.prev(), size: n, length: length, frameElements: 7}
				var sent int
				for k := range p.steps() {
					want := spansOf(prev, k, prev.sendSegment(k))
					got := spansOf(p, k, p.recvSegment(k))
					if diff := cmp.Diff(want, got, cmp.AllowUnexported(span{})); diff != "" {
						t.Fatalf("ring %d length %d rank %d step %d: received frames differ from sent (-want +got):\n%s",
							n, length, rank, k, diff)
					}
					sent += len(spansOf(p, k, p.sendSegment(k)))
				}
				if got := p.sendCount(); got != sent {
					t.Errorf("ring %d length %d rank %d: sendCount() = %d, want %d", n, length, rank, got, sent)
				}
			}
		}
	}
}

func TestScheduleForwardsReceivedSegment(t *testing.T) {
	t.Parallel()
	for n := 2; n <= 8; n++ {
		for rank := range n {
			p := plan{rank: rank, size: n, length: 100, frameElements: 7}
			for k := 0; k+1 < p.steps(); k++ {
				if got, want := p.sendSegment(k+1), p.recvSegment(k); got != want {
					t.Errorf("ring %d rank %d: sends segment %d at step %d, want %d, received at step %d",
						n, rank, got, k+1, want, k)
				}
			}
			// The last reduce-scatter step completes segment rank+1.
			if got, want := p.recvSegment(n-2), (rank+1)%n; got != want {
				t.Errorf("ring %d rank %d: completes segment %d, want %d", n, rank, got, want)
			}
		}
	}
}

func TestMaxFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		size, length, frame, want int
	}{
		{"empty vector", 3, 0, 4, 0},
		{"fewer values than members", 5, 3, 4, 1},
		{"uneven segments", 3, 10, 100, 4},
		{"segments over a frame", 3, 10, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan{size: tt.size, length: tt.length, frameElements: tt.frame}
			if got := p.maxFrame(); got != tt.want {
				t.Errorf("maxFrame() = %d, want %d", got, tt.want)
			}
		})
	}
}

// describeSchedule writes out what every rank sends and receives at every
// step.
func describeSchedule(size, length, frameElements int) string {
	var b strings.Builder
	p := plan{size: size, length: length, frameElements: frameElements}
	fmt.Fprintf(&b, "ring %d, length %d, frame %d\nsegments:", size, length, frameElements)
	for j := range size {
		lo, hi := p.segment(j)
		fmt.Fprintf(&b, " %d=[%d,%d)", j, lo, hi)
	}
	b.WriteString("\n")
	for rank := range size {
		p.rank = rank
		fmt.Fprintf(&b, "rank %d:\n", rank)
		for k := range p.steps() {
			phase, action := "reduce-scatter", "add"
			if k >= size-1 {
				phase, action = "all-gather", "copy"
			}
			fmt.Fprintf(&b, "  step %d %s: send segment %d%s, %s segment %d%s\n", k, phase,
				p.sendSegment(k), formatSpans(spansOf(p, k, p.sendSegment(k))),
				action, p.recvSegment(k), formatSpans(spansOf(p, k, p.recvSegment(k))))
		}
	}
	return b.String()
}

func formatSpans(spans []span) string {
	var b strings.Builder
	for _, sp := range spans {
		fmt.Fprintf(&b, " [%d,%d)", sp.offset, sp.offset+sp.count)
	}
	return b.String()
}

func TestScheduleGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		size, length, frameElements int
	}{
		{"ring3_length10_frame2", 3, 10, 2},
		{"ring4_length3_frame2", 4, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeSchedule(tt.size, tt.length, tt.frameElements)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("schedule differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

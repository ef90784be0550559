package coordinator

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMicroBatchBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, m, parts int
		want        []int
	}{
		{n: 64, m: 16, parts: 1, want: []int{0, 64}},
		{n: 64, m: 16, parts: 2, want: []int{0, 32, 64}},
		{n: 64, m: 16, parts: 3, want: []int{0, 16, 32, 64}},
		{n: 64, m: 16, parts: 4, want: []int{0, 16, 32, 48, 64}},
		{n: 56, m: 16, parts: 3, want: []int{0, 16, 32, 56}}, // the last micro-batch has 8 samples
		{n: 20, m: 16, parts: 3, want: []int{0, 0, 16, 20}},  // fewer micro-batches than workers
		{n: 5, m: 16, parts: 2, want: []int{0, 0, 5}},        // one short micro-batch
		{n: 64, m: 1, parts: 3, want: []int{0, 21, 42, 64}},  // one sample each
		{n: 64, m: 64, parts: 2, want: []int{0, 0, 64}},      // the batch is one micro-batch
		{n: 100, m: 7, parts: 4, want: []int{0, 21, 49, 77, 100}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, microBatchBounds(tt.n, tt.m, tt.parts)); diff != "" {
			t.Errorf("microBatchBounds(%d, %d, %d) (-want +got):\n%s", tt.n, tt.m, tt.parts, diff)
		}
	}
}

func TestMicroBatchBoundsWholeMicroBatches(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 70; n++ {
		for _, m := range []int{1, 3, 16, n} {
			for parts := 1; parts <= 8; parts++ {
				name := fmt.Sprintf("microBatchBounds(%d, %d, %d)", n, m, parts)
				bounds := microBatchBounds(n, m, parts)
				if len(bounds) != parts+1 || bounds[0] != 0 || bounds[parts] != n {
					t.Fatalf("%s = %v, want %d bounds from 0 to %d", name, bounds, parts+1, n)
				}
				micro := (n + m - 1) / m
				for i := range parts {
					if bounds[i] > bounds[i+1] {
						t.Fatalf("%s = %v: slice %d ends before it starts", name, bounds, i)
					}
					if bounds[i]%m != 0 {
						t.Fatalf("%s = %v: slice %d starts inside a micro-batch", name, bounds, i)
					}
					// Slices hold floor or ceil of micro/parts micro-batches.
					got := (bounds[i+1]+m-1)/m - bounds[i]/m
					if got < micro/parts || got > (micro+parts-1)/parts {
						t.Fatalf("%s = %v: slice %d holds %d of %d micro-batches", name, bounds, i, got, micro)
					}
				}
			}
		}
	}
}

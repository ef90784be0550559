package worker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestPlanBuckets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		model     string
		minValues int
		want      []bucket
	}{
		// Layer sizes, first to last: 78,500, 6,060 and 610 values.
		{name: "mnist-mlp, default size", model: "mnist-mlp", minValues: minBucketValues,
			want: []bucket{{lo: 0, hi: 85170, layer: 0}}},
		{name: "mnist-mlp, small layers merged", model: "mnist-mlp", minValues: 1000,
			want: []bucket{{lo: 78500, hi: 85170, layer: 1}, {lo: 0, hi: 78500, layer: 0}}},
		{name: "mnist-mlp, a bucket a layer", model: "mnist-mlp", minValues: 1,
			want: []bucket{{lo: 84560, hi: 85170, layer: 2}, {lo: 78500, hi: 84560, layer: 1}, {lo: 0, hi: 78500, layer: 0}}},
		// Layer sizes: 1,536,500, 250,500, 125,250, 62,750 and 2,510.
		{name: "cifar10-mlp, default size", model: "cifar10-mlp", minValues: minBucketValues,
			want: []bucket{{lo: 1536500, hi: 1977510, layer: 1}, {lo: 0, hi: 1536500, layer: 0}}},
		{name: "cifar10-mlp, 64 Ki values", model: "cifar10-mlp", minValues: 1 << 16,
			want: []bucket{
				{lo: 1787000, hi: 1977510, layer: 2},
				{lo: 1536500, hi: 1787000, layer: 1},
				{lo: 0, hi: 1536500, layer: 0},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec, err := nn.ResolveSpec(tt.model)
			if err != nil {
				t.Fatalf("ResolveSpec(%q): %v", tt.model, err)
			}
			net, err := nn.NewNetwork(spec, 1)
			if err != nil {
				t.Fatalf("NewNetwork: %v", err)
			}
			got := planBuckets(net, len(spec.Layers), tt.minValues)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(bucket{})); diff != "" {
				t.Errorf("planBuckets(%s, %d) (-want +got):\n%s", tt.model, tt.minValues, diff)
			}
		})
	}
}

func TestBucketSequenceIncreases(t *testing.T) {
	t.Parallel()
	const buckets = 3
	prev := bucketSequence(1, buckets, 0)
	for step := uint64(1); step <= 4; step++ {
		for i := range buckets {
			if step == 1 && i == 0 {
				continue
			}
			got := bucketSequence(step, buckets, i)
			if got <= prev {
				t.Errorf("bucketSequence(%d, %d, %d) = %d, want above the previous %d", step, buckets, i, got, prev)
			}
			prev = got
		}
	}
}

func TestOverlapTimes(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name       string
		spans      [][2]time.Time
		computeEnd time.Time
		want       reduceTimes
	}{
		{name: "none", computeEnd: at(5)},
		{name: "all after compute", spans: [][2]time.Time{{at(5), at(7)}, {at(7), at(10)}}, computeEnd: at(5),
			want: reduceTimes{total: 5 * time.Millisecond}},
		{name: "one inside, one across", spans: [][2]time.Time{{at(1), at(3)}, {at(4), at(9)}}, computeEnd: at(6),
			want: reduceTimes{total: 7 * time.Millisecond, overlap: 4 * time.Millisecond}},
		{name: "all inside", spans: [][2]time.Time{{at(1), at(2)}}, computeEnd: at(6),
			want: reduceTimes{total: time.Millisecond, overlap: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := overlapTimes(tt.spans, tt.computeEnd)
			if got != tt.want {
				t.Errorf("overlapTimes = %+v, want %+v", got, tt.want)
			}
		})
	}
}

package metrics_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringtrain/ringtrain/internal/metrics"
)

// family gathers m and returns the family called name.
func family(t *testing.T, m *metrics.Metrics, name string) *dto.MetricFamily {
	t.Helper()
	families, err := metrics.Registry(m).Gather()
	if err != nil {
		t.Fatalf("Gather() error: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f
		}
	}
	t.Fatalf("Gather() has no family %s", name)
	return nil
}

func TestObserveStepCounters(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObserveStep(0.020, 0.012, 0.006, 64, 358440)
	m.ObserveStep(0.030, 0.015, 0.011, 32, 358440)

	want := `
# HELP ringtrain_allreduce_bytes_total Gradient bytes that each worker reduced in committed steps.
# TYPE ringtrain_allreduce_bytes_total counter
ringtrain_allreduce_bytes_total 716880
# HELP ringtrain_samples_total Training samples in committed steps; rate() of it is the training throughput.
# TYPE ringtrain_samples_total counter
ringtrain_samples_total 96
# HELP ringtrain_steps_total Committed training steps.
# TYPE ringtrain_steps_total counter
ringtrain_steps_total 2
`
	err := testutil.GatherAndCompare(metrics.Registry(m), strings.NewReader(want),
		"ringtrain_allreduce_bytes_total", "ringtrain_samples_total", "ringtrain_steps_total")
	if err != nil {
		t.Error(err)
	}
}

func TestObserveStepHistograms(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObserveStep(0.020, 0.012, 0.006, 64, 1024)
	m.ObserveStep(0.030, 0.015, 0.011, 64, 1024)
	m.ObserveStepOverlap(0.003)
	m.ObserveStepOverlap(0.0)

	tests := []struct {
		name string
		sum  float64
		// le is the upper bound of a bucket and below the count at or under it.
		le    float64
		below uint64
	}{
		{name: "ringtrain_step_duration_seconds", sum: 0.050, le: 0.032, below: 2},
		{name: "ringtrain_step_compute_seconds", sum: 0.027, le: 0.016, below: 2},
		{name: "ringtrain_step_allreduce_seconds", sum: 0.017, le: 0.008, below: 1},
		{name: "ringtrain_step_overlap_seconds", sum: 0.003, le: 0.002, below: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := family(t, m, tt.name).GetMetric()[0].GetHistogram()
			if got := h.GetSampleCount(); got != 2 {
				t.Errorf("sample count = %d, want 2", got)
			}
			if got := h.GetSampleSum(); math.Abs(got-tt.sum) > 1e-12 {
				t.Errorf("sample sum = %g, want %g", got, tt.sum)
			}
			found := false
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == tt.le {
					found = true
					if got := b.GetCumulativeCount(); got != tt.below {
						t.Errorf("bucket le=%g count = %d, want %d", tt.le, got, tt.below)
					}
				}
			}
			if !found {
				t.Errorf("no bucket le=%g", tt.le)
			}
		})
	}
}

func TestStepBucketsCoverStepTimeout(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObserveStep(1, 1, 1, 1, 1)
	buckets := family(t, m, "ringtrain_step_duration_seconds").GetMetric()[0].GetHistogram().GetBucket()
	first, last := buckets[0].GetUpperBound(), buckets[len(buckets)-1].GetUpperBound()
	if first > 0.001 {
		t.Errorf("first bucket le=%g, want at most 1 ms", first)
	}
	if last < 30 {
		t.Errorf("last bucket le=%g, want at least the 30 s step timeout", last)
	}
}

func TestSamplesPerSecondAverages(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	gauge := func() float64 {
		t.Helper()
		return family(t, m, "ringtrain_samples_per_second").GetMetric()[0].GetGauge().GetValue()
	}
	if got := gauge(); got != 0 {
		t.Errorf("before any step: samples_per_second = %g, want 0", got)
	}

	m.ObserveStep(0.010, 0.005, 0.004, 64, 1)
	if got := gauge(); math.Abs(got-6400) > 1e-9 {
		t.Errorf("after one step: samples_per_second = %g, want 6400", got)
	}

	// The averages move a tenth of the way: 64 samples over
	// 0.010 + 0.1*(0.030-0.010) = 0.012 s.
	m.ObserveStep(0.030, 0.005, 0.004, 64, 1)
	if got, want := gauge(), 64/0.012; math.Abs(got-want) > 1e-9 {
		t.Errorf("after two steps: samples_per_second = %g, want %g", got, want)
	}

	m.ObserveStep(0, 0, 0, 64, 1)
	if got, want := gauge(), 64/0.012; math.Abs(got-want) > 1e-9 {
		t.Errorf("after a zero-length step: samples_per_second = %g, want %g unchanged", got, want)
	}
	if got := family(t, m, "ringtrain_samples_total").GetMetric()[0].GetCounter().GetValue(); got != 192 {
		t.Errorf("after a zero-length step: samples_total = %g, want 192", got)
	}
}

func TestObserveStepPanicsOnNegativeCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		samples int
		bytes   int64
	}{
		{name: "samples", samples: -1, bytes: 1},
		{name: "bytes", samples: 1, bytes: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			defer func() {
				if recover() == nil {
					t.Errorf("ObserveStep(%d samples, %d bytes) did not panic", tt.samples, tt.bytes)
				}
			}()
			m.ObserveStep(0.01, 0.01, 0.01, tt.samples, tt.bytes)
		})
	}
}

func TestObserveEpoch(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	n, err := testutil.GatherAndCount(metrics.Registry(m), "ringtrain_loss", "ringtrain_accuracy_ratio")
	if err != nil {
		t.Fatalf("GatherAndCount() error: %v", err)
	}
	if n != 0 {
		t.Errorf("before any epoch: %d loss and accuracy series, want 0", n)
	}
	m.ObserveEpoch(1, 0.5, 0.875, 0.25, 0.9375)
	m.ObserveEpoch(2, 0.125, 0.96875, 0.1875, 0.953125)

	want := `
# HELP ringtrain_accuracy_ratio Accuracy of the last finished epoch from 0 to 1, on the train or test split.
# TYPE ringtrain_accuracy_ratio gauge
ringtrain_accuracy_ratio{split="test"} 0.953125
ringtrain_accuracy_ratio{split="train"} 0.96875
# HELP ringtrain_epoch Last finished epoch, counted from 1; 0 before the first ends.
# TYPE ringtrain_epoch gauge
ringtrain_epoch 2
# HELP ringtrain_loss Mean cross-entropy of the last finished epoch: split=train averages its steps, split=test uses the parameters at its end.
# TYPE ringtrain_loss gauge
ringtrain_loss{split="test"} 0.1875
ringtrain_loss{split="train"} 0.125
`
	err = testutil.GatherAndCompare(metrics.Registry(m), strings.NewReader(want),
		"ringtrain_accuracy_ratio", "ringtrain_epoch", "ringtrain_loss")
	if err != nil {
		t.Error(err)
	}
}

func TestCheckpointAge(t *testing.T) {
	t.Parallel()
	written := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := written.Add(90 * time.Second)
	m := metrics.NewWithClock(func() time.Time { return now })

	age := func() float64 {
		t.Helper()
		return family(t, m, "ringtrain_checkpoint_age_seconds").GetMetric()[0].GetGauge().GetValue()
	}
	timestamp := func() float64 {
		t.Helper()
		return family(t, m, "ringtrain_checkpoint_timestamp_seconds").GetMetric()[0].GetGauge().GetValue()
	}
	if got := age(); !math.IsNaN(got) {
		t.Errorf("before any checkpoint: age = %g, want NaN", got)
	}
	if got := timestamp(); got != 0 {
		t.Errorf("before any checkpoint: timestamp = %g, want 0", got)
	}

	m.SetCheckpointTime(written)
	got := []float64{age(), timestamp()}
	want := []float64{90, float64(written.Unix())}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[age, timestamp] mismatch (-want +got):\n%s", diff)
	}

	now = now.Add(30 * time.Second)
	if got := age(); got != 120 {
		t.Errorf("30 s later: age = %g, want 120", got)
	}
}

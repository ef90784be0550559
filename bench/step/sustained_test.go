package step_test

import (
	"math"
	"os"
	"strconv"
	"testing"
	"time"
)

// sustainedEpochs returns RINGTRAIN_BENCH_EPOCHS, the length of
// BenchmarkTrainSustained's run, or its default of 20 epochs.
func sustainedEpochs(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("RINGTRAIN_BENCH_EPOCHS")
	if s == "" {
		return 20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("RINGTRAIN_BENCH_EPOCHS = %q: want a positive number of epochs", s)
	}
	return n
}

// BenchmarkTrainSustained trains cifar10-mlp at batch 64 from its initial
// weights for RINGTRAIN_BENCH_EPOCHS epochs (default 20) in each
// iteration, so run it with -benchtime 1x. A short run does not show the
// cost of subnormal floats: on CIFAR-10, Adam's first moments of weights
// whose gradients stay zero decay into them after some epochs. Every epoch
// takes the whole training split in 781 full batches; the last 16 samples
// of each shuffled order are left out.
//
// It reports the samples/s of the whole run and of its first and last
// epoch, and, after the run, the percentage of Adam's moments M and V that
// are subnormal and of those that are zero.
func BenchmarkTrainSustained(b *testing.B) {
	const batch = 64
	epochs := sustainedEpochs(b)
	split := &load(b, "cifar10").Train
	steps := split.N / batch
	for b.Loop() {
		tr := newTrainer(b, "cifar10-mlp", split, batch)
		var total, first, last time.Duration
		for epoch := range epochs {
			start := time.Now()
			for range steps {
				tr.step(b)
			}
			took := time.Since(start)
			total += took
			if epoch == 0 {
				first = took
			}
			last = took
		}
		perEpoch := float64(steps * batch)
		b.ReportMetric(perEpoch*float64(epochs)/total.Seconds(), "samples/s")
		b.ReportMetric(perEpoch/first.Seconds(), "first-epoch-samples/s")
		b.ReportMetric(perEpoch/last.Seconds(), "last-epoch-samples/s")
		subnormal, zero := census(tr.opt.M)
		b.ReportMetric(subnormal, "subnormal-m-%")
		b.ReportMetric(zero, "zero-m-%")
		subnormal, zero = census(tr.opt.V)
		b.ReportMetric(subnormal, "subnormal-v-%")
		b.ReportMetric(zero, "zero-v-%")
	}
}

// census returns the percentages of x that are subnormal and zero.
func census(x []float32) (subnormal, zero float64) {
	var subnormals, zeros int
	for _, v := range x {
		switch a := math.Abs(float64(v)); {
		case a == 0:
			zeros++
		case a < 0x1p-126:
			subnormals++
		}
	}
	n := float64(max(len(x), 1))
	return 100 * float64(subnormals) / n, 100 * float64(zeros) / n
}

package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// stepBuckets are the upper bounds of the step time histograms: powers of
// two from 0.5 ms to about 33 s, because a step of a small model on loopback
// takes milliseconds and the coordinator's default step timeout is 30 s.
var stepBuckets = prometheus.ExponentialBuckets(0.0005, 2, 17)

// throughputWeight is the weight of the newest step in the moving averages
// behind ringtrain_samples_per_second; about the last 1/throughputWeight
// steps count.
const throughputWeight = 0.1

// Labels of the split label of ringtrain_loss and ringtrain_accuracy_ratio.
const (
	splitTrain = "train"
	splitTest  = "test"
)

func (m *Metrics) newStepMetrics() {
	m.stepDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "step_duration_seconds",
		Help:      "Wall time of a committed step, as the coordinator measures it.",
		Buckets:   stepBuckets,
	})
	m.stepCompute = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "step_compute_seconds",
		Help:      "Optimizer step of the previous step, forward and backward time of the slowest worker in a committed step.",
		Buckets:   stepBuckets,
	})
	m.stepAllReduce = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "step_allreduce_seconds",
		Help:      "Ring all-reduce time of the slowest worker in a committed step.",
		Buckets:   stepBuckets,
	})
	m.stepOverlap = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "step_overlap_seconds",
		Help: "Part of ringtrain_step_allreduce_seconds that ran while the backward pass was still running, " +
			"for the worker with the most such time in a committed step.",
		Buckets: stepBuckets,
	})
	m.steps = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "steps_total",
		Help:      "Committed training steps.",
	})
	m.samples = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "samples_total",
		Help:      "Training samples in committed steps; rate() of it is the training throughput.",
	})
	m.samplesPerSecond = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "samples_per_second",
		Help: "Training throughput of recent steps: the moving average of the samples " +
			"of a step over the moving average of its wall time.",
	})
	m.allReduceBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "allreduce_bytes_total",
		Help:      "Gradient bytes that each worker reduced in committed steps.",
	})
}

func (m *Metrics) newEpochMetrics() {
	m.loss = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "loss",
		Help: "Mean cross-entropy of the last finished epoch: split=train averages its steps, " +
			"split=test uses the parameters at its end.",
	}, []string{"split"})
	m.accuracy = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "accuracy_ratio",
		Help:      "Accuracy of the last finished epoch from 0 to 1, on the train or test split.",
	}, []string{"split"})
	m.epoch = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "epoch",
		Help:      "Last finished epoch, counted from 1; 0 before the first ends.",
	})
}

// ObserveStep records one committed step: stepSeconds is the wall time of
// the whole step, computeSeconds and allReduceSeconds are the slowest
// worker's times, samples is the size of the global batch and bytesReduced
// the gradient bytes that each worker reduced. A step with a stepSeconds
// of zero or less counts everywhere but in ringtrain_samples_per_second.
//
// ObserveStep panics if samples or bytesReduced is negative, because
// counters cannot decrease.
func (m *Metrics) ObserveStep(stepSeconds, computeSeconds, allReduceSeconds float64, samples int, bytesReduced int64) {
	if samples < 0 || bytesReduced < 0 {
		panic(fmt.Sprintf("metrics: ObserveStep with %d samples and %d bytes, want both >= 0", samples, bytesReduced))
	}
	m.stepDuration.Observe(stepSeconds)
	m.stepCompute.Observe(computeSeconds)
	m.stepAllReduce.Observe(allReduceSeconds)
	m.steps.Inc()
	m.samples.Add(float64(samples))
	m.allReduceBytes.Add(float64(bytesReduced))

	if stepSeconds <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.avgSeconds == 0 {
		m.avgSamples, m.avgSeconds = float64(samples), stepSeconds
	} else {
		m.avgSamples += throughputWeight * (float64(samples) - m.avgSamples)
		m.avgSeconds += throughputWeight * (stepSeconds - m.avgSeconds)
	}
	m.samplesPerSecond.Set(m.avgSamples / m.avgSeconds)
}

// ObserveStepOverlap records the overlapped all-reduce time of one
// committed step in ringtrain_step_overlap_seconds. A worker's step takes
// about its compute time plus its all-reduce time less this overlap.
func (m *Metrics) ObserveStepOverlap(seconds float64) {
	m.stepOverlap.Observe(seconds)
}

// ObserveEpoch records the figures of a finished epoch, counted from 1, in
// ringtrain_epoch, ringtrain_loss{split} and ringtrain_accuracy_ratio{split}.
// Accuracies run from 0 to 1.
func (m *Metrics) ObserveEpoch(epoch int, trainLoss, trainAccuracy, testLoss, testAccuracy float64) {
	m.epoch.Set(float64(epoch))
	m.loss.WithLabelValues(splitTrain).Set(trainLoss)
	m.loss.WithLabelValues(splitTest).Set(testLoss)
	m.accuracy.WithLabelValues(splitTrain).Set(trainAccuracy)
	m.accuracy.WithLabelValues(splitTest).Set(testAccuracy)
}

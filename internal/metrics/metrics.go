// Package metrics exports the coordinator's training metrics in the
// Prometheus format. They cover step times split into compute and
// all-reduce, throughput, and the losses and accuracies of the last
// finished epoch. They also cover workers by state, the membership
// generation, failures and the age of the newest checkpoint. Every metric
// name starts with ringtrain_ and uses base units.
package metrics

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "ringtrain"

// Metrics holds the coordinator's metrics in a registry of its own, so that
// several coordinators in one process (as in tests) never collide. Its
// methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler
	now      func() time.Time

	stepDuration     prometheus.Histogram
	stepCompute      prometheus.Histogram
	stepAllReduce    prometheus.Histogram
	stepOverlap      prometheus.Histogram
	steps            prometheus.Counter
	samples          prometheus.Counter
	samplesPerSecond prometheus.Gauge
	allReduceBytes   prometheus.Counter

	loss     *prometheus.GaugeVec
	accuracy *prometheus.GaugeVec
	epoch    prometheus.Gauge

	workers             *prometheus.GaugeVec
	generation          prometheus.Gauge
	failures            prometheus.Counter
	checkpointTimestamp prometheus.Gauge
	checkpointAge       prometheus.GaugeFunc

	// mu guards the fields below.
	mu sync.Mutex
	// avgSamples and avgSeconds are moving averages of the samples and the
	// wall time of a step, whose ratio is ringtrain_samples_per_second.
	avgSamples, avgSeconds float64
	// workerStates holds every state that SetWorkers has reported, so that
	// a state that empties drops to zero instead of vanishing.
	workerStates map[string]bool
	// checkpoint is the time of the newest checkpoint, zero before the first.
	checkpoint time.Time
}

// New returns metrics registered in a new registry, together with the Go
// runtime and process collectors.
func New() *Metrics {
	return newMetrics(time.Now)
}

func newMetrics(now func() time.Time) *Metrics {
	m := &Metrics{
		registry:     prometheus.NewRegistry(),
		now:          now,
		workerStates: make(map[string]bool),
	}
	m.newStepMetrics()
	m.newEpochMetrics()
	m.newClusterMetrics()

	m.registry.MustRegister(m.collectors()...)
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.InstrumentMetricHandler(m.registry,
		promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry}))
	return m
}

// Handler returns the HTTP handler that serves the registry's metrics in
// the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return m.handler
}

// collectors returns the ringtrain_ metrics, without the runtime and
// process collectors.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.stepDuration, m.stepCompute, m.stepAllReduce, m.stepOverlap,
		m.steps, m.samples, m.samplesPerSecond, m.allReduceBytes,
		m.loss, m.accuracy, m.epoch,
		m.workers, m.generation, m.failures,
		m.checkpointTimestamp, m.checkpointAge,
	}
}

func (m *Metrics) newClusterMetrics() {
	m.workers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "workers",
		Help:      "Registered workers by state (joining, training, suspect, failed, left).",
	}, []string{"state"})
	m.generation = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "generation",
		Help:      "Generation of the current membership view; it grows by one with every new view.",
	})
	m.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "failures_total",
		Help:      "Worker failures that abandoned a step and re-formed the ring.",
	})
	m.checkpointTimestamp = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "checkpoint_timestamp_seconds",
		Help:      "Unix time of the newest checkpoint, 0 before the first.",
	})
	m.checkpointAge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "checkpoint_age_seconds",
		Help:      "Seconds since the newest checkpoint was written, NaN before the first.",
	}, m.checkpointAgeSeconds)
}

// SetWorkers sets ringtrain_workers{state} to the number of workers in each
// state. A state that an earlier call reported and byState lacks is set to
// zero, so its series stays continuous.
func (m *Metrics) SetWorkers(byState map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for state := range m.workerStates {
		if _, ok := byState[state]; !ok {
			m.workers.WithLabelValues(state).Set(0)
		}
	}
	for state, n := range byState {
		m.workerStates[state] = true
		m.workers.WithLabelValues(state).Set(float64(n))
	}
}

// SetGeneration sets ringtrain_generation.
func (m *Metrics) SetGeneration(g uint64) {
	m.generation.Set(float64(g))
}

// AddFailure counts one worker failure in ringtrain_failures_total.
func (m *Metrics) AddFailure() {
	m.failures.Inc()
}

// SetCheckpointTime records when the newest checkpoint was written, for
// ringtrain_checkpoint_timestamp_seconds and
// ringtrain_checkpoint_age_seconds.
func (m *Metrics) SetCheckpointTime(t time.Time) {
	m.mu.Lock()
	m.checkpoint = t
	m.mu.Unlock()
	m.checkpointTimestamp.Set(float64(t.UnixNano()) / 1e9)
}

func (m *Metrics) checkpointAgeSeconds() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.checkpoint.IsZero() {
		return math.NaN()
	}
	return m.now().Sub(m.checkpoint).Seconds()
}

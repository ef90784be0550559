package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NewWithClock returns metrics whose checkpoint age is measured with now.
func NewWithClock(now func() time.Time) *Metrics { return newMetrics(now) }

// Registry returns the registry behind m.
func Registry(m *Metrics) *prometheus.Registry { return m.registry }

// Collectors returns the ringtrain_ collectors of m.
func Collectors(m *Metrics) []prometheus.Collector { return m.collectors() }

package metrics_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ringtrain/ringtrain/internal/metrics"
)

func TestSetWorkersZeroesEmptiedStates(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SetWorkers(map[string]int{"training": 3, "joining": 1})
	m.SetWorkers(map[string]int{"training": 2, "failed": 1})

	want := `
# HELP ringtrain_workers Registered workers by state (joining, training, suspect, failed, left).
# TYPE ringtrain_workers gauge
ringtrain_workers{state="failed"} 1
ringtrain_workers{state="joining"} 0
ringtrain_workers{state="training"} 2
`
	err := testutil.GatherAndCompare(metrics.Registry(m), strings.NewReader(want), "ringtrain_workers")
	if err != nil {
		t.Error(err)
	}
}

func TestGenerationAndFailures(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SetGeneration(7)
	m.AddFailure()
	m.AddFailure()

	want := `
# HELP ringtrain_failures_total Worker failures that abandoned a step and re-formed the ring.
# TYPE ringtrain_failures_total counter
ringtrain_failures_total 2
# HELP ringtrain_generation Generation of the current membership view; it grows by one with every new view.
# TYPE ringtrain_generation gauge
ringtrain_generation 7
`
	err := testutil.GatherAndCompare(metrics.Registry(m), strings.NewReader(want),
		"ringtrain_failures_total", "ringtrain_generation")
	if err != nil {
		t.Error(err)
	}
}

func TestHandlerServesRegistry(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SetGeneration(3)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	want := `
# HELP ringtrain_generation Generation of the current membership view; it grows by one with every new view.
# TYPE ringtrain_generation gauge
ringtrain_generation 3
`
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), "ringtrain_generation"); err != nil {
		t.Error(err)
	}

	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET %s: %v", srv.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", srv.URL, err)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_requests_total"} {
		if !strings.Contains(string(body), "\n"+name+" ") && !strings.Contains(string(body), "\n"+name+"{") {
			t.Errorf("scrape has no %s", name)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObserveStep(0.02, 0.01, 0.005, 64, 1024)
	m.ObserveEpoch(1, 0.4, 0.9, 0.3, 0.92)
	m.SetWorkers(map[string]int{"training": 3})
	m.SetCheckpointTime(time.Now())

	for _, c := range metrics.Collectors(m) {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatalf("CollectAndLint() error: %v", err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	problems, err := testutil.GatherAndLint(metrics.Registry(m))
	if err != nil {
		t.Fatalf("GatherAndLint() error: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint of the whole registry: %s: %s", p.Metric, p.Text)
	}
}

// TestConcurrentUse is for the race detector: every method runs while the
// handler scrapes.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				m.ObserveStep(0.01, 0.005, 0.004, 64, 1024)
				m.ObserveEpoch(i+1, 0.5, 0.8, 0.6, 0.7)
				m.SetWorkers(map[string]int{"training": g, "joining": i % 2})
				m.SetGeneration(uint64(i))
				m.AddFailure()
				m.SetCheckpointTime(time.Now())
			}
		})
	}
	for range 5 {
		res, err := http.Get(srv.URL)
		if err != nil {
			t.Fatalf("GET %s: %v", srv.URL, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", srv.URL, res.StatusCode)
		}
	}
	wg.Wait()

	if got := family(t, m, "ringtrain_steps_total").GetMetric()[0].GetCounter().GetValue(); got != 400 {
		t.Errorf("steps_total = %g, want 400", got)
	}
}

// metricName matches the ringtrain_ names in a PromQL expression.
var metricName = regexp.MustCompile(`\bringtrain_[a-z_]+\b`)

// TestGrafanaDashboardNames checks that every metric the Grafana dashboard
// queries exists, and that it charts every ringtrain_ family.
func TestGrafanaDashboardNames(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "deploy", "grafana", "ringtrain.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the dashboard: %v", err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var exprs []string
	collectExprs(doc, &exprs)
	if len(exprs) == 0 {
		t.Fatalf("%s has no expr", path)
	}

	m := metrics.New()
	m.ObserveEpoch(1, 0.4, 0.9, 0.3, 0.92)
	m.SetWorkers(map[string]int{"training": 3})
	families, err := metrics.Registry(m).Gather()
	if err != nil {
		t.Fatalf("Gather() error: %v", err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "ringtrain_") {
			exported[f.GetName()] = true
		}
	}

	queried := map[string]bool{}
	for _, expr := range exprs {
		for _, name := range metricName.FindAllString(expr, -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if trimmed, ok := strings.CutSuffix(name, suffix); ok && exported[trimmed] {
					base = trimmed
				}
			}
			if !exported[base] {
				t.Errorf("query %q uses %s, which the metrics do not export", expr, name)
			}
			queried[base] = true
		}
	}
	var unqueried []string
	for name := range exported {
		if !queried[name] {
			unqueried = append(unqueried, name)
		}
	}
	slices.Sort(unqueried)
	if diff := cmp.Diff([]string(nil), unqueried); diff != "" {
		t.Errorf("families the dashboard does not chart (-want +got):\n%s", diff)
	}
}

// collectExprs appends the value of every "expr" key under v.
func collectExprs(v any, exprs *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for key, child := range v {
			if s, ok := child.(string); ok && key == "expr" {
				*exprs = append(*exprs, s)
			}
			collectExprs(child, exprs)
		}
	case []any:
		for _, child := range v {
			collectExprs(child, exprs)
		}
	}
}

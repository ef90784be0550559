package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/dashboard"
)

// The browser tests load the dashboard in headless Chromium through
// chromedp, so they run only when an environment variable enables them:
//
//	RINGTRAIN_DASHBOARD_URL      the dashboard of a running job, such as
//	                             http://127.0.0.1:8080/, for TestDashboardLiveJob
//	RINGTRAIN_DASHBOARD_BROWSER  1 to run TestDashboardFixtureInBrowser
//	RINGTRAIN_DASHBOARD_OUT      a folder for the screenshots; without it
//	                             none is saved
//	RINGTRAIN_CHROMIUM           the browser binary; without it chromedp
//	                             looks for chromium and Chrome on PATH
const (
	envURL      = "RINGTRAIN_DASHBOARD_URL"
	envBrowser  = "RINGTRAIN_DASHBOARD_BROWSER"
	envOut      = "RINGTRAIN_DASHBOARD_OUT"
	envChromium = "RINGTRAIN_CHROMIUM"
)

// browserTimeout bounds each browser test, the browser's start included.
const browserTimeout = 2 * time.Minute

// epochSeries are the data-series names of the epoch chart points.
var epochSeries = []string{"train-loss", "test-loss", "train-accuracy", "test-accuracy"}

// pageView is what the page shows, read from its DOM.
type pageView struct {
	Polls      int            `json:"polls"`
	Renders    int            `json:"renders"`
	Points     map[string]int `json:"points"`
	Workers    []string       `json:"workers"`
	StepPoints int            `json:"stepPoints"`
	Gaps       []string       `json:"gaps"`
	Events     []string       `json:"events"`
	Fields     []string       `json:"fields"`
	Connection string         `json:"connection"`
	State      string         `json:"state"`
}

const readViewScript = `(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const points = {};
  for (const s of %s) points[s] = all('circle[data-series="' + s + '"]').length;
  const step = document.querySelector('path[data-series="step-loss"]');
  const connection = document.getElementById("connection");
  return {
    polls: Number(document.body.dataset.polls || 0),
    renders: Number(document.body.dataset.renders || 0),
    points,
    workers: all("tr[data-worker]").map((tr) => tr.dataset.worker),
    stepPoints: step ? Number(step.dataset.points) : 0,
    gaps: all("g[data-gap]").map((g) => g.dataset.gap + ": " + g.textContent),
    events: all("#events li span").map((s) => s.textContent),
    fields: all("#job-fields dd").map((dd) => dd.dataset.field),
    connection: connection.hidden ? "" : connection.textContent,
    state: document.getElementById("state").textContent,
  };
})()`

// browser is a headless Chromium tab with the errors of its console.
type browser struct {
	ctx context.Context

	// mu guards errors.
	mu     sync.Mutex
	errors []string
}

// newBrowser starts Chromium for the test and stops it at cleanup.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	if path := os.Getenv(envChromium); path != "" {
		opts = append(opts, chromedp.ExecPath(path))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)

	// The first action starts the browser, and a timeout on its context
	// would stop the browser too. So the browser context has none, and the
	// test's deadline goes on the context of each action.
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx}

	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()

	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
	})
	return b
}

// do runs the actions with the test's deadline.
func (b *browser) do(t *testing.T, deadline time.Time, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// read returns what the page shows now.
func (b *browser) read(t *testing.T, deadline time.Time) pageView {
	t.Helper()
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	series, _ := json.Marshal(epochSeries)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[pageView](fmt.Sprintf(readViewScript, series)))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return v
}

// evaluate returns the value of a JavaScript expression in the page.
func (b *browser) evaluate(t *testing.T, deadline time.Time, expression string) bool {
	t.Helper()
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expression))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// poll waits until the JavaScript expression is true in the page.
func (b *browser) poll(t *testing.T, deadline time.Time, expression string) {
	t.Helper()
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expression,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatalf("wait for %s: %v", expression, err)
	}
}

// waitRender waits until the page has rendered a status document that it
// fetched after the call, and returns what it shows then.
func (b *browser) waitRender(t *testing.T, deadline time.Time) pageView {
	t.Helper()
	// A poll in flight may have fetched its document before the call, so
	// wait for the render after that one.
	want := b.read(t, deadline).Renders + 2
	b.poll(t, deadline, fmt.Sprintf("Number(document.body.dataset.renders || 0) >= %d", want))
	return b.read(t, deadline)
}

// waitPolls waits until the page has polled n more times, whatever the
// responses were, and returns what it shows then.
func (b *browser) waitPolls(t *testing.T, deadline time.Time, n int) pageView {
	t.Helper()
	want := b.read(t, deadline).Polls + n
	b.poll(t, deadline, fmt.Sprintf("Number(document.body.dataset.polls || 0) >= %d", want))
	return b.read(t, deadline)
}

// maxReportedErrors bounds the console errors that a failure lists.
const maxReportedErrors = 20

// checkConsole fails the test if the console has shown errors so far.
func (b *browser) checkConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	errs := slices.Clone(b.errors)
	b.mu.Unlock()
	if len(errs) == 0 {
		return
	}
	shown := errs[:min(len(errs), maxReportedErrors)]
	t.Errorf("%d console errors, the first %d:\n%s", len(errs), len(shown), strings.Join(shown, "\n"))
}

// screenshot saves the whole page as a PNG in the folder that
// RINGTRAIN_DASHBOARD_OUT names, if it names one.
func (b *browser) screenshot(t *testing.T, deadline time.Time, name string) {
	t.Helper()
	dir := os.Getenv(envOut)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("saved %s", path)
}

// checkView compares what the page shows with the status document it
// rendered.
func checkView(t *testing.T, s coordinator.Status, v pageView) {
	t.Helper()
	for _, series := range epochSeries {
		if got := v.Points[series]; got != len(s.History) {
			t.Errorf("%s chart has %d points, want one per finished epoch: %d", series, got, len(s.History))
		}
	}
	var ids []string
	for _, w := range s.Workers {
		ids = append(ids, w.ID)
	}
	if diff := cmp.Diff(ids, v.Workers); diff != "" {
		t.Errorf("worker rows differ from status workers (-want +got):\n%s", diff)
	}
	if len(s.History) > 0 && len(v.Gaps) != 2 {
		t.Errorf("gap labels = %q, want one on the loss chart and one on the accuracy chart", v.Gaps)
	}
	if v.State != s.State {
		t.Errorf("state badge = %q, want %q", v.State, s.State)
	}
	if v.Connection != "" {
		t.Errorf("connection message = %q, want none", v.Connection)
	}
}

// fetchStatus returns the status document next to the dashboard at page.
func fetchStatus(t *testing.T, page string) coordinator.Status {
	t.Helper()
	u, err := url.Parse(page)
	if err != nil {
		t.Fatalf("parse %s=%q: %v", envURL, page, err)
	}
	statusURL := u.ResolveReference(&url.URL{Path: "status"}).String()
	res, err := http.Get(statusURL)
	if err != nil {
		t.Fatalf("GET %s: %v", statusURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", statusURL, res.StatusCode)
	}
	var s coordinator.Status
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", statusURL, err)
	}
	return s
}

// sameShape reports whether two status documents have the same finished
// epochs and the same workers, so that a page rendered between them must
// show exactly those.
func sameShape(a, b coordinator.Status) bool {
	ids := func(s coordinator.Status) []string {
		var out []string
		for _, w := range s.Workers {
			out = append(out, w.ID)
		}
		return out
	}
	return len(a.History) == len(b.History) && slices.Equal(ids(a), ids(b))
}

// TestDashboardLiveJob loads the dashboard of a running job and checks that
// it shows every finished epoch and every worker of the job's status, with
// no console errors.
func TestDashboardLiveJob(t *testing.T) {
	page := os.Getenv(envURL)
	if page == "" {
		t.Skipf("%s is not set; set it to the dashboard URL of a running job to check it in Chromium", envURL)
	}
	if !strings.HasSuffix(page, "/") {
		page += "/"
	}
	deadline := time.Now().Add(browserTimeout)
	b := newBrowser(t)
	b.do(t, deadline, chromedp.Navigate(page))

	// The job moves on while the page polls, so compare the page with the
	// documents fetched before and after one of its renders, and try again
	// when an epoch ended or a worker came or went in between.
	const attempts = 5
	for i := 1; ; i++ {
		before := fetchStatus(t, page)
		v := b.waitRender(t, deadline)
		after := fetchStatus(t, page)
		if !sameShape(before, after) && i < attempts {
			t.Logf("attempt %d: the job changed while the page rendered; trying again", i)
			continue
		}
		if !sameShape(before, after) {
			t.Fatalf("the job changed during each of %d renders", attempts)
		}
		t.Logf("page shows %d epochs, %d workers, %d step points, state %s",
			len(after.History), len(v.Workers), v.StepPoints, v.State)
		// The state can change between the two documents without a change
		// of shape; the page shows one of them.
		if v.State == before.State {
			after.State = before.State
		}
		checkView(t, after, v)
		if len(after.StepLoss) > 0 && v.StepPoints == 0 {
			t.Errorf("step chart has no points, want some: the status has %d", len(after.StepLoss))
		}
		break
	}
	b.screenshot(t, deadline, "dashboard.png")
	b.checkConsole(t)
}

// fixtureServer serves the dashboard under a path prefix, next to a status
// document that the test replaces while the page polls.
type fixtureServer struct {
	// mu guards doc.
	mu sync.Mutex
	// doc is the JSON body of status, or nil to fail with 503.
	doc []byte
}

func (f *fixtureServer) set(t *testing.T, doc any) {
	t.Helper()
	var data []byte
	if doc != nil {
		var err error
		if data, err = json.Marshal(doc); err != nil {
			t.Fatalf("encode the fixture: %v", err)
		}
	}
	f.mu.Lock()
	f.doc = data
	f.mu.Unlock()
}

func (f *fixtureServer) serveStatus(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	doc := f.doc
	f.mu.Unlock()
	if doc == nil {
		http.Error(w, "fixture: no status", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

// fixtureStatus returns a job with the given numbers of finished epochs,
// workers, step loss points and events. The test loss turns upwards after
// a third of the epochs, as when a model overfits.
func fixtureStatus(epochs, workers, steps, events int) coordinator.Status {
	rng := rand.New(rand.NewPCG(1, 1))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := coordinator.Status{
		JobID: "fixture", State: coordinator.StateTraining, Dataset: "mnist",
		Model: "784-100relu-60sigmoid-10", Params: 84670, BatchSize: 64, Epochs: epochs + 5,
		Optimizer: "adam", LearningRate: 0.001, Seed: 1, MinWorkers: 3, Generation: 4,
		Epoch: epochs + 1, Step: uint64(epochs * 938), EpochSamples: 6400,
		Fingerprint: "9c0f3b2a7d11e845", StartedAt: start, UpdatedAt: start.Add(time.Hour),
		History: []coordinator.EpochStats{}, StepLoss: []coordinator.StepPoint{},
		Workers: []coordinator.WorkerStatus{}, Events: []coordinator.Event{},
	}
	for e := 1; e <= epochs; e++ {
		x := float64(e)
		s.History = append(s.History, coordinator.EpochStats{
			Epoch: e, Samples: 60000, TrainSamples: 60000, Seconds: 20 + rng.Float64(),
			TrainLoss: 0.4/x + 0.01*rng.Float64(), TrainAccuracy: 1 - 0.1/x,
			TestLoss:     0.2/x + 0.08 + 0.002*max(x-float64(epochs)/3, 0),
			TestAccuracy: 0.97 - 0.05/x + 0.002*rng.Float64(),
		})
	}
	for i := 1; i <= steps; i++ {
		s.StepLoss = append(s.StepLoss, coordinator.StepPoint{
			Step: uint64(i * max(epochs, 1) * 938 / steps), Loss: 0.5/float64(i) + 0.05*rng.Float64(),
		})
	}
	for i := range workers {
		s.Workers = append(s.Workers, coordinator.WorkerStatus{
			ID: fmt.Sprintf("worker-%02d", i), Address: fmt.Sprintf("127.0.0.1:%d", 7000+i),
			State: coordinator.WorkerTraining, Step: s.Step,
			ComputeSeconds: 0.003 + 0.001*rng.Float64(), AllReduceSeconds: 0.002 + 0.001*rng.Float64(),
			SamplesPerSecond: 400 + 50*rng.Float64(),
		})
	}
	for i := range events {
		s.Events = append(s.Events, coordinator.Event{
			Time: start.Add(time.Duration(i) * time.Second), Message: fmt.Sprintf("epoch %d finished", i),
		})
	}
	return s
}

// withMode returns the status document with a mode field, which newer
// coordinators report.
func withMode(t *testing.T, s coordinator.Status, mode string) map[string]any {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("encode the fixture: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("decode the fixture: %v", err)
	}
	doc["mode"] = mode
	return doc
}

// TestDashboardFixtureInBrowser loads the dashboard under a path prefix
// with a job of 100 epochs and 50 workers, then replaces the job while the
// page polls, then makes the status fail.
func TestDashboardFixtureInBrowser(t *testing.T) {
	if os.Getenv(envBrowser) != "1" {
		t.Skipf("%s is not 1; set it to check the dashboard in Chromium", envBrowser)
	}
	const prefix = "/jobs/ringtrain"
	fixture := &fixtureServer{}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, dashboard.Handler()))
	mux.HandleFunc("GET "+prefix+"/status", fixture.serveStatus)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	deadline := time.Now().Add(browserTimeout)
	b := newBrowser(t)

	large := fixtureStatus(100, 50, 2000, 200)
	// A message that the page wrote as HTML would load an image and run
	// its onerror handler.
	const injected = `<img src="x" onerror="document.body.dataset.injected = 1">`
	large.Events[10].Message = "worker failed: " + injected
	fixture.set(t, large)
	b.do(t, deadline, chromedp.Navigate(srv.URL+prefix+"/"))
	v := b.waitRender(t, deadline)
	checkView(t, large, v)
	if v.StepPoints != len(large.StepLoss) {
		t.Errorf("step chart has %d points, want %d", v.StepPoints, len(large.StepLoss))
	}
	if len(v.Events) != len(large.Events) || v.Events[0] != large.Events[len(large.Events)-1].Message {
		t.Errorf("events start with %q and number %d, want the newest first, %q, and %d",
			v.Events[:min(1, len(v.Events))], len(v.Events), large.Events[len(large.Events)-1].Message, len(large.Events))
	}
	if !slices.Contains(v.Events, "worker failed: "+injected) {
		t.Errorf("events lack the message with markup as text, %q", injected)
	}
	if slices.Contains(v.Fields, "mode") {
		t.Errorf("job fields %q include mode, which the status lacks", v.Fields)
	}
	b.screenshot(t, deadline, "dashboard-fixture.png")

	small := fixtureStatus(3, 2, 40, 3)
	fixture.set(t, withMode(t, small, "exact"))
	v = b.waitRender(t, deadline)
	checkView(t, small, v)
	if !slices.Contains(v.Fields, "mode") {
		t.Errorf("job fields %q lack mode, which the status has", v.Fields)
	}
	if b.evaluate(t, deadline, `document.body.dataset.injected !== undefined`) {
		t.Error("an event message ran as HTML")
	}

	// The log scale redraws the step chart at once, without a poll.
	b.evaluate(t, deadline, `document.getElementById("step-log").click(), true`)
	v = b.read(t, deadline)
	if v.StepPoints != len(small.StepLoss) {
		t.Errorf("log scale: step chart has %d points, want %d", v.StepPoints, len(small.StepLoss))
	}
	b.checkConsole(t)

	// An epoch resumed without its earlier train sums has no train values
	// to draw, while its test values stay.
	resumed := fixtureStatus(3, 2, 40, 3)
	resumed.History[1].TrainSamples = 0
	fixture.set(t, resumed)
	v = b.waitPolls(t, deadline, 2)
	if got, want := v.Points["train-loss"], len(resumed.History)-1; got != want {
		t.Errorf("epoch without train samples: train-loss chart has %d points, want %d", got, want)
	}
	if got, want := v.Points["test-loss"], len(resumed.History); got != want {
		t.Errorf("epoch without train samples: test-loss chart has %d points, want %d", got, want)
	}

	// A failing status shows a message and keeps the last job on the page.
	fixture.set(t, nil)
	v = b.waitPolls(t, deadline, 2)
	if v.Connection == "" {
		t.Error("no connection message after the status failed")
	}
	if got := v.Points["test-loss"]; got != len(resumed.History) {
		t.Errorf("after the status failed: test-loss chart has %d points, want the last job's %d", got, len(resumed.History))
	}
}

package coordinator

import (
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStepLossStaysBounded(t *testing.T) {
	t.Parallel()
	b := newStatusBoard("job", DefaultConfig())
	const steps = 5*maxStepPoints + 17
	for step := uint64(1); step <= steps; step++ {
		b.addStepLoss(step, float64(step))
	}
	points := b.snapshot().StepLoss
	if len(points) > maxStepPoints || len(points) < maxStepPoints/2 {
		t.Fatalf("%d points after %d steps, want between %d and %d", len(points), steps, maxStepPoints/2, maxStepPoints)
	}
	for i := 1; i < len(points); i++ {
		if points[i].Step <= points[i-1].Step {
			t.Fatalf("point %d at step %d follows step %d, want increasing steps", i, points[i].Step, points[i-1].Step)
		}
	}
	// A point covering steps a+1..b of a loss equal to the step number has
	// mean (a+1+b)/2.
	first := points[0]
	stride := float64(points[1].Step - points[0].Step)
	if want := (float64(first.Step) - stride + 1 + float64(first.Step)) / 2; first.Loss != want {
		t.Errorf("first point loss %v, want the block mean %v", first.Loss, want)
	}
}

func TestSliceBoundsCoverBatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ n, parts int }{{64, 3}, {2, 3}, {0, 4}, {96, 1}, {37, 7}} {
		bounds := sliceBounds(tt.n, tt.parts)
		if bounds[0] != 0 || bounds[tt.parts] != tt.n {
			t.Errorf("sliceBounds(%d, %d) = %v, want it to span 0 to %d", tt.n, tt.parts, bounds, tt.n)
		}
		for i := 1; i <= tt.parts; i++ {
			size := bounds[i] - bounds[i-1]
			if size < tt.n/tt.parts || size > tt.n/tt.parts+1 {
				t.Errorf("sliceBounds(%d, %d) slice %d has %d samples, want %d or %d", tt.n, tt.parts, i-1, size, tt.n/tt.parts, tt.n/tt.parts+1)
			}
		}
	}
}

func TestEpochOrderIsPermutation(t *testing.T) {
	t.Parallel()
	a := epochOrder(7, 0, 1000)
	seen := make([]bool, 1000)
	for _, i := range a {
		if seen[i] {
			t.Fatalf("epochOrder repeats sample %d", i)
		}
		seen[i] = true
	}
	b := epochOrder(7, 0, 1000)
	c := epochOrder(7, 1, 1000)
	same, differs := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differs = differs || a[i] != c[i]
	}
	if !same {
		t.Error("epochOrder differs for the same seed and epoch")
	}
	if !differs {
		t.Error("epochOrder is the same for epochs 0 and 1")
	}
}

func TestStatusHandlerRejectsNaN(t *testing.T) {
	t.Parallel()
	c := &Coordinator{
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		status: newStatusBoard("job", DefaultConfig()),
	}
	c.status.addStepLoss(1, math.NaN())
	rec := httptest.NewRecorder()
	c.serveStatus(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("GET /status with a NaN loss = %d, want %d", rec.Code, http.StatusInternalServerError)
	}
	if !strings.Contains(rec.Body.String(), "NaN") {
		t.Errorf("GET /status body = %q, want the encoding error", rec.Body.String())
	}
}

func TestStatusHandlerEncodesDocument(t *testing.T) {
	t.Parallel()
	c := &Coordinator{
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		status: newStatusBoard("job", DefaultConfig()),
	}
	c.status.addStepLoss(1, 2.5)
	rec := httptest.NewRecorder()
	c.serveStatus(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /status = %d, want %d", rec.Code, http.StatusOK)
	}
	var s Status
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("decode /status: %v", err)
	}
	if len(s.StepLoss) != 1 || s.StepLoss[0].Loss != 2.5 {
		t.Errorf("step_loss = %v, want one point of 2.5", s.StepLoss)
	}
}

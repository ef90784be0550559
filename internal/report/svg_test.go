package report

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNiceStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		span         float64
		n            int
		wantStep     float64
		wantDecimals int
	}{
		{"unit span", 1, 5, 0.2, 1},
		{"loss span", 0.4321, 5, 0.1, 1},
		{"small accuracy span", 0.03, 5, 0.01, 2},
		{"exact decade", 10, 10, 1, 0},
		{"rounds up to next decade", 7, 1, 10, 0},
		{"epochs", 99, 8, 20, 0},
		{"five", 0.24, 5, 0.05, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			step, decimals := niceStep(tt.span, tt.n)
			if !approxEqual(step, tt.wantStep) || decimals != tt.wantDecimals {
				t.Errorf("niceStep(%v, %d) = %v, %d, want %v, %d", tt.span, tt.n, step, decimals, tt.wantStep, tt.wantDecimals)
			}
		})
	}
}

func TestNiceAxisCoversRange(t *testing.T) {
	t.Parallel()
	a := niceAxis(0.8905, 0.9641, 5)
	var labels []string
	for _, tick := range a.ticks {
		labels = append(labels, a.label(tick))
	}
	want := []string{"0.88", "0.90", "0.92", "0.94", "0.96", "0.98"}
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("tick labels (-want +got):\n%s", diff)
	}
	if a.lo > 0.8905 || a.hi < 0.9641 {
		t.Errorf("axis [%v, %v] does not cover [0.8905, 0.9641]", a.lo, a.hi)
	}
}

func TestAxisClamp(t *testing.T) {
	t.Parallel()
	a := niceAxis(0.9, 1.04, 5).clamp(0, 1)
	var labels []string
	for _, tick := range a.ticks {
		labels = append(labels, a.label(tick))
	}
	want := []string{"0.90", "0.95", "1.00"}
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("tick labels (-want +got):\n%s", diff)
	}
	if a.hi != 1 {
		t.Errorf("clamped axis ends at %v, want 1", a.hi)
	}
}

func TestNiceAxisZeroWidth(t *testing.T) {
	t.Parallel()
	a := niceAxis(2, 2, 5)
	if !(a.lo < 2 && a.hi > 2) {
		t.Errorf("niceAxis(2, 2) = [%v, %v], want a range around 2", a.lo, a.hi)
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {-0.001, "0"}, {1.005, "1"}, {12.346, "12.35"}, {70.5, "70.5"}, {-3.25, "-3.25"},
	}
	for _, tt := range tests {
		if got := num(tt.in); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	if got, want := escape(`a<b & "c"`), "a&lt;b &amp; &#34;c&#34;"; got != want {
		t.Errorf("escape = %q, want %q", got, want)
	}
}

func approxEqual(a, b float64) bool {
	d := a - b
	return d < 1e-12 && d > -1e-12
}

package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCurvesSVGGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := CurvesSVG(&b, sampleHistory(), "mnist-mlp <batch 64>"); err != nil {
		t.Fatalf("CurvesSVG: %v", err)
	}
	checkGolden(t, "curves.svg", b.Bytes())
}

// svgPoints parses data as XML and returns, per data-series attribute of a
// circle of class "point", the data-epoch attributes in document order.
func svgPoints(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	points := make(map[string][]string)
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return points
		}
		if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "circle" {
			continue
		}
		attrs := make(map[string]string)
		for _, a := range el.Attr {
			attrs[a.Name.Local] = a.Value
		}
		if attrs["class"] == "point" {
			points[attrs["data-series"]] = append(points[attrs["data-series"]], attrs["data-epoch"])
		}
	}
}

func TestCurvesSVGPointPerEpoch(t *testing.T) {
	t.Parallel()
	var rows []Epoch
	for e := 1; e <= 12; e++ {
		f := float64(e)
		rows = append(rows, Epoch{Epoch: e, Samples: 100, TrainSamples: 100, TrainLoss: 1 / f, TrainAccuracy: 1 - 0.5/f, TestLoss: 1.2 / f, TestAccuracy: 1 - 0.6/f})
	}
	var b bytes.Buffer
	if err := CurvesSVG(&b, rows, "twelve epochs"); err != nil {
		t.Fatalf("CurvesSVG: %v", err)
	}
	epochs := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	want := map[string][]string{
		"train-loss": epochs, "test-loss": epochs, "train-accuracy": epochs, "test-accuracy": epochs,
	}
	if diff := cmp.Diff(want, svgPoints(t, b.Bytes())); diff != "" {
		t.Errorf("points per series (-want +got):\n%s", diff)
	}
}

func TestCurvesSVGSkipsNonFinite(t *testing.T) {
	t.Parallel()
	rows := sampleHistory()
	rows[1].TrainLoss = math.NaN()
	rows[2].TestLoss = math.Inf(1)
	var b bytes.Buffer
	if err := CurvesSVG(&b, rows, "diverged"); err != nil {
		t.Fatalf("CurvesSVG: %v", err)
	}
	want := map[string][]string{
		"train-loss":     {"1", "3"},
		"test-loss":      {"1", "2"},
		"train-accuracy": {"1", "2", "3"},
		"test-accuracy":  {"1", "2", "3"},
	}
	if diff := cmp.Diff(want, svgPoints(t, b.Bytes())); diff != "" {
		t.Errorf("points per series (-want +got):\n%s", diff)
	}
	if strings.Contains(b.String(), "NaN") || strings.Contains(b.String(), "Inf") {
		t.Errorf("SVG contains a non-finite coordinate:\n%s", b.String())
	}
}

func TestCurvesSVGFewRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rows []Epoch
		want int // points per series
	}{
		{"no rows", nil, 0},
		{"one row", sampleHistory()[:1], 1},
		{"flat accuracy", []Epoch{
			{Epoch: 1, Samples: 5, TrainSamples: 5, TrainLoss: 0, TrainAccuracy: 1, TestLoss: 0, TestAccuracy: 1},
			{Epoch: 2, Samples: 5, TrainSamples: 5, TrainLoss: 0, TrainAccuracy: 1, TestLoss: 0, TestAccuracy: 1},
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := CurvesSVG(&b, tt.rows, tt.name); err != nil {
				t.Fatalf("CurvesSVG: %v", err)
			}
			points := svgPoints(t, b.Bytes())
			for _, series := range []string{"train-loss", "test-loss", "train-accuracy", "test-accuracy"} {
				if got := len(points[series]); got != tt.want {
					t.Errorf("series %s has %d points, want %d", series, got, tt.want)
				}
			}
			if strings.Contains(b.String(), "NaN") {
				t.Errorf("SVG contains NaN:\n%s", b.String())
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestCurvesSVGWriteError(t *testing.T) {
	t.Parallel()
	if err := CurvesSVG(failingWriter{}, sampleHistory(), "x"); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("CurvesSVG to a failing writer: error = %v, want the write error", err)
	}
}

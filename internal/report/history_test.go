package report

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name, or rewrites the file with
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// sampleHistory is a three-epoch run in which the test loss turns up while
// the train loss keeps falling.
func sampleHistory() []Epoch {
	return []Epoch{
		{Epoch: 1, Samples: 60000, TrainSamples: 60000, TrainLoss: 0.4321, TrainAccuracy: 0.8905, TestLoss: 0.198, TestAccuracy: 0.9422, Seconds: 10.25},
		{Epoch: 2, Samples: 60000, TrainSamples: 60000, TrainLoss: 0.1502, TrainAccuracy: 0.9551, TestLoss: 0.1201, TestAccuracy: 0.9633, Seconds: 20.5},
		{Epoch: 3, Samples: 60000, TrainSamples: 41000, TrainLoss: 0.0921, TrainAccuracy: 0.9722, TestLoss: 0.1314, TestAccuracy: 0.9641, Seconds: 30.75},
	}
}

func TestWriteHistoryCSVGolden(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteHistoryCSV(&b, sampleHistory()); err != nil {
		t.Fatalf("WriteHistoryCSV: %v", err)
	}
	checkGolden(t, "history.csv", []byte(b.String()))
}

func TestWriteHistoryCSVNonFinite(t *testing.T) {
	t.Parallel()
	rows := []Epoch{{Epoch: 1, Samples: 10, TrainSamples: 10, TrainLoss: math.NaN(), TrainAccuracy: 0.1, TestLoss: math.Inf(1), TestAccuracy: 0.1}}
	var b strings.Builder
	if err := WriteHistoryCSV(&b, rows); err != nil {
		t.Fatalf("WriteHistoryCSV: %v", err)
	}
	want := "epoch,samples,train_samples,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n1,10,10,NaN,0.1,+Inf,0.1,0\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteHistoryCSV (-want +got):\n%s", diff)
	}
}

func TestWriteHistoryJSONRoundTrip(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteHistoryJSON(&b, sampleHistory()); err != nil {
		t.Fatalf("WriteHistoryJSON: %v", err)
	}
	var got []Epoch
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("decode WriteHistoryJSON output: %v\n%s", err, b.String())
	}
	if diff := cmp.Diff(sampleHistory(), got); diff != "" {
		t.Errorf("history after a JSON round trip (-want +got):\n%s", diff)
	}
}

func TestWriteHistoryJSONNullForNaN(t *testing.T) {
	t.Parallel()
	rows := []Epoch{{Epoch: 1, Samples: 10, TrainSamples: 10, TrainLoss: math.NaN(), TrainAccuracy: 0.5, TestLoss: math.Inf(-1), TestAccuracy: 0.25, Seconds: 1}}
	var b strings.Builder
	if err := WriteHistoryJSON(&b, rows); err != nil {
		t.Fatalf("WriteHistoryJSON: %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := []map[string]any{{
		"epoch": 1.0, "samples": 10.0, "train_samples": 10.0, "train_loss": nil, "train_accuracy": 0.5,
		"test_loss": nil, "test_accuracy": 0.25, "seconds": 1.0,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded JSON (-want +got):\n%s", diff)
	}
}

// An epoch resumed from the workers' state may keep no train sums. Its
// train values are then not defined and must not read as a loss of 0.
func TestHistoryWithoutTrainSamples(t *testing.T) {
	t.Parallel()
	rows := []Epoch{{Epoch: 2, Samples: 60000, TrainSamples: 0, TestLoss: 0.12, TestAccuracy: 0.96, Seconds: 3}}

	var csv strings.Builder
	if err := WriteHistoryCSV(&csv, rows); err != nil {
		t.Fatalf("WriteHistoryCSV: %v", err)
	}
	wantCSV := "epoch,samples,train_samples,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n2,60000,0,,,0.12,0.96,3\n"
	if diff := cmp.Diff(wantCSV, csv.String()); diff != "" {
		t.Errorf("WriteHistoryCSV (-want +got):\n%s", diff)
	}

	var js strings.Builder
	if err := WriteHistoryJSON(&js, rows); err != nil {
		t.Fatalf("WriteHistoryJSON: %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(js.String()), &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got[0]["train_loss"] != nil || got[0]["train_accuracy"] != nil {
		t.Errorf("JSON train values = %v, %v; want null for an epoch without train samples",
			got[0]["train_loss"], got[0]["train_accuracy"])
	}

	var svg strings.Builder
	if err := CurvesSVG(&svg, rows, "resumed"); err != nil {
		t.Fatalf("CurvesSVG: %v", err)
	}
	for _, series := range []string{"train-loss", "train-accuracy"} {
		if strings.Contains(svg.String(), `data-series="`+series+`"`) {
			t.Errorf("curves SVG draws a %s point for an epoch without train samples", series)
		}
	}
	if !strings.Contains(svg.String(), `data-series="test-loss"`) {
		t.Errorf("curves SVG lacks the test-loss point")
	}
}

func TestWriteHistoryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "run")
	paths, err := WriteHistory(base, sampleHistory())
	if err != nil {
		t.Fatalf("WriteHistory: %v", err)
	}
	want := []string{base + ".csv", base + ".json", base + ".svg"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("WriteHistory paths (-want +got):\n%s", diff)
	}
	csv, err := os.ReadFile(base + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "history.csv", csv)
	svg, err := os.ReadFile(base + ".svg")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), ">run</text>") {
		t.Errorf("curves SVG has no title %q, the base name", "run")
	}
	assertOnlyFiles(t, dir, "run.csv", "run.json", "run.svg")
}

func TestWriteHistoryMissingFolder(t *testing.T) {
	t.Parallel()
	base := filepath.Join(t.TempDir(), "missing", "run")
	paths, err := WriteHistory(base, sampleHistory())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteHistory into a missing folder: error = %v, want one wrapping os.ErrNotExist", err)
	}
	if len(paths) != 0 {
		t.Errorf("WriteHistory into a missing folder returned paths %q, want none", paths)
	}
}

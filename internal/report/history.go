// Package report writes the artifacts of a training run and of an
// evaluation: the per-epoch history as CSV, JSON and an SVG chart of the
// learning curves, and the confusion matrix as a text table, an SVG or a
// PNG image. Every file is written atomically.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
)

// Epoch is one row of a run's history: the losses and accuracies reported
// after an epoch. The JSON names match the history of the coordinator's
// /status document.
type Epoch struct {
	Epoch   int `json:"epoch"`   // 1-based epoch number
	Samples int `json:"samples"` // training samples used in the epoch
	// TrainSamples is the number of samples that TrainLoss and
	// TrainAccuracy average over. An epoch resumed from the workers' state
	// lost the sums of its earlier steps, so it has fewer. At 0 the train
	// values are not defined.
	TrainSamples  int     `json:"train_samples"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	TestLoss      float64 `json:"test_loss"`
	TestAccuracy  float64 `json:"test_accuracy"`
	Seconds       float64 `json:"seconds"` // training time of the epoch
}

// historyColumns are the CSV header, in the order of the fields of [Epoch].
var historyColumns = []string{
	"epoch", "samples", "train_samples", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds",
}

// WriteHistory writes rows beside base as base+".csv", base+".json" and
// base+".svg", the learning curves that [CurvesSVG] draws with the base
// name of base as title. Each file is replaced atomically. It returns the
// paths written, in that order, also when a later file fails.
func WriteHistory(base string, rows []Epoch) ([]string, error) {
	title := filepath.Base(base)
	files := []struct {
		ext   string
		write func(io.Writer) error
	}{
		{".csv", func(w io.Writer) error { return WriteHistoryCSV(w, rows) }},
		{".json", func(w io.Writer) error { return WriteHistoryJSON(w, rows) }},
		{".svg", func(w io.Writer) error { return CurvesSVG(w, rows, title) }},
	}
	var written []string
	for _, f := range files {
		path := base + f.ext
		if err := writeAtomic(path, f.write); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// WriteHistoryCSV writes rows as CSV with a header line. Numbers use the
// shortest decimal form that reads back as the same float64, and a
// non-finite value is written as NaN, +Inf or -Inf. The train loss and
// accuracy of a row without train samples are left empty.
func WriteHistoryCSV(w io.Writer, rows []Epoch) error {
	cw := csv.NewWriter(w)
	cw.Write(historyColumns)
	for _, r := range rows {
		trainLoss, trainAccuracy := "", ""
		if r.hasTrainValues() {
			trainLoss, trainAccuracy = formatFloat(r.TrainLoss), formatFloat(r.TrainAccuracy)
		}
		cw.Write([]string{
			strconv.Itoa(r.Epoch),
			strconv.Itoa(r.Samples),
			strconv.Itoa(r.TrainSamples),
			trainLoss,
			trainAccuracy,
			formatFloat(r.TestLoss),
			formatFloat(r.TestAccuracy),
			formatFloat(r.Seconds),
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write history CSV: %w", err)
	}
	return nil
}

// jsonEpoch is [Epoch] with nil in place of a value that JSON cannot
// represent: a loss that diverged to NaN or infinity is written as null,
// and so are the train values of a row without train samples.
type jsonEpoch struct {
	Epoch         int      `json:"epoch"`
	Samples       int      `json:"samples"`
	TrainSamples  int      `json:"train_samples"`
	TrainLoss     *float64 `json:"train_loss"`
	TrainAccuracy *float64 `json:"train_accuracy"`
	TestLoss      *float64 `json:"test_loss"`
	TestAccuracy  *float64 `json:"test_accuracy"`
	Seconds       *float64 `json:"seconds"`
}

// WriteHistoryJSON writes rows as an indented JSON array of objects with
// the field names of [Epoch]. A NaN or infinite value is written as null,
// and so are the train loss and accuracy of a row without train samples.
func WriteHistoryJSON(w io.Writer, rows []Epoch) error {
	out := make([]jsonEpoch, len(rows))
	for i, r := range rows {
		out[i] = jsonEpoch{
			Epoch:        r.Epoch,
			Samples:      r.Samples,
			TrainSamples: r.TrainSamples,
			TestLoss:     finiteOrNil(r.TestLoss),
			TestAccuracy: finiteOrNil(r.TestAccuracy),
			Seconds:      finiteOrNil(r.Seconds),
		}
		if r.hasTrainValues() {
			out[i].TrainLoss = finiteOrNil(r.TrainLoss)
			out[i].TrainAccuracy = finiteOrNil(r.TrainAccuracy)
		}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode history JSON: %w", err)
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("report: write history JSON: %w", err)
	}
	return nil
}

// hasTrainValues reports whether the row's train loss and accuracy average
// over any samples.
func (r Epoch) hasTrainValues() bool { return r.TrainSamples > 0 }

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// formatFloat returns the shortest decimal form of v that parses back to v.
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

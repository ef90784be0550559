package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrImageFormat is wrapped by the error for an image path whose extension
// is neither .png nor .svg.
var ErrImageFormat = errors.New("unsupported image format")

// A confusion matrix in this package is square: matrix[t][p] counts the
// samples of true class t that the model predicted as class p.

// ClassScore is the precision and recall of one class.
type ClassScore struct {
	// Precision is the share of the samples predicted as the class that
	// belong to it, or NaN when no sample was predicted as the class.
	Precision float64
	// Recall is the share of the samples of the class that were predicted
	// as it, or NaN when the class has no samples.
	Recall    float64
	Support   int // samples of the class: the sum of its row
	Predicted int // samples predicted as the class: the sum of its column
}

// ClassScores returns the precision and recall of every class of matrix.
// A matrix that is not square or has a negative count is an error.
func ClassScores(matrix [][]int) ([]ClassScore, error) {
	if err := checkMatrix(matrix, nil); err != nil {
		return nil, err
	}
	scores := make([]ClassScore, len(matrix))
	for t, row := range matrix {
		for p, count := range row {
			scores[t].Support += count
			scores[p].Predicted += count
		}
	}
	for c := range scores {
		s := &scores[c]
		s.Precision = ratio(matrix[c][c], s.Predicted)
		s.Recall = ratio(matrix[c][c], s.Support)
	}
	return scores, nil
}

// ratio returns a/b, or NaN when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// WriteScoresText writes a table of the precision, recall and support of
// every class of matrix, one row per class labelled by [ClassLabel], then
// a row of their unweighted means over the classes where they are
// defined. An undefined score is written as n/a. classNames may be nil.
func WriteScoresText(w io.Writer, matrix [][]int, classNames []string) error {
	if err := checkMatrix(matrix, classNames); err != nil {
		return err
	}
	scores, err := ClassScores(matrix)
	if err != nil {
		return err
	}
	labels := classLabels(classNames, len(matrix))
	labels = append(labels, "mean")
	width := len("class")
	for _, l := range labels {
		width = max(width, len(l))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %9s  %9s  %9s\n", width, "class", "precision", "recall", "support")
	var precisions, recalls []float64
	total := 0
	for c, s := range scores {
		fmt.Fprintf(&b, "%-*s  %9s  %9s  %9d\n", width, labels[c], formatScore(s.Precision), formatScore(s.Recall), s.Support)
		precisions = append(precisions, s.Precision)
		recalls = append(recalls, s.Recall)
		total += s.Support
	}
	fmt.Fprintf(&b, "%-*s  %9s  %9s  %9d\n", width, "mean", formatScore(meanDefined(precisions)), formatScore(meanDefined(recalls)), total)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: write class scores: %w", err)
	}
	return nil
}

// meanDefined returns the mean of the values that are not NaN, or NaN when
// there are none.
func meanDefined(values []float64) float64 {
	sum, n := 0.0, 0
	for _, v := range values {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

func formatScore(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// WriteConfusionText writes matrix as a text table: a row per true class,
// labelled by [ClassLabel], and a column per predicted class, headed by
// its index. classNames may be nil.
func WriteConfusionText(w io.Writer, matrix [][]int, classNames []string) error {
	if err := checkMatrix(matrix, classNames); err != nil {
		return err
	}
	labels := classLabels(classNames, len(matrix))
	labelWidth := 0
	for _, l := range labels {
		labelWidth = max(labelWidth, len(l))
	}
	cellWidth := len(strconv.Itoa(len(matrix) - 1))
	for _, row := range matrix {
		for _, count := range row {
			cellWidth = max(cellWidth, len(strconv.Itoa(count)))
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", labelWidth, "")
	for p := range matrix {
		fmt.Fprintf(&b, "  %*d", cellWidth, p)
	}
	b.WriteByte('\n')
	for t, row := range matrix {
		fmt.Fprintf(&b, "%-*s", labelWidth, labels[t])
		for _, count := range row {
			fmt.Fprintf(&b, "  %*d", cellWidth, count)
		}
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: write confusion matrix: %w", err)
	}
	return nil
}

// ClassLabel returns the label of class c in tables and images: its index,
// followed by its name when the name is set and differs from the index,
// such as "3 cat" for CIFAR-10 and "3" for MNIST.
func ClassLabel(c int, classNames []string) string {
	index := strconv.Itoa(c)
	if c < len(classNames) && classNames[c] != "" && classNames[c] != index {
		return index + " " + classNames[c]
	}
	return index
}

func classLabels(classNames []string, n int) []string {
	labels := make([]string, n)
	for c := range labels {
		labels[c] = ClassLabel(c, classNames)
	}
	return labels
}

// checkMatrix returns an error unless matrix is a non-empty square matrix
// of counts and classNames is nil or has a name per class.
func checkMatrix(matrix [][]int, classNames []string) error {
	n := len(matrix)
	if n == 0 {
		return errors.New("report: empty confusion matrix: want one row per class")
	}
	for t, row := range matrix {
		if len(row) != n {
			return fmt.Errorf("report: confusion matrix row %d has %d counts, want %d, one per class", t, len(row), n)
		}
		for p, count := range row {
			if count < 0 {
				return fmt.Errorf("report: confusion matrix count [%d][%d] = %d, want 0 or more", t, p, count)
			}
		}
	}
	if classNames != nil && len(classNames) != n {
		return fmt.Errorf("report: %d class names for a confusion matrix of %d classes", len(classNames), n)
	}
	return nil
}

// CheckImagePath returns an error wrapping [ErrImageFormat] unless path
// ends in .png or .svg, in any case, the formats of [WriteConfusionImage].
func CheckImagePath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".svg":
		return nil
	}
	return fmt.Errorf("report: image %s: %w %q: use a name ending in .png or .svg", path, ErrImageFormat, filepath.Ext(path))
}

// WriteConfusionImage writes matrix to path atomically, as a PNG image
// ([ConfusionPNG]) or an SVG image ([ConfusionSVG]) as the extension of
// path says. Any other extension is an error wrapping [ErrImageFormat].
func WriteConfusionImage(path string, matrix [][]int, classNames []string) error {
	if err := CheckImagePath(path); err != nil {
		return err
	}
	draw := ConfusionSVG
	if strings.EqualFold(filepath.Ext(path), ".png") {
		draw = ConfusionPNG
	}
	// Checking first leaves an existing file in place when the input is bad.
	if err := checkMatrix(matrix, classNames); err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return draw(w, matrix, classNames) })
}

package report

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sampleMatrix has three classes. Nothing is predicted as class 2, so its
// precision is undefined.
func sampleMatrix() [][]int {
	return [][]int{
		{8, 2, 0},
		{1, 9, 0},
		{3, 1, 0},
	}
}

func TestClassScores(t *testing.T) {
	t.Parallel()
	got, err := ClassScores(sampleMatrix())
	if err != nil {
		t.Fatalf("ClassScores: %v", err)
	}
	want := []ClassScore{
		{Precision: 8.0 / 12, Recall: 0.8, Support: 10, Predicted: 12},
		{Precision: 0.75, Recall: 0.9, Support: 10, Predicted: 12},
		{Precision: math.NaN(), Recall: 0, Support: 4, Predicted: 0},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("ClassScores (-want +got):\n%s", diff)
	}
}

func TestClassScoresEmptyClass(t *testing.T) {
	t.Parallel()
	got, err := ClassScores([][]int{{0, 0}, {0, 5}})
	if err != nil {
		t.Fatalf("ClassScores: %v", err)
	}
	if !math.IsNaN(got[0].Recall) || !math.IsNaN(got[0].Precision) {
		t.Errorf("class 0 without samples or predictions: scores = %+v, want NaN precision and recall", got[0])
	}
	if got[1].Precision != 1 || got[1].Recall != 1 {
		t.Errorf("class 1: scores = %+v, want precision and recall 1", got[1])
	}
}

func TestCheckMatrixRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		matrix [][]int
		names  []string
		want   string
	}{
		{"empty", nil, nil, "empty confusion matrix"},
		{"ragged", [][]int{{1, 2}, {3}}, nil, "row 1 has 1 counts, want 2"},
		{"negative", [][]int{{1, -2}, {3, 4}}, nil, "count [0][1] = -2"},
		{"names", [][]int{{1, 2}, {3, 4}}, []string{"a"}, "1 class names for a confusion matrix of 2 classes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkMatrix(tt.matrix, tt.names)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkMatrix error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteScoresText(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteScoresText(&b, sampleMatrix(), []string{"cat", "dog", "bird"}); err != nil {
		t.Fatalf("WriteScoresText: %v", err)
	}
	want := strings.Join([]string{
		"class   precision     recall    support",
		"0 cat      0.6667     0.8000         10",
		"1 dog      0.7500     0.9000         10",
		"2 bird        n/a     0.0000          4",
		"mean       0.7083     0.5667         24",
		"",
	}, "\n")
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteScoresText (-want +got):\n%s", diff)
	}
}

func TestWriteConfusionText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"digit names", []string{"0", "1", "2"}, "   0  1  2\n0  8  2  0\n1  1  9  0\n2  3  1  0\n"},
		{"no names", nil, "   0  1  2\n0  8  2  0\n1  1  9  0\n2  3  1  0\n"},
		{"word names", []string{"cat", "dog", "bird"},
			"        0  1  2\n0 cat   8  2  0\n1 dog   1  9  0\n2 bird  3  1  0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			if err := WriteConfusionText(&b, sampleMatrix(), tt.names); err != nil {
				t.Fatalf("WriteConfusionText: %v", err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("WriteConfusionText (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteConfusionTextWideCounts(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteConfusionText(&b, [][]int{{1234, 5}, {0, 77}}, nil); err != nil {
		t.Fatalf("WriteConfusionText: %v", err)
	}
	want := "      0     1\n0  1234     5\n1     0    77\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteConfusionText (-want +got):\n%s", diff)
	}
}

func TestCheckImagePath(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"m.png", "m.PNG", "dir/m.svg"} {
		if err := CheckImagePath(path); err != nil {
			t.Errorf("CheckImagePath(%q) = %v, want nil", path, err)
		}
	}
	for _, path := range []string{"m.jpg", "m", "png"} {
		if err := CheckImagePath(path); !errors.Is(err, ErrImageFormat) {
			t.Errorf("CheckImagePath(%q) = %v, want an error wrapping ErrImageFormat", path, err)
		}
	}
}

func TestWriteConfusionImageBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteConfusionImage(filepath.Join(dir, "m.gif"), sampleMatrix(), nil); !errors.Is(err, ErrImageFormat) {
		t.Errorf("WriteConfusionImage(m.gif) = %v, want an error wrapping ErrImageFormat", err)
	}
	if err := WriteConfusionImage(filepath.Join(dir, "m.png"), [][]int{{1}, {2}}, nil); err == nil {
		t.Error("WriteConfusionImage with a ragged matrix returned nil, want an error")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("folder holds %d entries after failed writes, want none", len(entries))
	}
}

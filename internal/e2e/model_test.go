package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ringtrain/ringtrain/internal/dataset"
)

var evaluateAccuracy = regexp.MustCompile(`(?m)^accuracy\s+([0-9.]+) \(([0-9]+) of ([0-9]+) correct\)$`)

// TestTrainedModelEvaluateAndPredict trains mnist-mlp for 5 epochs with the
// built coordinator and checks the model file it wrote. evaluate must report
// the test accuracy of the run's last epoch, and predict must name the label
// of at least nine of the first ten test digits saved as PNG files.
func TestTrainedModelEvaluateAndPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 5 epochs of MNIST with the built commands; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	bin := buildCommands(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "model.rtm")
	coordinator := filepath.Join(bin, "coordinator")

	args := coordinatorArgs(t, freeAddr(t), freeAddr(t), dir,
		"--local-workers", "2", "--epochs", "5", "--output", model)
	train := startProcess(t, "coordinator", coordinator, args...)
	waitExit(t, ctx, train, "coordinator")
	s := readHistory(t, dir)
	if len(s.History) != 5 {
		t.Fatalf("history has %d epochs, want 5", len(s.History))
	}
	last := s.History[len(s.History)-1]
	t.Logf("epoch 5: test accuracy %.4f", last.TestAccuracy)

	evalArgs := []string{"evaluate", "--model", model}
	if d := mnistDir(t); d != "" {
		evalArgs = append(evalArgs, "--data-dir", d)
	}
	out := runCommand(t, ctx, coordinator, evalArgs...)
	m := evaluateAccuracy.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("evaluate output has no accuracy line:\n%s", out)
	}
	correct, _ := strconv.Atoi(m[2])
	total, _ := strconv.Atoi(m[3])
	if total != 10000 {
		t.Errorf("evaluate counted %d test samples, want 10000", total)
	}
	// The history stores the accuracy as a float64 ratio of the same counts.
	if got := float64(correct) / float64(total); got != last.TestAccuracy {
		t.Errorf("evaluate accuracy = %d/%d = %v, want the last epoch's %v", correct, total, got, last.TestAccuracy)
	}

	images, labels := writeTestDigits(t, ctx, dir, 10)
	out = runCommand(t, ctx, coordinator, append([]string{"predict", "--model", model}, images...)...)
	right := 0
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		_, classes, ok := strings.Cut(line, ":")
		fields := strings.Fields(classes)
		if !ok || len(fields) == 0 || i >= len(labels) {
			t.Fatalf("predict output line %d = %q, want PATH: CLASS PROBABILITY, ...", i+1, line)
		}
		if fields[0] == strconv.Itoa(int(labels[i])) {
			right++
		}
	}
	t.Logf("predict named the label of %d of 10 test digits", right)
	if right < 9 {
		t.Errorf("predict named the label of %d of 10 test digits, want at least 9:\n%s", right, out)
	}
}

// runCommand runs path with args and returns its standard output; it
// fails the test with both outputs when the command fails.
func runCommand(t *testing.T, ctx context.Context, path string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(path), strings.Join(args, " "), err,
			stdout.String(), stderr.String())
	}
	return stdout.String()
}

// writeTestDigits saves the first n MNIST test images as 28x28 gray PNG
// files in dir and returns their paths and labels.
func writeTestDigits(t *testing.T, ctx context.Context, dir string, n int) ([]string, []uint8) {
	t.Helper()
	data, err := dataset.Load(ctx, "mnist", dataset.Options{DataDir: mnistDir(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("load MNIST: %v", err)
	}
	test := &data.Test
	var paths []string
	for i := range n {
		img := image.NewGray(image.Rect(0, 0, test.Width, test.Height))
		copy(img.Pix, test.Sample(i))
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("digit-%d.png", i))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths, test.Labels[:n]
}

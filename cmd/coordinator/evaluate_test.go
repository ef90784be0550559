package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/modelfile"
	"github.com/ringtrain/ringtrain/internal/nn"
)

// writeTestModel writes a model file for spec with parameters from
// Network.Init(seed) and returns its path. h gives everything but the
// model, the classes and the parameters.
func writeTestModel(t *testing.T, dir, spec string, h modelfile.Header, seed uint64) string {
	t.Helper()
	s, err := nn.ResolveSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.NewNetwork(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(seed)
	h.Model, h.Classes = s.String(), s.Classes()
	path := filepath.Join(dir, "model.rtm")
	if err := modelfile.Write(path, &modelfile.Model{Header: h, Params: net.Params()}); err != nil {
		t.Fatal(err)
	}
	return path
}

// randomSplit returns n samples of random pixels and labels below classes.
func randomSplit(rng *rand.Rand, n, channels, height, width, classes int) *dataset.Split {
	s := &dataset.Split{N: n, Channels: channels, Height: height, Width: width}
	s.Pixels = make([]uint8, n*s.Dim())
	for i := range s.Pixels {
		s.Pixels[i] = uint8(rng.IntN(256))
	}
	s.Labels = make([]uint8, n)
	for i := range s.Labels {
		s.Labels[i] = uint8(rng.IntN(classes))
	}
	return s
}

func TestEvaluateSplitMatchesLoss(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	// 600 samples take three batches of evalBatch rows, the last one short.
	split := randomSplit(rng, 600, 3, 4, 4, 5)
	norm := dataset.ChannelStats(split)
	path := writeTestModel(t, t.TempDir(), "48-16relu-5", modelfile.Header{
		Dataset: "test", Channels: 3, Height: 4, Width: 4, NormMean: norm.Mean, NormStd: norm.Std,
	}, 7)
	model, err := loadModel(path)
	if err != nil {
		t.Fatalf("loadModel: %v", err)
	}
	got, err := model.evaluateSplit(split)
	if err != nil {
		t.Fatalf("evaluateSplit: %v", err)
	}

	x := make([]float32, split.N*split.Dim())
	norm.Decode(x, split.Pixels, split.Dim(), split.Channels)
	for _, maxBatch := range []int{evalBatch, 64} {
		net, err := nn.NewNetwork(model.spec, maxBatch)
		if err != nil {
			t.Fatal(err)
		}
		copy(net.Params(), model.net.Params())
		lossSum, correct, err := net.Loss(x, split.Labels)
		if err != nil {
			t.Fatal(err)
		}
		if got.correct != correct {
			t.Errorf("max batch %d: evaluateSplit correct = %d, Network.Loss counts %d", maxBatch, got.correct, correct)
		}
		// The same batches sum the loss in the same order.
		if maxBatch == evalBatch && got.lossSum != lossSum {
			t.Errorf("evaluateSplit loss sum = %v, Network.Loss returns %v", got.lossSum, lossSum)
		}
		if math.Abs(got.lossSum-lossSum) > 1e-9*lossSum {
			t.Errorf("max batch %d: evaluateSplit loss sum = %v, Network.Loss returns %v", maxBatch, got.lossSum, lossSum)
		}
	}

	trace, total := 0, 0
	support := make([]int, 5)
	for _, label := range split.Labels {
		support[label]++
	}
	for c, row := range got.matrix {
		rowSum := 0
		for _, count := range row {
			rowSum += count
		}
		if rowSum != support[c] {
			t.Errorf("confusion row %d sums to %d, want the %d samples of the class", c, rowSum, support[c])
		}
		trace += row[c]
		total += rowSum
	}
	if trace != got.correct {
		t.Errorf("confusion matrix trace = %d, want the %d correct samples", trace, got.correct)
	}
	if total != split.N {
		t.Errorf("confusion matrix counts %d samples, want %d", total, split.N)
	}
}

func TestArgmaxFirstLargest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		z    []float32
		want int
	}{
		{"single", []float32{3}, 0},
		{"last", []float32{1, 2, 3}, 2},
		{"tie goes low", []float32{1, 5, 5}, 1},
		{"negative", []float32{-3, -1, -2}, 1},
	}
	for _, tt := range tests {
		if got := argmax(tt.z); got != tt.want {
			t.Errorf("%s: argmax(%v) = %d, want %d", tt.name, tt.z, got, tt.want)
		}
	}
}

func TestEvaluateRejectsDamagedModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeTestModel(t, dir, "4-3relu-2", modelfile.Header{Dataset: "mnist", Channels: 1, Height: 2, Width: 2}, 1)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)-6] ^= 0x10
	version := bytes.Clone(data)
	version[8] = 2

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"truncated", data[:len(data)-9], modelfile.ErrFormat},
		{"corrupt", flipped, modelfile.ErrChecksum},
		{"other version", version, modelfile.ErrVersion},
		{"not a model", []byte("a,b,c\n1,2,3\n"), modelfile.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".rtm")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := evaluate(context.Background(), []string{"--model", path, "--data-dir", dir}, &stdout, &stderr)
			if !errors.Is(err, tt.want) {
				t.Errorf("evaluate error = %v, want one wrapping %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("evaluate error %q does not name the file %s", err, path)
			}
			if stdout.Len() != 0 {
				t.Errorf("evaluate printed %q for a damaged model", stdout.String())
			}
		})
	}
}

func TestEvaluateModelWithoutDataset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeTestModel(t, dir, "4-3relu-2", modelfile.Header{Channels: 1, Height: 2, Width: 2}, 1)
	err := evaluate(context.Background(), []string{"--model", path, "--data-dir", dir}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "names no dataset: pass --dataset") {
		t.Errorf("evaluate error = %v, want one asking for --dataset", err)
	}
}

func TestLoadModelRejectsInconsistentHeader(t *testing.T) {
	t.Parallel()
	base := modelfile.Header{Dataset: "mnist", Channels: 1, Height: 2, Width: 2}
	tests := []struct {
		name   string
		change func(m *modelfile.Model)
		want   string
	}{
		{"image size", func(m *modelfile.Model) { m.Header.Width = 3 }, "takes 4 inputs, but the header's images of 1 channels of 3x2 pixels have 6 values"},
		{"no channels", func(m *modelfile.Model) { m.Header.Channels = 0 }, "want at least 1 of each"},
		{"classes", func(m *modelfile.Model) { m.Header.Classes = 3 }, "has 2 outputs, but the header has 3 classes"},
		{"class names", func(m *modelfile.Model) { m.Header.ClassNames = []string{"a"} }, "1 class names for 2 classes"},
		{"normalisation", func(m *modelfile.Model) { m.Header.NormMean = []float32{0.5} }, "1 normalisation means and 0 standard deviations"},
		{"zero deviation", func(m *modelfile.Model) {
			m.Header.NormMean, m.Header.NormStd = []float32{0.5}, []float32{0}
		}, "standard deviation 0 for channel 0, want a positive number"},
		{"parameters", func(m *modelfile.Model) { m.Params = m.Params[:5] }, "contains 5 parameters, but model 4-3relu-2 needs 23"},
		{"spec", func(m *modelfile.Model) { m.Header.Model = "resnet" }, "unknown preset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeTestModel(t, t.TempDir(), "4-3relu-2", base, 1)
			m, err := modelfile.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(m)
			if err := modelfile.Write(path, m); err != nil {
				t.Fatal(err)
			}
			_, err = loadModel(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadModel error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseEvaluateFlagsRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no model", nil, "missing --model"},
		{"bad split", []string{"--model", "m.rtm", "--split", "validation"}, `invalid --split "validation"`},
		{"image format", []string{"--model", "m.rtm", "--confusion-image", "m.jpg"}, "use a name ending in .png or .svg"},
		{"argument", []string{"--model", "m.rtm", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseEvaluateFlags(tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseEvaluateFlags(%q) error = %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseEvaluateFlagsEnvironment(t *testing.T) {
	t.Setenv("RINGTRAIN_DATA_DIR", "/data/from/env")
	t.Setenv("RINGTRAIN_MODEL", "mnist-mlp")
	t.Setenv("RINGTRAIN_DATASET", "cifar10")
	opts, err := parseEvaluateFlags([]string{"--model", "m.rtm"}, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseEvaluateFlags: %v", err)
	}
	if opts.dataDir != "/data/from/env" {
		t.Errorf("data dir = %q, want RINGTRAIN_DATA_DIR's /data/from/env", opts.dataDir)
	}
	if opts.model != "m.rtm" || opts.dataset != "" {
		t.Errorf("model, dataset = %q, %q, want m.rtm and empty: RINGTRAIN_MODEL and RINGTRAIN_DATASET configure training", opts.model, opts.dataset)
	}
	if _, err := parseEvaluateFlags(nil, &bytes.Buffer{}); err == nil {
		t.Error("parseEvaluateFlags without --model but with RINGTRAIN_MODEL set returned nil error")
	}
}

func TestEvaluateHelp(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"evaluate", "--help"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("evaluate --help error = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: coordinator evaluate --model FILE", "--confusion-image file", "[also read from RINGTRAIN_DATA_DIR]", "[default test]"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
}

// testData returns the folder of test datasets named by RINGTRAIN_TEST_DATA,
// or skips the test when it is not set.
func testData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RINGTRAIN_TEST_DATA")
	if dir == "" {
		t.Skip("RINGTRAIN_TEST_DATA is not set; set it to a folder holding mnist/ and cifar-10-binary.tar.gz to run this test")
	}
	return dir
}

var mnistOnce struct {
	sync.Once
	data *dataset.Dataset
	err  error
}

// loadMNIST returns MNIST from RINGTRAIN_TEST_DATA, read once per test
// binary. Callers must not change it.
func loadMNIST(t *testing.T) *dataset.Dataset {
	t.Helper()
	dir := filepath.Join(testData(t), "mnist")
	mnistOnce.Do(func() {
		mnistOnce.data, mnistOnce.err = dataset.Load(context.Background(), "mnist", dataset.Options{DataDir: dir})
	})
	if mnistOnce.err != nil {
		t.Fatalf("load MNIST from %s: %v", dir, mnistOnce.err)
	}
	return mnistOnce.data
}

var accuracyLine = regexp.MustCompile(`(?m)^accuracy  ([0-9.]+) \(([0-9]+) of ([0-9]+) correct\)$`)

func TestEvaluateMNIST(t *testing.T) {
	t.Parallel()
	data := loadMNIST(t)
	dir := t.TempDir()
	norm := data.Normalization()
	path := writeTestModel(t, dir, "mnist-mlp", modelfile.Header{
		Dataset: "mnist", ClassNames: data.ClassNames, Channels: 1, Height: 28, Width: 28,
		NormMean: norm.Mean, NormStd: norm.Std, Step: 3, Fingerprint: "00000000000000ab",
	}, 5)
	imagePath := filepath.Join(dir, "confusion.png")

	var stdout, stderr bytes.Buffer
	args := []string{"--model", path, "--data-dir", filepath.Join(testData(t), "mnist"), "--confusion-image", imagePath}
	if err := evaluate(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("evaluate: %v\n%s", err, stderr.String())
	}

	// The accuracy a network built here computes on the same inputs.
	test := &data.Test
	x := make([]float32, test.N*test.Dim())
	norm.Decode(x, test.Pixels, test.Dim(), test.Channels)
	model, err := loadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.NewNetwork(model.spec, 1000)
	if err != nil {
		t.Fatal(err)
	}
	copy(net.Params(), model.net.Params())
	lossSum, correct, err := net.Loss(x, test.Labels)
	if err != nil {
		t.Fatal(err)
	}

	out := stdout.String()
	m := accuracyLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output has no accuracy line:\n%s", out)
	}
	if got, _ := strconv.Atoi(m[2]); got != correct {
		t.Errorf("evaluate counts %d correct, Network.Loss %d", got, correct)
	}
	if m[3] != "10000" {
		t.Errorf("evaluate covers %s samples, want the 10000 of the test split", m[3])
	}
	if want := strconv.FormatFloat(lossSum/float64(test.N), 'f', 6, 64); !strings.Contains(out, "loss      "+want+" ") {
		t.Errorf("output lacks the mean loss %s:\n%s", want, out)
	}
	for _, want := range []string{"model     " + path + ": 784-100relu-60sigmoid-10, step 3", "data      mnist test split, 10000 samples", "\nmean ", "9  "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	f, err := os.Open(imagePath)
	if err != nil {
		t.Fatalf("confusion image: %v", err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("confusion image %s: %v", imagePath, err)
	}
}

func TestCheckDataRejectsMismatch(t *testing.T) {
	t.Parallel()
	path := writeTestModel(t, t.TempDir(), "3072-8relu-10", modelfile.Header{Dataset: "cifar10", Channels: 3, Height: 32, Width: 32}, 1)
	model, err := loadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	mnist := dataset.Split{Channels: 1, Height: 28, Width: 28}
	cifar := dataset.Split{Channels: 3, Height: 32, Width: 32}
	tests := []struct {
		name  string
		data  *dataset.Dataset
		split *dataset.Split
		want  string
	}{
		{"image shape", &dataset.Dataset{Name: "mnist", Classes: 10, Test: mnist}, &mnist,
			"mnist has images of 1 channels of 28x28 pixels, but model " + path + " was trained on cifar10 images of 3 channels of 32x32: pass --dataset cifar10 or leave it unset"},
		{"classes", &dataset.Dataset{Name: "cifar100", Classes: 100, Test: cifar}, &cifar,
			"cifar100 has 100 classes, but model " + path + " has 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := model.checkData(tt.data, tt.split)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkData error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if err := model.checkData(&dataset.Dataset{Name: "cifar10", Classes: 10, Test: cifar}, &cifar); err != nil {
		t.Errorf("checkData(cifar10) = %v, want nil", err)
	}
}

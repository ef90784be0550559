package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/modelfile"
	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestImagePixelsLayout(t *testing.T) {
	t.Parallel()
	// An opaque 2x2 image: red and green in the top row, blue and white
	// below.
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	img.SetNRGBA(1, 0, color.NRGBA{0, 255, 0, 255})
	img.SetNRGBA(0, 1, color.NRGBA{0, 0, 255, 255})
	img.SetNRGBA(1, 1, color.NRGBA{255, 255, 255, 255})

	tests := []struct {
		name          string
		img           image.Image
		channels      int
		want          []uint8
		wantConverted bool
	}{
		// Red, green and blue planes, each row by row.
		{"rgb planes", img, 3, []uint8{255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255}, false},
		// 0.299, 0.587 and 0.114 of 255, rounded.
		{"luma", img, 1, []uint8{76, 150, 29, 255}, true},
		{"gray to one channel", grayImage([]uint8{10, 20, 30, 40}), 1, []uint8{10, 20, 30, 40}, false},
		{"gray to three channels", grayImage([]uint8{10, 20, 30, 40}), 3, []uint8{10, 20, 30, 40, 10, 20, 30, 40, 10, 20, 30, 40}, false},
		{"transparent is black", transparentImage(), 3, []uint8{0, 128, 0, 128, 0, 128}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, converted := imagePixels(tt.img, tt.channels)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("imagePixels (-want +got):\n%s", diff)
			}
			if converted != tt.wantConverted {
				t.Errorf("imagePixels converted = %v, want %v", converted, tt.wantConverted)
			}
		})
	}
}

func grayImage(values []uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	copy(img.Pix, values)
	return img
}

// transparentImage is 2x1: fully transparent white, then half-transparent
// white.
func transparentImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{255, 255, 255, 0})
	img.SetNRGBA(1, 0, color.NRGBA{255, 255, 255, 128})
	return img
}

func TestTopClasses(t *testing.T) {
	t.Parallel()
	probs := []float32{0.1, 0.3, 0.3, 0.05, 0.25}
	if diff := cmp.Diff([]int{1, 2, 4}, topClasses(probs, 3)); diff != "" {
		t.Errorf("topClasses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2, 4, 0, 3}, topClasses(probs, 5)); diff != "" {
		t.Errorf("topClasses of all (-want +got):\n%s", diff)
	}
}

// writePNG encodes img to dir/name and returns the path.
func writePNG(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	path := filepath.Join(dir, name)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mnistHeader() modelfile.Header {
	return modelfile.Header{Dataset: "mnist", Channels: 1, Height: 28, Width: 28}
}

func TestPredictWrongSize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := writeTestModel(t, dir, "784-8relu-10", mnistHeader(), 1)
	tests := []struct {
		name string
		img  image.Image
		want string
	}{
		{"wider", image.NewGray(image.Rect(0, 0, 30, 28)), "is 30x28 pixels, but model " + model + " takes 28x28 mnist images: resize it to 28x28"},
		{"cifar size", image.NewRGBA(image.Rect(0, 0, 32, 32)), "is 32x32 pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			good := writePNG(t, dir, tt.name+"-good.png", image.NewGray(image.Rect(0, 0, 28, 28)))
			bad := writePNG(t, dir, tt.name+".png", tt.img)
			var stdout bytes.Buffer
			err := predict([]string{"--model", model, good, bad}, &stdout, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), bad+" "+tt.want) {
				t.Errorf("predict error = %v, want one containing %q", err, bad+" "+tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("predict printed %q before failing", stdout.String())
			}
		})
	}
}

func TestPredictRejectsInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := writeTestModel(t, dir, "784-8relu-10", mnistHeader(), 1)
	text := filepath.Join(dir, "digit.png")
	if err := os.WriteFile(text, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not a PNG", []string{"--model", model, text}, "decode " + text + ": png: invalid format"},
		{"missing file", []string{"--model", model, filepath.Join(dir, "none.png")}, "none.png: no such file"},
		{"no images", []string{"--model", model}, "no images"},
		{"no model", []string{text}, "missing --model"},
		{"bad top", []string{"--model", model, "--top", "0", text}, "invalid --top 0"},
		{"flag after images", []string{"--model", model, text, "--top", "1"}, `flag "--top" after the images`},
		{"damaged model", []string{"--model", text, text}, "not a ringtrain model file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := predict(tt.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("predict(%q) error = %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestPredictHelp(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"predict", "--help"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("predict --help error = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: coordinator predict --model FILE", "luma weights", "(0.299 R + 0.587 G + 0.114 B)", "--top K", "[default 3]"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
}

// prediction is one class and probability of a predict output line.
type prediction struct {
	class string
	prob  string
}

// parsePredictions splits predict's output into the predictions of each
// image, keyed by the text before the colon.
func parsePredictions(t *testing.T, out string) map[string][]prediction {
	t.Helper()
	result := make(map[string][]prediction)
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		file, rest, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("output line %q has no colon", line)
		}
		for _, item := range strings.Split(rest, ", ") {
			i := strings.LastIndexByte(item, ' ')
			if i < 0 {
				t.Fatalf("output item %q is not a class and a probability", item)
			}
			result[file] = append(result[file], prediction{item[:i], item[i+1:]})
		}
	}
	return result
}

var mnistModelOnce struct {
	sync.Once
	path string
	err  error
}

// trainedMNISTModel trains mnist-mlp with Adam (learning rate 0.002) for 600 steps of 64 samples
// on the real training set, with mean and standard deviation
// normalisation, writes it once per test binary and returns its path.
func trainedMNISTModel(t *testing.T, data *dataset.Dataset) string {
	t.Helper()
	mnistModelOnce.Do(func() {
		mnistModelOnce.path, mnistModelOnce.err = trainMNIST(data)
	})
	if mnistModelOnce.err != nil {
		t.Fatal(mnistModelOnce.err)
	}
	return mnistModelOnce.path
}

func trainMNIST(data *dataset.Dataset) (string, error) {
	const steps, batch = 600, 64
	spec, err := nn.ResolveSpec("mnist-mlp")
	if err != nil {
		return "", err
	}
	net, err := nn.NewNetwork(spec, batch)
	if err != nil {
		return "", err
	}
	net.Init(1)
	adam := nn.DefaultAdam()
	adam.LR = 0.002
	train := &data.Train
	norm := data.Normalization()
	dim := train.Dim()
	rng := rand.New(rand.NewPCG(1, 1))
	order := rng.Perm(train.N)
	x := make([]float32, batch*dim)
	labels := make([]uint8, batch)
	pixels := make([]uint8, batch*dim)
	for step := range steps {
		for r := range batch {
			i := order[(step*batch+r)%train.N]
			copy(pixels[r*dim:], train.Sample(i))
			labels[r] = train.Labels[i]
		}
		norm.Decode(x, pixels, dim, train.Channels)
		net.ZeroGrad()
		if _, _, err := net.AccumulateGradient(x, labels, 1/float32(batch), rng); err != nil {
			return "", err
		}
		adam.Step(net.Params(), net.Grad())
	}

	dir, err := os.MkdirTemp("", "ringtrain-predict-test-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "mnist.rtm")
	err = modelfile.Write(path, &modelfile.Model{
		Header: modelfile.Header{
			Model: spec.String(), Dataset: "mnist", Classes: 10, ClassNames: data.ClassNames,
			Channels: 1, Height: 28, Width: 28, NormMean: norm.Mean, NormStd: norm.Std, Step: steps,
		},
		Params: net.Params(),
	})
	return path, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mnistModelOnce.path != "" {
		os.RemoveAll(filepath.Dir(mnistModelOnce.path))
	}
	os.Exit(code)
}

// referenceProbabilities returns the softmax probabilities that the model
// file at path gives the first n samples of s, decoded with norm, computed
// with nn directly.
func referenceProbabilities(t *testing.T, path string, norm dataset.Normalization, s *dataset.Split, n int) []float32 {
	t.Helper()
	file, err := modelfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := nn.ResolveSpec(file.Header.Model)
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.NewNetwork(spec, n)
	if err != nil {
		t.Fatal(err)
	}
	copy(net.Params(), file.Params)
	x := make([]float32, n*s.Dim())
	norm.Decode(x, s.Pixels[:n*s.Dim()], s.Dim(), s.Channels)
	logits := net.Forward(x, n, false, nil)
	probs := make([]float32, len(logits))
	nn.Softmax(probs, logits, spec.Classes())
	return probs
}

// digitImage returns test sample i of s as a gray image.
func digitImage(s *dataset.Split, i int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, s.Width, s.Height))
	copy(img.Pix, s.Sample(i))
	return img
}

// tintedImage returns img in a warm colour whose luma is close to the
// gray value of each pixel.
func tintedImage(img *image.Gray) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	for i, v := range img.Pix {
		out.Pix[4*i] = v
		out.Pix[4*i+1] = uint8(float64(v) * 0.95)
		out.Pix[4*i+2] = uint8(float64(v) * 0.8)
		out.Pix[4*i+3] = 255
	}
	return out
}

func TestPredictMNISTDigits(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("trains a model for 600 steps; skipped with -short")
	}
	data := loadMNIST(t)
	model := trainedMNISTModel(t, data)
	dir := t.TempDir()
	test := &data.Test

	var args []string
	for i := range 10 {
		args = append(args, writePNG(t, dir, fmt.Sprintf("digit-%d.png", i), digitImage(test, i)))
	}
	tinted := writePNG(t, dir, "tinted.png", tintedImage(digitImage(test, 0)))
	var stdout bytes.Buffer
	if err := predict(append([]string{"--model", model, "--top", "2"}, append(args, tinted)...), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatalf("predict: %v", err)
	}
	got := parsePredictions(t, stdout.String())

	probs := referenceProbabilities(t, model, data.Normalization(), test, 10)
	correct := 0
	for i, path := range args {
		preds := got[path]
		if len(preds) != 2 {
			t.Errorf("%s: %d predictions %v, want 2", path, len(preds), preds)
			continue
		}
		if preds[0].class == strconv.Itoa(int(test.Labels[i])) {
			correct++
		}
		want := topClasses(probs[i*10:(i+1)*10], 1)[0]
		if preds[0].class != strconv.Itoa(want) || preds[0].prob != fmt.Sprintf("%.4f", probs[i*10+want]) {
			t.Errorf("%s: top prediction %v, the dataset bytes give %d %.4f", path, preds[0], want, probs[i*10+want])
		}
	}
	if correct < 9 {
		t.Errorf("%d of 10 test digits predicted right, want at least 9:\n%s", correct, stdout.String())
	}
	t.Logf("%d of 10 test digits predicted right:\n%s", correct, stdout.String())
	if preds := got[tinted+" (colour converted to gray)"]; len(preds) == 0 || preds[0].class != strconv.Itoa(int(test.Labels[0])) {
		t.Errorf("tinted digit %d: predictions %v, want the colour noted and the digit found:\n%s", test.Labels[0], preds, stdout.String())
	}
}

func TestPredictCIFARChannelPlanes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("reads the CIFAR-10 archive; skipped with -short")
	}
	archive := filepath.Join(testData(t), "cifar-10-binary.tar.gz")
	if _, err := os.Stat(archive); err != nil {
		t.Skipf("CIFAR-10 is not in RINGTRAIN_TEST_DATA: %v", err)
	}
	data, err := dataset.Load(context.Background(), "cifar10", dataset.Options{DataDir: archive})
	if err != nil {
		t.Fatal(err)
	}
	test := &data.Test
	// Different statistics per channel make a mix-up of the planes visible.
	norm := dataset.Normalization{Mean: []float32{0.49, 0.48, 0.45}, Std: []float32{0.25, 0.24, 0.26}}
	dir := t.TempDir()
	model := writeTestModel(t, dir, "3072-16relu-10", modelfile.Header{
		Dataset: "cifar10", ClassNames: data.ClassNames, Channels: 3, Height: 32, Width: 32,
		NormMean: norm.Mean, NormStd: norm.Std,
	}, 3)

	// Each PNG is built from the channel-major record: the red plane, then
	// green, then blue.
	const n = 5
	plane := test.Height * test.Width
	var args []string
	for i := range n {
		sample := test.Sample(i)
		img := image.NewRGBA(image.Rect(0, 0, test.Width, test.Height))
		for p := range plane {
			img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2], img.Pix[4*p+3] = sample[p], sample[plane+p], sample[2*plane+p], 255
		}
		args = append(args, writePNG(t, dir, fmt.Sprintf("image-%d.png", i), img))
	}
	var stdout bytes.Buffer
	if err := predict(append([]string{"--model", model, "--top", "10"}, args...), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatalf("predict: %v", err)
	}
	got := parsePredictions(t, stdout.String())

	probs := referenceProbabilities(t, model, norm, test, n)
	for i, path := range args {
		var want []prediction
		row := probs[i*10 : (i+1)*10]
		for _, c := range topClasses(row, 10) {
			want = append(want, prediction{data.ClassNames[c], fmt.Sprintf("%.4f", row[c])})
		}
		if diff := cmp.Diff(want, got[path], cmp.AllowUnexported(prediction{})); diff != "" {
			t.Errorf("%s: predictions (-want +got):\n%s", path, diff)
		}
	}
}

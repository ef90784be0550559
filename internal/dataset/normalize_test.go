package dataset_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ringtrain/ringtrain/internal/dataset"
)

func TestDecodePlainScaling(t *testing.T) {
	t.Parallel()
	pixels := []uint8{0, 1, 128, 255}
	dst := make([]float32, len(pixels))
	dataset.Normalization{}.Decode(dst, pixels, 2, 1)
	if dst[0] != 0 {
		t.Errorf("byte 0 decodes to %v, want exactly 0", dst[0])
	}
	if dst[3] != 1 {
		t.Errorf("byte 255 decodes to %v, want exactly 1", dst[3])
	}
	want := []float32{0, 1.0 / 255, 128.0 / 255, 1}
	if diff := cmp.Diff(want, dst, cmpopts.EquateApprox(0, 1e-7)); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

func TestDecodeChannelPlanes(t *testing.T) {
	t.Parallel()
	n := dataset.Normalization{Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{0.5, 1, 2}}
	// Two samples of three planes of two bytes each.
	pixels := []uint8{0, 255, 10, 20, 30, 40, 255, 0, 50, 60, 70, 80}
	dst := make([]float32, len(pixels))
	n.Decode(dst, pixels, 6, 3)

	want := make([]float32, len(pixels))
	for i, p := range pixels {
		c := i % 6 / 2
		want[i] = (float32(p)/255 - n.Mean[c]) / n.Std[c]
	}
	if diff := cmp.Diff(want, dst); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	if dst[1] != (1-0.1)/0.5 {
		t.Errorf("red byte 255 decodes to %v, want (1 - 0.1) / 0.5", dst[1])
	}
}

func TestDecodePanicsOnBadShape(t *testing.T) {
	t.Parallel()
	stats := dataset.Normalization{Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}}
	tests := []struct {
		name     string
		n        dataset.Normalization
		dst      int
		pixels   int
		dim      int
		channels int
	}{
		{name: "short dst", dst: 5, pixels: 6, dim: 6, channels: 1},
		{name: "partial sample", dst: 7, pixels: 7, dim: 6, channels: 1},
		{name: "dim not divisible", dst: 8, pixels: 8, dim: 8, channels: 3},
		{name: "stats for other channels", n: stats, dst: 4, pixels: 4, dim: 4, channels: 1},
		{name: "zero dim", dst: 0, pixels: 0, dim: 0, channels: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("Decode did not panic")
				}
			}()
			tt.n.Decode(make([]float32, tt.dst), make([]uint8, tt.pixels), tt.dim, tt.channels)
		})
	}
}

func TestChannelStatsPerPlane(t *testing.T) {
	t.Parallel()
	// Two samples of 1x2 pixels with three channels.
	s := dataset.Split{
		Pixels: []uint8{
			0, 0, 0, 255, 255, 255,
			0, 0, 255, 0, 255, 255,
		},
		Labels: []uint8{0, 1}, N: 2, Height: 1, Width: 2, Channels: 3,
	}
	got := dataset.ChannelStats(&s)
	want := dataset.Normalization{Mean: []float32{0, 0.5, 1}, Std: []float32{1, 0.5, 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ChannelStats (-want +got), zero variance expected as Std 1:\n%s", diff)
	}
}

func TestChannelStatsEmptySplit(t *testing.T) {
	t.Parallel()
	got := dataset.ChannelStats(&dataset.Split{Height: 28, Width: 28, Channels: 1})
	if len(got.Mean) != 0 || len(got.Std) != 0 {
		t.Errorf("ChannelStats(empty) = %+v, want the zero Normalization", got)
	}
}

func TestNormalizationUsesTrainingSplit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	test := idxImages(2, 28, 28)
	for i := 16; i < len(test); i++ {
		test[i] = 255 // test images are white, training images are not
	}
	files := syntheticMNIST()
	files["t10k-images-idx3-ubyte.gz"] = test
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	d, err := dataset.Load(testContext(t), "mnist", dataset.Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	got := d.Normalization()
	if diff := cmp.Diff(dataset.ChannelStats(&d.Train), got); diff != "" {
		t.Errorf("Normalization() differs from the training statistics (-want +got):\n%s", diff)
	}
	if testStats := dataset.ChannelStats(&d.Test); cmp.Equal(testStats, got) {
		t.Errorf("Normalization() = %+v equals the test statistics", got)
	}
	dst := make([]float32, d.Test.Dim())
	got.Decode(dst, d.Test.Sample(0), d.Test.Dim(), d.Test.Channels)
	if want := (1 - got.Mean[0]) / got.Std[0]; dst[0] != want {
		t.Errorf("decoded white test pixel = %v, want (1 - train mean) / train std = %v", dst[0], want)
	}
}

func BenchmarkDecodeCIFARBatch(b *testing.B) {
	const batch, dim = 64, 3072
	rng := rand.New(rand.NewPCG(1, 1))
	pixels := make([]uint8, batch*dim)
	for i := range pixels {
		pixels[i] = uint8(rng.UintN(256))
	}
	n := dataset.Normalization{Mean: []float32{0.49, 0.48, 0.45}, Std: []float32{0.25, 0.24, 0.26}}
	dst := make([]float32, len(pixels))
	b.SetBytes(int64(len(pixels)))
	for b.Loop() {
		n.Decode(dst, pixels, dim, 3)
	}
}

func BenchmarkChannelStatsCIFARSized(b *testing.B) {
	const samples = 1000
	rng := rand.New(rand.NewPCG(1, 1))
	s := dataset.Split{Pixels: make([]uint8, samples*3072), Labels: make([]uint8, samples), N: samples,
		Height: 32, Width: 32, Channels: 3}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(rng.UintN(256))
	}
	b.SetBytes(int64(len(s.Pixels)))
	for b.Loop() {
		dataset.ChannelStats(&s)
	}
}

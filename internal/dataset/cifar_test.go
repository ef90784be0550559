package dataset_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/dataset"
)

// cifarOrder lists the CIFAR-10 files in a shuffled order, as the members of
// a real archive come.
var cifarOrder = []string{
	"data_batch_4.bin", "test_batch.bin", "data_batch_2.bin", "batches.meta.txt",
	"data_batch_1.bin", "data_batch_5.bin", "data_batch_3.bin",
}

func TestLoadCIFARPixelOffsets(t *testing.T) {
	t.Parallel()
	files := cifarFiles()
	record := cifarRecord(4, 0)
	record[2], record[1026], record[2050] = 11, 22, 33 // pixel (row 0, column 1) in R, G, B
	files["test_batch.bin"] = record
	dir := t.TempDir()
	writeCIFARFolder(t, dir, files)

	d, err := dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	sample := d.Test.Sample(0)
	plane, row, col := d.Test.Height*d.Test.Width, 0, 1
	for c, want := range []uint8{11, 22, 33} {
		if got := sample[c*plane+row*d.Test.Width+col]; got != want {
			t.Errorf("channel %d pixel (0, 1) = %d, want %d", c, got, want)
		}
	}
	if d.Test.Labels[0] != 4 {
		t.Errorf("Test.Labels[0] = %d, want 4", d.Test.Labels[0])
	}
	if got := len(sample); got != 3072 {
		t.Errorf("len(Sample(0)) = %d, want 3072", got)
	}
}

func TestLoadCIFARFormsAgree(t *testing.T) {
	t.Parallel()
	files := cifarFiles()
	root := t.TempDir()
	batches := filepath.Join(root, "extracted", "cifar-10-batches-bin")
	writeCIFARFolder(t, batches, files)
	archive := filepath.Join(root, "packed", "cifar-10-binary.tar.gz")
	writeCIFARArchive(t, archive, files, cifarOrder)

	tests := []struct {
		name    string
		dataDir string
	}{
		{name: "batches folder", dataDir: batches},
		{name: "folder with batches folder", dataDir: filepath.Dir(batches)},
		{name: "archive", dataDir: archive},
		{name: "folder with archive", dataDir: filepath.Dir(archive)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: tt.dataDir, Logger: testLogger(t)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := []uint8{1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5}
			if diff := cmp.Diff(want, d.Train.Labels); diff != "" {
				t.Errorf("train labels, batches 1 to 5 in order (-want +got):\n%s", diff)
			}
			if got := d.Train.Sample(14)[3071]; got != 50 {
				t.Errorf("last train pixel = %d, want 50 (from data_batch_5.bin)", got)
			}
			if diff := cmp.Diff([]uint8{0, 9}, d.Test.Labels); diff != "" {
				t.Errorf("test labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cifarClassNames, d.ClassNames); diff != "" {
				t.Errorf("class names (-want +got):\n%s", diff)
			}
			shape := [5]int{d.Train.N, d.Train.Height, d.Train.Width, d.Train.Channels, len(d.Train.Pixels)}
			if shape != [5]int{15, 32, 32, 3, 15 * 3072} {
				t.Errorf("train N, Height, Width, Channels, len(Pixels) = %v", shape)
			}
			if d.Name != "cifar10" || d.Classes != 10 {
				t.Errorf("Name, Classes = %q, %d, want cifar10, 10", d.Name, d.Classes)
			}
		})
	}
}

func TestLoadCIFARInvalidFiles(t *testing.T) {
	t.Parallel()
	badLabel := append(cifarRecord(3, 0), cifarRecord(3, 0)...)
	badLabel = append(badLabel, cifarRecord(10, 0)...)
	tests := []struct {
		name     string
		file     string
		data     []byte // nil removes the file
		sentinel error
		want     []string
	}{
		{
			name: "label 10", file: "data_batch_3.bin", data: badLabel, sentinel: dataset.ErrLabelRange,
			want: []string{"data_batch_3.bin", "record 2 has label 10, want 0 to 9"},
		},
		{
			name: "size not multiple of record", file: "test_batch.bin",
			data: append(cifarRecord(0, 0), 1, 2, 3), sentinel: dataset.ErrFormat,
			want: []string{"test_batch.bin", "size 3,076 bytes is not a multiple of the 3,073-byte record"},
		},
		{
			name: "empty batch", file: "data_batch_1.bin", data: []byte{}, sentinel: dataset.ErrFormat,
			want: []string{"data_batch_1.bin", "file is empty"},
		},
		{
			name: "nine class names", file: "batches.meta.txt", sentinel: dataset.ErrFormat,
			data: []byte(strings.Join(cifarClassNames[:9], "\n")),
			want: []string{"batches.meta.txt", "has 9 class names, want 10"},
		},
	}
	for _, tt := range tests {
		for _, form := range []string{"folder", "archive"} {
			t.Run(tt.name+" in "+form, func(t *testing.T) {
				t.Parallel()
				files := cifarFiles()
				files[tt.file] = tt.data
				dir := t.TempDir()
				if form == "folder" {
					writeCIFARFolder(t, dir, files)
				} else {
					writeCIFARArchive(t, filepath.Join(dir, "cifar-10-binary.tar.gz"), files, cifarOrder)
				}
				_, err := dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: dir, Logger: testLogger(t)})
				if !errors.Is(err, tt.sentinel) {
					t.Fatalf("Load error = %v, want %v", err, tt.sentinel)
				}
				for _, s := range append(tt.want, dir) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Load error = %q, want it to contain %q", err, s)
					}
				}
			})
		}
	}
}

func TestLoadCIFARLabelErrorFields(t *testing.T) {
	t.Parallel()
	files := cifarFiles()
	files["data_batch_2.bin"] = append(cifarRecord(2, 0), cifarRecord(200, 0)...)
	dir := t.TempDir()
	writeCIFARFolder(t, dir, files)
	_, err := dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: dir, Logger: testLogger(t)})
	var le *dataset.LabelError
	if !errors.As(err, &le) {
		t.Fatalf("Load error = %v, want a *LabelError", err)
	}
	want := &dataset.LabelError{File: filepath.Join(dir, "data_batch_2.bin"), Record: 1, Label: 200, Classes: 10}
	if diff := cmp.Diff(want, le); diff != "" {
		t.Errorf("LabelError (-want +got):\n%s", diff)
	}
}

func TestLoadCIFARMissingFiles(t *testing.T) {
	t.Parallel()
	files := cifarFiles()
	delete(files, "data_batch_5.bin")
	delete(files, "batches.meta.txt")
	root := t.TempDir()
	folder := filepath.Join(root, "folder")
	writeCIFARFolder(t, folder, files)
	archive := filepath.Join(root, "cifar-10-binary.tar.gz")
	var names []string
	for _, name := range cifarOrder {
		if _, ok := files[name]; ok {
			names = append(names, name)
		}
	}
	writeCIFARArchive(t, archive, files, names)

	_, err := dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: folder, Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrNotFound) {
		t.Errorf("Load(folder) error = %v, want ErrNotFound", err)
	}
	for _, s := range []string{folder, "lacks batches.meta.txt, data_batch_5.bin"} {
		if err != nil && !strings.Contains(err.Error(), s) {
			t.Errorf("Load(folder) error = %q, want it to contain %q", err, s)
		}
	}

	_, err = dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: archive, Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrFormat) {
		t.Errorf("Load(archive) error = %v, want ErrFormat", err)
	}
	for _, s := range []string{archive, "archive lacks batches.meta.txt, data_batch_5.bin"} {
		if err != nil && !strings.Contains(err.Error(), s) {
			t.Errorf("Load(archive) error = %q, want it to contain %q", err, s)
		}
	}

	empty := t.TempDir()
	_, err = dataset.Load(testContext(t), "cifar10", dataset.Options{DataDir: empty, Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrNotFound) {
		t.Errorf("Load(empty folder) error = %v, want ErrNotFound", err)
	}
	for _, s := range []string{empty, "cifar-10-binary.tar.gz", "cifar-10-batches-bin/", "test_batch.bin"} {
		if err != nil && !strings.Contains(err.Error(), s) {
			t.Errorf("Load(empty folder) error = %q, want it to contain %q", err, s)
		}
	}
}

func TestLoadCIFARRejectsCorruptDownload(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	archive := filepath.Join(root, "cifar-10-binary.tar.gz")
	writeCIFARArchive(t, archive, cifarFiles(), cifarOrder)
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serveFiles(t, map[string][]byte{"cifar-10-binary.tar.gz": data})
	cache := t.TempDir()

	_, err = dataset.Load(testContext(t), "cifar10", dataset.Options{CacheDir: cache,
		BaseURLs: []string{srv.URL + "/~kriz/"}, Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrChecksum) || !errors.Is(err, dataset.ErrNotFound) {
		t.Fatalf("Load error = %v, want ErrChecksum and ErrNotFound", err)
	}
	for _, s := range []string{srv.URL + "/~kriz/cifar-10-binary.tar.gz", "md5 mismatch",
		"expected c32a1d4ab5d03f1284b67883e8d87530", "--data-dir", filepath.Join(cache, "cifar10")} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Load error = %q, want it to contain %q", err, s)
		}
	}
	if got := listDir(t, filepath.Join(cache, "cifar10")); len(got) != 0 {
		t.Errorf("cache folder contains %q after a checksum mismatch, want nothing", got)
	}
}

// realCIFARArchive returns the path of the real archive, or skips the test.
func realCIFARArchive(t *testing.T) string {
	t.Helper()
	dir := testDataDir(t)
	if dir == "" {
		t.Skipf("%s is not set: there is no local CIFAR-10 copy, and tests cannot reach the official host", testDataEnv)
	}
	return filepath.Join(dir, "cifar-10-binary.tar.gz")
}

// checkRealCIFAR checks the shape, labels and channel statistics of the full
// CIFAR-10 dataset.
func checkRealCIFAR(t *testing.T, d *dataset.Dataset) {
	t.Helper()
	if d.Train.N != 50000 || d.Test.N != 10000 {
		t.Fatalf("Train.N, Test.N = %d, %d, want 50000, 10000", d.Train.N, d.Test.N)
	}
	if diff := cmp.Diff(cifarClassNames, d.ClassNames); diff != "" {
		t.Errorf("class names (-want +got):\n%s", diff)
	}
	for _, s := range []*dataset.Split{&d.Train, &d.Test} {
		var counts [10]int
		for _, l := range s.Labels {
			counts[l]++
		}
		for class, c := range counts {
			if c != s.N/10 {
				t.Errorf("class %d has %d of %d samples, want %d", class, c, s.N, s.N/10)
			}
		}
	}

	// The CIFAR-10 training set has channel means of about 0.491, 0.482 and
	// 0.447 and standard deviations of about 0.247, 0.243 and 0.262. A wrong
	// plane order shows up here first.
	norm := d.Normalization()
	wantMean := []float64{0.4914, 0.4822, 0.4465}
	wantStd := []float64{0.2470, 0.2435, 0.2616}
	for c := range 3 {
		if math.Abs(float64(norm.Mean[c])-wantMean[c]) > 0.01 || math.Abs(float64(norm.Std[c])-wantStd[c]) > 0.01 {
			t.Errorf("channel %d mean, std = %.4f, %.4f, want about %.4f, %.4f",
				c, norm.Mean[c], norm.Std[c], wantMean[c], wantStd[c])
		}
	}
}

func TestLoadCIFARRealData(t *testing.T) {
	archive := realCIFARArchive(t)
	ctx := testContext(t)
	fromArchive, err := dataset.Load(ctx, "cifar10", dataset.Options{DataDir: filepath.Dir(archive), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Load(archive): %v", err)
	}
	checkRealCIFAR(t, fromArchive)

	extracted := t.TempDir()
	extractTarGz(t, archive, extracted)
	fromFolder, err := dataset.Load(ctx, "cifar10", dataset.Options{DataDir: extracted, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Load(extracted folder): %v", err)
	}
	for _, pair := range []struct {
		name         string
		archive, dir []uint8
	}{
		{"train pixels", fromArchive.Train.Pixels, fromFolder.Train.Pixels},
		{"train labels", fromArchive.Train.Labels, fromFolder.Train.Labels},
		{"test pixels", fromArchive.Test.Pixels, fromFolder.Test.Pixels},
		{"test labels", fromArchive.Test.Labels, fromFolder.Test.Labels},
	} {
		if !bytes.Equal(pair.archive, pair.dir) {
			t.Errorf("%s differ between the archive and the extracted folder", pair.name)
		}
	}
	if diff := cmp.Diff(fromArchive.ClassNames, fromFolder.ClassNames); diff != "" {
		t.Errorf("class names, archive vs folder (-want +got):\n%s", diff)
	}
}

// extractTarGz unpacks the regular files of a gzip tar archive into dir. It
// uses the tar command when there is one, because Go's decompressor is
// several times slower under the race detector.
func extractTarGz(t *testing.T, archive, dir string) {
	t.Helper()
	if tarPath, err := exec.LookPath("tar"); err == nil {
		if out, err := exec.Command(tarPath, "-xzf", archive, "-C", dir).CombinedOutput(); err != nil {
			t.Fatalf("tar -xzf %s: %v\n%s", archive, err, out)
		}
		return
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(dst, dir+string(filepath.Separator)) {
			t.Fatalf("archive member %q leaves the folder", hdr.Name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

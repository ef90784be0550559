package dataset_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/dataset"
)

func TestLoadMNISTFileForms(t *testing.T) {
	t.Parallel()
	raw := syntheticMNIST()
	tests := []struct {
		name   string
		gzip   bool   // compress the contents
		keepGz bool   // keep the .gz suffix in the file name
		subdir string // folder below DataDir
	}{
		{name: "gzip named gz", gzip: true, keepGz: true},
		{name: "raw named raw"},
		{name: "gzip named raw", gzip: true},
		{name: "raw named gz", keepGz: true},
		{name: "mnist subfolder", gzip: true, keepGz: true, subdir: "mnist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, data := range raw {
				if tt.gzip {
					data = gzipBytes(t, data)
				}
				if !tt.keepGz {
					name = strings.TrimSuffix(name, ".gz")
				}
				writeFile(t, filepath.Join(dir, tt.subdir, name), data)
			}

			d, err := dataset.Load(testContext(t), "mnist", dataset.Options{DataDir: dir, Logger: testLogger(t)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff([]uint8{1, 2, 3}, d.Train.Labels); diff != "" {
				t.Errorf("train labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]uint8{9, 0}, d.Test.Labels); diff != "" {
				t.Errorf("test labels (-want +got):\n%s", diff)
			}
			if want := raw["train-images-idx3-ubyte.gz"][16:]; !bytes.Equal(want, d.Train.Pixels) {
				t.Errorf("train pixels differ from the file's %d bytes after the header", len(want))
			}
			if got := d.Test.Sample(1)[5]; got != 6 {
				t.Errorf("test Sample(1)[5] = %d, want 6", got)
			}
			shape := [4]int{d.Train.N, d.Train.Height, d.Train.Width, d.Train.Channels}
			if shape != [4]int{3, 28, 28, 1} {
				t.Errorf("train N, Height, Width, Channels = %v, want [3 28 28 1]", shape)
			}
			if d.Classes != 10 || len(d.ClassNames) != 10 || d.ClassNames[7] != "7" {
				t.Errorf("Classes = %d, ClassNames = %q, want 10 names \"0\" to \"9\"", d.Classes, d.ClassNames)
			}
		})
	}
}

func TestLoadMNISTInvalidFiles(t *testing.T) {
	t.Parallel()
	littleEndian := idxImages(3, 28, 28)
	copy(littleEndian, []byte{0x03, 0x08, 0x00, 0x00})
	truncated := idxImages(1, 28, 28) // header rewritten below to claim 60,000
	copy(truncated[4:8], []byte{0x00, 0x00, 0xea, 0x60})
	tests := []struct {
		name     string
		file     string // canonical name of the file to replace
		data     []byte
		sentinel error
		want     []string // substrings of the error
	}{
		{
			name: "little-endian header", file: "train-images-idx3-ubyte.gz", data: littleEndian,
			sentinel: dataset.ErrFormat,
			want:     []string{"train-images-idx3-ubyte.gz", "wrong magic number 0x03080000", "big-endian"},
		},
		{
			name: "truncated images", file: "train-images-idx3-ubyte.gz", data: truncated,
			sentinel: dataset.ErrFormat,
			want:     []string{"train-images-idx3-ubyte.gz", "expected 47,040,016 bytes, got 800"},
		},
		{
			name: "trailing bytes", file: "t10k-images-idx3-ubyte.gz", data: append(idxImages(2, 28, 28), 0),
			sentinel: dataset.ErrFormat,
			want:     []string{"t10k-images-idx3-ubyte.gz", "expected 1,584 bytes, got 1,585"},
		},
		{
			name: "wrong dimensions", file: "train-images-idx3-ubyte.gz", data: idxImages(3, 27, 28),
			sentinel: dataset.ErrFormat,
			want:     []string{"train-images-idx3-ubyte.gz", "images are 27x28, want 28x28"},
		},
		{
			name: "label file for images", file: "train-images-idx3-ubyte.gz", data: idxLabels(1, 2, 3),
			sentinel: dataset.ErrFormat,
			want:     []string{"train-images-idx3-ubyte.gz", "this is a label file"},
		},
		{
			name: "mismatched counts", file: "train-labels-idx1-ubyte.gz", data: idxLabels(1, 2),
			sentinel: dataset.ErrFormat,
			want:     []string{"train-images-idx3-ubyte.gz", "has 3 images but", "train-labels-idx1-ubyte.gz has 2 labels"},
		},
		{
			name: "label 10", file: "t10k-labels-idx1-ubyte.gz", data: idxLabels(9, 10),
			sentinel: dataset.ErrLabelRange,
			want:     []string{"t10k-labels-idx1-ubyte.gz", "record 1 has label 10, want 0 to 9"},
		},
		{
			name: "short header", file: "t10k-labels-idx1-ubyte.gz", data: []byte{0, 0, 8},
			sentinel: dataset.ErrFormat,
			want:     []string{"t10k-labels-idx1-ubyte.gz", "file is 3 bytes, shorter than the 8-byte IDX header"},
		},
		{
			name: "corrupt gzip", file: "train-labels-idx1-ubyte.gz", data: []byte{0x1f, 0x8b, 0, 0},
			sentinel: dataset.ErrFormat,
			want:     []string{"train-labels-idx1-ubyte.gz", "invalid gzip header"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, data := range syntheticMNIST() {
				if name == tt.file {
					data = tt.data
				}
				writeFile(t, filepath.Join(dir, name), data)
			}
			_, err := dataset.Load(testContext(t), "mnist", dataset.Options{DataDir: dir, Logger: testLogger(t)})
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("Load error = %v, want %v", err, tt.sentinel)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load error = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadMNISTLabelErrorFields(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, data := range syntheticMNIST() {
		if name == "train-labels-idx1-ubyte.gz" {
			data = idxLabels(1, 10, 3)
		}
		writeFile(t, filepath.Join(dir, name), data)
	}
	_, err := dataset.Load(testContext(t), "mnist", dataset.Options{DataDir: dir, Logger: testLogger(t)})
	var le *dataset.LabelError
	if !errors.As(err, &le) {
		t.Fatalf("Load error = %v, want a *LabelError", err)
	}
	want := &dataset.LabelError{File: filepath.Join(dir, "train-labels-idx1-ubyte.gz"), Record: 1, Label: 10, Classes: 10}
	if diff := cmp.Diff(want, le); diff != "" {
		t.Errorf("LabelError (-want +got):\n%s", diff)
	}
	if !errors.Is(err, dataset.ErrFormat) {
		t.Errorf("errors.Is(%v, ErrFormat) = false, want true", err)
	}
}

package modelfile_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/modelfile"
)

func sampleModel() *modelfile.Model {
	return &modelfile.Model{
		Header: modelfile.Header{
			Model: "4-3relu-2", Dataset: "mnist", Classes: 2, Channels: 1, Height: 2, Width: 2,
			Step: 7, Fingerprint: "00000000000000ab",
		},
		Params: []float32{0.5, -1, 2, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "model.rtm")
	want := sampleModel()
	if err := modelfile.Write(path, want); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := modelfile.Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read after Write (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after Write, want only the model file", len(entries))
	}
}

func TestReadRejectsDamagedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.rtm")
	if err := modelfile.Write(good, sampleModel()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)-10] ^= 0x01
	version := append([]byte(nil), data...)
	version[8] = 9

	// A count of 2^62 parameters makes 4*count wrap to 0, and a valid
	// checksum gets it past the check that usually catches damage.
	huge := append([]byte(nil), data[:len(data)-4]...)
	countAt := len(huge) - 4*len(sampleModel().Params) - 8
	binary.LittleEndian.PutUint64(huge[countAt:], 1<<62)
	huge = huge[:countAt+8]
	huge = binary.LittleEndian.AppendUint32(huge, crc32.Checksum(huge, crc32.MakeTable(crc32.Castagnoli)))

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"flipped byte", flipped, modelfile.ErrChecksum},
		{"huge parameter count", huge, modelfile.ErrFormat},
		{"truncated", data[:len(data)-5], modelfile.ErrFormat},
		{"other version", version, modelfile.ErrVersion},
		{"not a model", []byte("hello, world, this is text"), modelfile.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := modelfile.Read(path)
			if !errors.Is(err, tt.want) {
				t.Errorf("Read(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

// Package modelfile reads and writes trained models: the model spec, the
// input normalisation and the parameters, guarded by a checksum.
//
// # Format
//
// All integers are little-endian.
//
//	magic        8 bytes  "RTMODEL\x00"
//	version      uint32   1
//	header size  uint32   n
//	header       n bytes  JSON, see [Header]
//	param count  uint64   p
//	parameters   4p bytes float32, in the layout of package nn
//	checksum     uint32   CRC-32C of every byte before it
package modelfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/ringtrain/ringtrain/internal/tensor"
)

// Version is the format version this package writes and reads.
const Version = 1

var magic = []byte("RTMODEL\x00")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors that [Read] wraps, for callers that branch on the cause.
var (
	ErrFormat   = errors.New("not a ringtrain model file")
	ErrVersion  = errors.New("unsupported model file version")
	ErrChecksum = errors.New("model file checksum mismatch")
)

// Header describes the model a file holds.
type Header struct {
	// Model is the layer spec, as nn.ParseSpec reads it.
	Model      string   `json:"model"`
	Dataset    string   `json:"dataset"`
	Classes    int      `json:"classes"`
	ClassNames []string `json:"class_names,omitempty"`
	Channels   int      `json:"channels"`
	Height     int      `json:"height"`
	Width      int      `json:"width"`
	// NormMean and NormStd are the per-channel input normalisation on the
	// [0, 1] scale; empty means inputs are only scaled to [0, 1].
	NormMean []float32 `json:"norm_mean,omitempty"`
	NormStd  []float32 `json:"norm_std,omitempty"`
	// Step is the number of optimizer steps the parameters have seen.
	Step        uint64 `json:"step"`
	Fingerprint string `json:"fingerprint"`
}

// Model is a header and the parameters it describes.
type Model struct {
	Header Header
	Params []float32
}

// Write stores m at path atomically: it writes a temporary file in the same
// folder, syncs it and renames it over path, so a reader sees the old file
// or the new one, never a part.
func Write(path string, m *Model) error {
	header, err := json.Marshal(m.Header)
	if err != nil {
		return fmt.Errorf("modelfile: encode header: %w", err)
	}
	var buf bytes.Buffer
	buf.Write(magic)
	binary.Write(&buf, binary.LittleEndian, uint32(Version))
	binary.Write(&buf, binary.LittleEndian, uint32(len(header)))
	buf.Write(header)
	binary.Write(&buf, binary.LittleEndian, uint64(len(m.Params)))
	data := tensor.AppendFloat32s(buf.Bytes(), m.Params)
	data = binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
	return WriteAtomic(path, data)
}

// WriteAtomic writes data to path through a synced temporary file and a
// rename, then syncs the folder so the rename survives a crash.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("modelfile: create temporary file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("modelfile: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("modelfile: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("modelfile: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("modelfile: rename into %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Read loads and verifies the model file at path. A truncated, corrupt or
// foreign file, or one of another version, is an error that names the file
// and the problem.
func Read(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("modelfile: %w", err)
	}
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("modelfile: %s: %w", path, err)
	}
	return m, nil
}

func decode(data []byte) (*Model, error) {
	const fixed = 8 + 4 + 4
	if len(data) < fixed || !bytes.Equal(data[:8], magic) {
		return nil, fmt.Errorf("%w: missing magic %q", ErrFormat, magic[:7])
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != Version {
		return nil, fmt.Errorf("%w: file has version %d, this build reads version %d", ErrVersion, v, Version)
	}
	headerLen := int(binary.LittleEndian.Uint32(data[12:]))
	if len(data) < fixed+headerLen+8+4 {
		return nil, fmt.Errorf("%w: truncated at %d bytes, header alone needs %d", ErrFormat, len(data), fixed+headerLen+12)
	}
	count := binary.LittleEndian.Uint64(data[fixed+headerLen:])
	paramsAt := fixed + headerLen + 8
	// Comparing the count with the bytes left, not 4*count with the file
	// size, keeps a forged count from overflowing.
	if room := uint64(len(data) - paramsAt - 4); count > room/4 || 4*count != room {
		return nil, fmt.Errorf("%w: header declares %d parameters, but the %d bytes after it hold %d and a checksum: the file is truncated, padded or damaged",
			ErrFormat, count, room+4, room/4)
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(data)-4:]); got != want {
		return nil, fmt.Errorf("%w: computed %08x, stored %08x: the file is corrupt", ErrChecksum, got, want)
	}
	m := &Model{Params: make([]float32, count)}
	if err := json.Unmarshal(data[fixed:fixed+headerLen], &m.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	if err := tensor.DecodeFloat32s(m.Params, body[paramsAt:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return m, nil
}

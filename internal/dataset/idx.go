package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
)

// IDX magic numbers: two zero bytes, the element type 0x08 (unsigned byte)
// and the number of dimensions, stored big-endian.
const (
	idxImageMagic = 0x00000803 // 2051: N x rows x cols
	idxLabelMagic = 0x00000801 // 2049: N

	idxImageHeader = 16
	idxLabelHeader = 8

	mnistSide    = 28
	mnistClasses = 10
)

// readMNISTSplit reads an IDX image file and its label file, which must hold
// the same number of samples.
func readMNISTSplit(imagesPath, labelsPath string) (Split, error) {
	pixels, n, err := readIDXImages(imagesPath)
	if err != nil {
		return Split{}, err
	}
	labels, err := readIDXLabels(labelsPath)
	if err != nil {
		return Split{}, err
	}
	if len(labels) != n {
		return Split{}, &FormatError{File: imagesPath, Problem: fmt.Sprintf(
			"has %s images but %s has %s labels; use the label file that belongs to these images",
			groupDigits(int64(n)), labelsPath, groupDigits(int64(len(labels))))}
	}
	return Split{Pixels: pixels, Labels: labels, N: n,
		Height: mnistSide, Width: mnistSide, Channels: 1}, nil
}

// readIDXImages reads a 28x28 unsigned-byte IDX image file and returns its
// pixels and the number of images.
func readIDXImages(path string) ([]uint8, int, error) {
	r, closeFile, err := openMaybeGzip(path)
	if err != nil {
		return nil, 0, err
	}
	defer closeFile()

	var header [idxImageHeader]byte
	if err := readHeader(r, path, header[:], idxImageMagic, "an image"); err != nil {
		return nil, 0, err
	}
	n := binary.BigEndian.Uint32(header[4:8])
	rows := binary.BigEndian.Uint32(header[8:12])
	cols := binary.BigEndian.Uint32(header[12:16])
	if rows != mnistSide || cols != mnistSide {
		return nil, 0, &FormatError{File: path, Problem: fmt.Sprintf(
			"images are %dx%d, want %dx%d", rows, cols, mnistSide, mnistSide)}
	}
	if n == 0 {
		return nil, 0, &FormatError{File: path, Problem: "header declares 0 images"}
	}

	bodyLen := int64(n) * mnistSide * mnistSide
	declared := fmt.Sprintf("the header declares %s images of %dx%d",
		groupDigits(int64(n)), rows, cols)
	pixels, err := readBody(r, path, idxImageHeader, bodyLen, declared)
	if err != nil {
		return nil, 0, err
	}
	return pixels, int(n), nil
}

// readIDXLabels reads an unsigned-byte IDX label file and checks that every
// label is a digit.
func readIDXLabels(path string) ([]uint8, error) {
	r, closeFile, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer closeFile()

	var header [idxLabelHeader]byte
	if err := readHeader(r, path, header[:], idxLabelMagic, "a label"); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(header[4:8])
	if n == 0 {
		return nil, &FormatError{File: path, Problem: "header declares 0 labels"}
	}

	declared := fmt.Sprintf("the header declares %s labels", groupDigits(int64(n)))
	labels, err := readBody(r, path, idxLabelHeader, int64(n), declared)
	if err != nil {
		return nil, err
	}
	for i, label := range labels {
		if label >= mnistClasses {
			return nil, &LabelError{File: path, Record: i, Label: int(label), Classes: mnistClasses}
		}
	}
	return labels, nil
}

// openMaybeGzip opens path and returns a reader of its contents, decompressed
// when the file starts with the gzip magic bytes 1f 8b, whatever its name.
func openMaybeGzip(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2) // a shorter file is reported by the header check
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return br, func() { f.Close() }, nil
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, nil, &FormatError{File: path, Problem: "invalid gzip header", Err: err}
	}
	return gz, func() { gz.Close(); f.Close() }, nil
}

// readHeader fills header and checks its magic number first, so that a
// short file of the wrong kind is reported as such.
func readHeader(r io.Reader, path string, header []byte, magic uint32, kind string) error {
	n, err := io.ReadFull(r, header)
	if n >= 4 {
		if err := checkMagic(path, header[:4], magic, kind); err != nil {
			return err
		}
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{File: path, Problem: fmt.Sprintf(
			"file is %d bytes, shorter than the %d-byte IDX header", n, len(header))}
	}
	return &FormatError{File: path, Problem: "read header", Err: err}
}

// checkMagic compares the magic number in b with want and explains the two
// likely causes of a mismatch: a little-endian header, or the other kind of
// IDX file.
func checkMagic(path string, b []byte, want uint32, kind string) error {
	got := binary.BigEndian.Uint32(b)
	if got == want {
		return nil
	}
	problem := fmt.Sprintf("wrong magic number 0x%08x, want 0x%08x (%d) for %s file",
		got, want, want, kind)
	switch {
	case bits.ReverseBytes32(got) == want:
		problem += "; the header was written little-endian, but IDX headers are big-endian"
	case got == idxImageMagic:
		problem += "; this is an image file"
	case got == idxLabelMagic:
		problem += "; this is a label file"
	}
	return &FormatError{File: path, Problem: problem}
}

// readBody reads exactly bodyLen bytes after a header of headerLen bytes and
// rejects a file that is shorter or longer. declared explains bodyLen in the
// error message.
func readBody(r io.Reader, path string, headerLen, bodyLen int64, declared string) ([]byte, error) {
	// Grow the buffer as data arrives, so that a corrupt header that declares
	// billions of images fails on the short file, not on allocation.
	var buf bytes.Buffer
	buf.Grow(int(min(bodyLen, 64<<20)))
	got, err := io.Copy(&buf, io.LimitReader(r, bodyLen))
	expected := headerLen + bodyLen
	if err != nil {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf(
			"read failed after %s of %s bytes", groupDigits(headerLen+got), groupDigits(expected)), Err: err}
	}
	if got < bodyLen {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf(
			"truncated: expected %s bytes, got %s (%s)",
			groupDigits(expected), groupDigits(headerLen+got), declared)}
	}

	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return nil, &FormatError{File: path, Problem: "read trailing data", Err: err}
	}
	if extra > 0 {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf(
			"expected %s bytes, got %s (%s)",
			groupDigits(expected), groupDigits(expected+extra), declared)}
	}
	return buf.Bytes(), nil
}

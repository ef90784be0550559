package e2e_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// writeMNIST writes the four MNIST files, uncompressed, with n training and
// n test images of 28x28 and labels i mod 10, overridden by bad.
func writeMNIST(t *testing.T, dir string, n int, bad map[int]uint8) {
	t.Helper()
	images := func() []byte {
		b := binary.BigEndian.AppendUint32(nil, 2051)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		b = binary.BigEndian.AppendUint32(b, 28)
		b = binary.BigEndian.AppendUint32(b, 28)
		for i := range n * 784 {
			b = append(b, byte(i))
		}
		return b
	}
	labels := func(bad map[int]uint8) []byte {
		b := binary.BigEndian.AppendUint32(nil, 2049)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		for i := range n {
			label, ok := bad[i]
			if !ok {
				label = uint8(i % 10)
			}
			b = append(b, label)
		}
		return b
	}
	files := map[string][]byte{
		"train-images-idx3-ubyte": images(),
		"train-labels-idx1-ubyte": labels(bad),
		"t10k-images-idx3-ubyte":  images(),
		"t10k-labels-idx1-ubyte":  labels(nil),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

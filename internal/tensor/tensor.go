// Package tensor converts float32 vectors to and from the little-endian bytes
// that ringtrain puts on the wire and in files, and fingerprints them.
package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// littleEndian reports whether this machine stores a float32 in the byte
// order of the wire format, so a vector's memory can be hashed as it is.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// AppendFloat32s appends src to dst as little-endian bytes and returns the
// extended slice.
func AppendFloat32s(dst []byte, src []float32) []byte {
	for _, v := range src {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}

// DecodeFloat32s fills dst from little-endian bytes. It returns an error
// when src does not hold exactly len(dst) values.
func DecodeFloat32s(dst []float32, src []byte) error {
	if len(src) != 4*len(dst) {
		return fmt.Errorf("tensor: got %d bytes for %d float32 values, want %d", len(src), len(dst), 4*len(dst))
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
	return nil
}

// Fingerprint returns the 64-bit xxHash of the little-endian bytes of v.
// Two vectors with the same fingerprint are, for any practical purpose, the
// same bits.
func Fingerprint(v []float32) uint64 {
	if len(v) == 0 {
		return xxhash.Sum64(nil)
	}
	if littleEndian {
		return xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
	}
	return xxhash.Sum64(AppendFloat32s(nil, v))
}

// FormatFingerprint renders a fingerprint as the 16 hex digits that status
// documents and logs show.
func FormatFingerprint(f uint64) string {
	return fmt.Sprintf("%016x", f)
}

package allreduce

import (
	"encoding/binary"
	"math"
)

// element is the set of value types that the ring sums.
type element interface {
	float32 | int64
}

// codec converts between a vector's values and the little-endian bytes that
// a frame carries. The schedule works on any element type through it.
type codec[E element] struct {
	name string // value of the header's element field
	size int    // bytes per value

	// encode writes src into dst, which holds exactly size*len(src) bytes.
	encode func(dst []byte, src []E)
	// add adds the values in src to dst element by element.
	add func(dst []E, src []byte)
	// load overwrites dst with the values in src.
	load func(dst []E, src []byte)
}

var float32Codec = codec[float32]{
	name:   "float32",
	size:   4,
	encode: encodeFloat32,
	add:    addFloat32,
	load:   loadFloat32,
}

var int64Codec = codec[int64]{
	name:   "int64",
	size:   8,
	encode: encodeInt64,
	add:    addInt64,
	load:   loadInt64,
}

// The loops slice with explicit bounds, such as src[4*i:4*i+4], so that the
// compiler replaces the index checks inside the encoding/binary calls with
// one slice check per value.

func encodeFloat32(dst []byte, src []float32) {
	dst = dst[:4*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:4*i+4], math.Float32bits(v))
	}
}

func addFloat32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] += math.Float32frombits(binary.LittleEndian.Uint32(src[4*i : 4*i+4]))
	}
}

func loadFloat32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i : 4*i+4]))
	}
}

func encodeInt64(dst []byte, src []int64) {
	dst = dst[:8*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint64(dst[8*i:8*i+8], uint64(v))
	}
}

// addInt64 adds with Go's wrapping int64 arithmetic, so a sum that
// overflows comes out the same in any order.
func addInt64(dst []int64, src []byte) {
	src = src[:8*len(dst)]
	for i := range dst {
		dst[i] += int64(binary.LittleEndian.Uint64(src[8*i : 8*i+8]))
	}
}

func loadInt64(dst []int64, src []byte) {
	src = src[:8*len(dst)]
	for i := range dst {
		dst[i] = int64(binary.LittleEndian.Uint64(src[8*i : 8*i+8]))
	}
}

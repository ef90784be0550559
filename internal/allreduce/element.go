package allreduce

import (
	"encoding/binary"
	"math"
	"unsafe"
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
	// On a little-endian machine the values' memory already is their
	// encoding, and the schedule sends it without calling encode.
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

// littleEndian reports whether this machine stores values in the byte
// order of a frame, so that a vector's memory can be sent as it is.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// wireBytes returns the bytes that carry data on the wire, size bytes per
// value: data's own memory on a little-endian machine, else a new buffer
// that the caller fills with encode.
func wireBytes[E element](data []E, size int) []byte {
	if littleEndian {
		return memoryOf(data, size)
	}
	return make([]byte, size*len(data))
}

// memoryOf returns the memory of data as bytes, size bytes per value.
func memoryOf[E element](data []E, size int) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), size*len(data))
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

// addFloat32 handles four values per iteration, which lets the CPU overlap
// their independent additions.
func addFloat32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d := dst[i : i+4 : i+4]
		s := src[4*i : 4*i+16 : 4*i+16]
		d[0] += math.Float32frombits(binary.LittleEndian.Uint32(s[0:4]))
		d[1] += math.Float32frombits(binary.LittleEndian.Uint32(s[4:8]))
		d[2] += math.Float32frombits(binary.LittleEndian.Uint32(s[8:12]))
		d[3] += math.Float32frombits(binary.LittleEndian.Uint32(s[12:16]))
	}
	for ; i < len(dst); i++ {
		dst[i] += math.Float32frombits(binary.LittleEndian.Uint32(src[4*i : 4*i+4]))
	}
}

func loadFloat32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	if littleEndian {
		copy(memoryOf(dst, 4), src)
		return
	}
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
	if littleEndian {
		copy(memoryOf(dst, 8), src)
		return
	}
	for i := range dst {
		dst[i] = int64(binary.LittleEndian.Uint64(src[8*i : 8*i+8]))
	}
}

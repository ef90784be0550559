package allreduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFloat32WireIsLittleEndian(t *testing.T) {
	t.Parallel()
	got := make([]byte, 8)
	float32Codec.encode(got, []float32{1, -2})
	want := []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encode(1, -2) bytes (-want +got):\n%s", diff)
	}
}

func TestInt64WireIsLittleEndian(t *testing.T) {
	t.Parallel()
	got := make([]byte, 16)
	int64Codec.encode(got, []int64{0x0102030405060708, -1})
	want := []byte{8, 7, 6, 5, 4, 3, 2, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encode bytes (-want +got):\n%s", diff)
	}
}

func TestFloat32LoadKeepsBits(t *testing.T) {
	t.Parallel()
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.SmallestNonzeroFloat32, math.MaxFloat32}
	rng := rand.New(rand.NewPCG(1, 1))
	values := append(special, make([]float32, 100)...)
	for i := len(special); i < len(values); i++ {
		values[i] = math.Float32frombits(rng.Uint32())
	}

	buf := make([]byte, 4*len(values))
	float32Codec.encode(buf, values)
	got := make([]float32, len(values))
	float32Codec.load(got, buf)
	for i := range values {
		if math.Float32bits(got[i]) != math.Float32bits(values[i]) {
			t.Errorf("value %d: bits %#x after load, want %#x", i, math.Float32bits(got[i]), math.Float32bits(values[i]))
		}
	}
}

func TestFloat32Add(t *testing.T) {
	t.Parallel()
	buf := make([]byte, 12)
	float32Codec.encode(buf, []float32{0.5, -1, 3})
	dst := []float32{1, 1, 1}
	float32Codec.add(dst, buf)
	if diff := cmp.Diff([]float32{1.5, 0, 4}, dst); diff != "" {
		t.Errorf("add (-want +got):\n%s", diff)
	}
}

func TestInt64AddWraps(t *testing.T) {
	t.Parallel()
	buf := make([]byte, 16)
	int64Codec.encode(buf, []int64{1, math.MinInt64})
	dst := []int64{math.MaxInt64, -1}
	int64Codec.add(dst, buf)
	if diff := cmp.Diff([]int64{math.MinInt64, math.MaxInt64}, dst); diff != "" {
		t.Errorf("add (-want +got):\n%s", diff)
	}

	got := make([]int64, 2)
	int64Codec.load(got, buf)
	if diff := cmp.Diff([]int64{1, math.MinInt64}, got); diff != "" {
		t.Errorf("load (-want +got):\n%s", diff)
	}
}

func BenchmarkAddFloat32(b *testing.B) {
	dst := make([]float32, DefaultFrameElements)
	src := make([]byte, 4*len(dst))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		addFloat32(dst, src)
	}
}

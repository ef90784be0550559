package tensor_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/tensor"
)

func TestFloat32sRoundTrip(t *testing.T) {
	t.Parallel()
	want := []float32{0, 1, -1, 0.1, float32(math.Inf(1)), math.SmallestNonzeroFloat32, math.MaxFloat32}
	b := tensor.AppendFloat32s(nil, want)
	if len(b) != 4*len(want) {
		t.Fatalf("AppendFloat32s wrote %d bytes, want %d", len(b), 4*len(want))
	}
	got := make([]float32, len(want))
	if err := tensor.DecodeFloat32s(got, b); err != nil {
		t.Fatalf("DecodeFloat32s: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestFloat32sLittleEndian(t *testing.T) {
	t.Parallel()
	got := tensor.AppendFloat32s(nil, []float32{1})
	want := []byte{0x00, 0x00, 0x80, 0x3f}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppendFloat32s(1) (-want +got):\n%s", diff)
	}
}

func TestDecodeFloat32sLengthMismatch(t *testing.T) {
	t.Parallel()
	if err := tensor.DecodeFloat32s(make([]float32, 2), make([]byte, 7)); err == nil {
		t.Error("DecodeFloat32s(7 bytes into 2 values) succeeded, want an error")
	}
}

func TestFingerprintSeesEveryBit(t *testing.T) {
	t.Parallel()
	v := []float32{1, 2, 3, 4}
	base := tensor.Fingerprint(v)
	if base != tensor.Fingerprint([]float32{1, 2, 3, 4}) {
		t.Fatal("Fingerprint differs for equal vectors")
	}
	w := append([]float32(nil), v...)
	w[3] = math.Nextafter32(w[3], 5)
	if tensor.Fingerprint(w) == base {
		t.Error("Fingerprint unchanged after flipping the lowest bit of one value")
	}
	if got, want := tensor.FormatFingerprint(0xab), "00000000000000ab"; got != want {
		t.Errorf("FormatFingerprint(0xab) = %q, want %q", got, want)
	}
}

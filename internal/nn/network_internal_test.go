package nn

import (
	"testing"
	"unsafe"
)

func TestAlignedFloats(t *testing.T) {
	t.Parallel()
	for n := range 40 {
		buf := alignedFloats(n)
		if len(buf) != n || cap(buf) != n {
			t.Fatalf("alignedFloats(%d): len %d cap %d, want %d", n, len(buf), cap(buf), n)
		}
		if n > 0 {
			if addr := uintptr(unsafe.Pointer(&buf[0])); addr%64 != 0 {
				t.Errorf("alignedFloats(%d) starts at %#x, want a multiple of 64", n, addr)
			}
		}
	}
}

package allreduce

import "testing"

func TestReceivePoolSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		length  int
		wantCap int
	}{
		{"empty", 0, 256},
		{"smallest class", 256, 256},
		{"one over a class", 257, 512},
		{"HTTP/2 frame", 16384, 16384},
		{"largest class", 1 << 20, 1 << 20},
		{"beyond the classes", 1<<20 + 1, 1<<20 + 1},
	}
	pool := &receivePool{}
	for _, tt := range tests {
		b := pool.Get(tt.length)
		if len(*b) != tt.length {
			t.Errorf("%s: Get(%d) length = %d, want %d", tt.name, tt.length, len(*b), tt.length)
		}
		if cap(*b) != tt.wantCap {
			t.Errorf("%s: Get(%d) capacity = %d, want %d", tt.name, tt.length, cap(*b), tt.wantCap)
		}
		pool.Put(b)
	}
}

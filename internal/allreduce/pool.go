package allreduce

import (
	"math/bits"
	"sync"
)

// receivePool is the buffer pool of the ring's gRPC connections. grpc
// reads every HTTP/2 data frame into a buffer from its pool. Its default
// pool clears each buffer it hands out, which took 8% of the CPU time of a
// 7.9 MB collective on loopback (BenchmarkAllReduceFloat32, N = 2, on 2
// cores shared with other work). grpc
// fills a buffer completely before it reads from it, so this pool skips
// the clearing.
//
// Buffers come in power-of-two classes from 2^minPoolClass to
// 2^maxPoolClass bytes. A larger request gets a new buffer that is not
// pooled.
type receivePool struct {
	classes [maxPoolClass - minPoolClass + 1]sync.Pool
}

const (
	minPoolClass = 8  // 256 bytes
	maxPoolClass = 20 // 1 MiB
)

// ringBufferPool is shared by all connections of the process, as grpc's
// own default pool is.
var ringBufferPool = &receivePool{}

// poolClass returns the index of the smallest class that holds size bytes.
func poolClass(size int) int {
	if size <= 1<<minPoolClass {
		return 0
	}
	return bits.Len(uint(size-1)) - minPoolClass
}

// Get returns a buffer of length bytes whose contents are undefined.
func (p *receivePool) Get(length int) *[]byte {
	c := poolClass(length)
	if c >= len(p.classes) {
		b := make([]byte, length)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:length]
		return b
	}
	b := make([]byte, length, 1<<(c+minPoolClass))
	return &b
}

// Put returns a buffer from Get to the pool. Buffers of other capacities
// are dropped.
func (p *receivePool) Put(b *[]byte) {
	n := cap(*b)
	c := poolClass(n)
	if c < len(p.classes) && n == 1<<(c+minPoolClass) {
		p.classes[c].Put(b)
	}
}

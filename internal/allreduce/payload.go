package allreduce

import (
	"google.golang.org/grpc/mem"
)

// payload is the values of a received frame: length bytes that start skip
// bytes into buffers. The buffers belong to grpc's pool and hold a
// reference until free.
type payload struct {
	buffers mem.BufferSlice
	skip    int
	length  int
}

// keepPayload returns the length bytes of data that follow its first skip
// bytes, and takes a reference to each buffer that holds some of them, so
// that they outlive grpc's own release of data.
func keepPayload(data mem.BufferSlice, skip, length int) payload {
	p := payload{buffers: make(mem.BufferSlice, 0, len(data)), length: length}
	for _, b := range data {
		if len(p.buffers) == 0 && skip >= b.Len() {
			skip -= b.Len()
			continue
		}
		b.Ref()
		p.buffers = append(p.buffers, b)
	}
	p.skip = skip
	return p
}

// free releases the buffers. A second free does nothing.
func (p *payload) free() {
	p.buffers.Free()
	p.buffers = nil
}

// materialize returns a copy of the values' bytes.
func (p *payload) materialize() []byte {
	out := make([]byte, 0, p.length)
	skip := p.skip
	for _, b := range p.buffers {
		out = append(out, b.ReadOnlyData()[skip:]...)
		skip = 0
	}
	return out[:min(len(out), p.length)]
}

// applyPayload calls apply on consecutive parts of dst and the bytes of p
// that encode them, size bytes per value, until all of dst is done. grpc
// cuts a message at HTTP/2 frame boundaries, so a value may span two
// buffers. Such a value is first copied together. The caller checks that p
// holds exactly size*len(dst) bytes.
func applyPayload[E element](dst []E, p payload, size int, apply func(dst []E, src []byte)) {
	var (
		split [maxElementSize]byte // the bytes of a value that spans buffers
		have  int                  // bytes of it collected so far
		done  int                  // values of dst applied
	)
	skip := p.skip
	for _, b := range p.buffers {
		src := b.ReadOnlyData()[skip:]
		skip = 0
		if have > 0 {
			n := copy(split[have:size], src)
			have += n
			src = src[n:]
			if have < size {
				continue
			}
			apply(dst[done:done+1], split[:size])
			done++
			have = 0
		}
		whole := min(len(src)/size, len(dst)-done)
		apply(dst[done:done+whole], src[:whole*size])
		done += whole
		src = src[whole*size:]
		if done < len(dst) {
			have = copy(split[:size], src)
		}
	}
}

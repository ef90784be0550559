package allreduce

import (
	"google.golang.org/grpc/mem"
)

// payloadInline is the number of buffers that a payload holds without a
// heap allocation. grpc hands over a message in pieces of at most one
// HTTP/2 frame, 16 KiB, so this covers frames of up to about 300 KiB,
// [DefaultFrameElements] float32 values among them.
const payloadInline = 20

// payload is the values of a received frame: length bytes that start skip
// bytes into its buffers. The buffers belong to grpc's pool and hold a
// reference until free.
type payload struct {
	inline [payloadInline]mem.Buffer
	count  int             // buffers in use, inline first
	more   mem.BufferSlice // the buffers after the inline ones
	skip   int
	length int
}

// keepPayload returns the length bytes of data that follow its first skip
// bytes, and takes a reference to each buffer that holds some of them, so
// that they outlive grpc's own release of data.
func keepPayload(data mem.BufferSlice, skip, length int) payload {
	p := payload{length: length}
	for _, b := range data {
		if p.count == 0 && skip >= b.Len() {
			skip -= b.Len()
			continue
		}
		b.Ref()
		if p.count < payloadInline {
			p.inline[p.count] = b
		} else {
			p.more = append(p.more, b)
		}
		p.count++
	}
	p.skip = skip
	return p
}

// sliceBufferPayload returns a payload of the bytes in b.
func sliceBufferPayload(b []byte) payload {
	p := payload{count: 1, length: len(b)}
	p.inline[0] = mem.SliceBuffer(b)
	return p
}

// buffer returns the i-th buffer.
func (p *payload) buffer(i int) mem.Buffer {
	if i < payloadInline {
		return p.inline[i]
	}
	return p.more[i-payloadInline]
}

// free releases the buffers. A second free does nothing.
func (p *payload) free() {
	for i := range p.count {
		p.buffer(i).Free()
	}
	p.inline = [payloadInline]mem.Buffer{}
	p.count, p.more = 0, nil
}

// materialize returns a copy of the values' bytes.
func (p *payload) materialize() []byte {
	out := make([]byte, 0, p.length)
	skip := p.skip
	for i := range p.count {
		out = append(out, p.buffer(i).ReadOnlyData()[skip:]...)
		skip = 0
	}
	return out[:min(len(out), p.length)]
}

// applyPayload calls apply on consecutive parts of dst and the bytes of p
// that encode them, size bytes per value, until all of dst is done. grpc
// cuts a message at HTTP/2 frame boundaries, so a value may span two
// buffers. Such a value is first copied together into split, which holds
// at least size bytes. The caller checks that p holds exactly
// size*len(dst) bytes.
func applyPayload[E element](dst []E, p *payload, size int, apply func(dst []E, src []byte), split []byte) {
	var (
		have int // bytes of the split value collected so far
		done int // values of dst applied
	)
	skip := p.skip
	for i := range p.count {
		src := p.buffer(i).ReadOnlyData()[skip:]
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

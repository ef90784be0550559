package allreduce

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// frameCodecName is the gRPC content subtype of Exchange streams that use
// [frameCodec]. A stream with the default "proto" subtype, as the generated
// client sends it, is still served.
const frameCodecName = "ringtrain-frame"

func init() {
	encoding.RegisterCodecV2(frameCodec{})
}

// frameCodec encodes the data frames of an Exchange stream without copying
// their values. The bytes on the wire are those of a ringtrain.v1.Frame
// with fields ring_step, offset and data in this order, so any protobuf
// decoder reads them. Marshal hands grpc the vector's own memory as the
// data field, and Unmarshal keeps grpc's receive buffers, which the ring
// adds from directly. Every other message, the header frame included, goes
// through grpc's proto codec.
type frameCodec struct{}

func (frameCodec) Name() string { return frameCodecName }

func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*outFrame); ok {
		return f.marshal(), nil
	}
	return encoding.GetCodecV2(protocodec.Name).Marshal(v)
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*inFrame); ok {
		return f.unmarshal(data)
	}
	return encoding.GetCodecV2(protocodec.Name).Unmarshal(data, v)
}

// Field numbers of ringtrain.v1.Frame that data frames use.
const (
	fieldRingStep = 8
	fieldOffset   = 9
	fieldData     = 10
)

// dataPrefixSize is the size of a data frame's fields before its values:
// three tags of one byte, and the step, offset and length as varints padded
// to their maximum of 10 bytes. Protobuf decoders accept padded varints,
// and the fixed size lets each outgoing frame box its prefix buffer once.
const dataPrefixSize = 3 + 3*binary.MaxVarintLen64

// smallFrameCapacity is the capacity of a frame's copy of a small payload.
// It exceeds grpc's pooling threshold of 1 KiB (grpc-go 1.85,
// mem.IsBelowBufferPoolingThreshold) and holds the prefix and any payload
// below that threshold.
const smallFrameCapacity = 2 << 10

// outFrame is one data frame to send. Its storage belongs to the sending
// link and is used for one frame per collective, because grpc may read it
// after SendMsg returns.
type outFrame struct {
	step    int
	offset  int
	payload []byte // the values' little-endian bytes, not copied

	prefix    [dataPrefixSize]byte
	prefixBuf mem.Buffer // prefix, boxed once so that sending allocates nothing
	small     []byte     // storage for a payload below grpc's pooling threshold and its prefix
	buffers   [2]mem.Buffer
	data      []byte // the payload slice that buffers[1] wraps
	release   *releaseCounter
}

// marshal returns the frame's wire bytes: the encoded fields in prefix,
// then payload itself. grpc calls release.Put when it no longer reads
// payload.
func (f *outFrame) marshal() mem.BufferSlice {
	b := protowire.AppendTag(f.prefix[:0], fieldRingStep, protowire.VarintType)
	b = appendPaddedVarint(b, uint64(f.step))
	b = protowire.AppendTag(b, fieldOffset, protowire.VarintType)
	b = appendPaddedVarint(b, uint64(f.offset))
	b = protowire.AppendTag(b, fieldData, protowire.BytesType)
	b = appendPaddedVarint(b, uint64(len(f.payload)))

	// grpc reads f.buffers, not only the bytes, until it releases the
	// payload, so every frame must be tracked by release. mem.NewBuffer
	// tracks a slice only if its capacity is above grpc's pooling
	// threshold. A small payload is therefore copied with its prefix into
	// a slice of larger capacity.
	f.release.pending.Add(1)
	if mem.IsBelowBufferPoolingThreshold(len(f.payload)) {
		if f.small == nil {
			f.small = make([]byte, 0, smallFrameCapacity)
		}
		f.data = append(append(f.small[:0], b...), f.payload...)
		f.buffers[0] = mem.NewBuffer(&f.data, f.release)
		return f.buffers[:1]
	}
	f.data = f.payload[:len(f.payload):len(f.payload)]
	if f.prefixBuf == nil {
		f.prefixBuf = mem.SliceBuffer(f.prefix[:])
	}
	f.buffers[0] = f.prefixBuf
	f.buffers[1] = mem.NewBuffer(&f.data, f.release)
	return f.buffers[:2]
}

// appendPaddedVarint appends v as a varint of binary.MaxVarintLen64 bytes.
func appendPaddedVarint(b []byte, v uint64) []byte {
	for range binary.MaxVarintLen64 - 1 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// releaseCounter is the [mem.BufferPool] of the payloads that one link
// sends. grpc never takes a buffer from it, and returns each payload
// through Put once it has written or dropped the payload's bytes.
type releaseCounter struct {
	pending  atomic.Int64  // payloads handed to grpc and not yet returned
	released chan struct{} // signalled, capacity 1, when pending reaches 0
}

func newReleaseCounter() *releaseCounter {
	return &releaseCounter{released: make(chan struct{}, 1)}
}

// Get serves only the interface. grpc takes new buffers from the pool of
// its connection, and uses the pool of a buffer it was handed only to
// return that buffer.
func (r *releaseCounter) Get(length int) *[]byte {
	b := make([]byte, length)
	return &b
}

// Put records that grpc released a payload.
func (r *releaseCounter) Put(*[]byte) {
	if r.pending.Add(-1) == 0 {
		select {
		case r.released <- struct{}{}:
		default:
		}
	}
}

// inFrame is one message received on an Exchange stream. A data frame's
// values stay in grpc's buffers until [inFrame.free].
type inFrame struct {
	header *ringtrainpb.Frame // the whole message, for a header or an unusual encoding
	step   int
	offset int
	data   payload
}

// unmarshal reads a data frame in the order that [outFrame.marshal] writes
// it, without copying its values. Any other message, such as a header, is
// decoded as a whole into header.
func (f *inFrame) unmarshal(data mem.BufferSlice) error {
	var head [dataPrefixSize]byte
	n := copyPrefix(head[:], data)
	if step, offset, skip, length, ok := parseDataPrefix(head[:n]); ok && skip+length == data.Len() {
		*f = inFrame{step: int(step), offset: int(offset), data: keepPayload(data, skip, length)}
		return nil
	}

	msg := new(ringtrainpb.Frame)
	if err := proto.Unmarshal(data.Materialize(), msg); err != nil {
		return fmt.Errorf("allreduce: decode frame: %w", err)
	}
	*f = frameFromProto(msg)
	return nil
}

// frameFromProto returns msg as an inFrame whose values stay in msg.
func frameFromProto(msg *ringtrainpb.Frame) inFrame {
	return inFrame{header: msg, step: int(msg.GetRingStep()), offset: int(msg.GetOffset()),
		data: sliceBufferPayload(msg.GetData())}
}

// message returns the frame as a ringtrain.v1.Frame, for checks of the
// stream's first message. It copies a data frame's values.
func (f *inFrame) message() *ringtrainpb.Frame {
	if f.header != nil {
		return f.header
	}
	return &ringtrainpb.Frame{RingStep: uint32(f.step), Offset: uint64(f.offset), Data: f.data.materialize()}
}

// free releases the frame's buffers to grpc. A second free does nothing.
func (f *inFrame) free() {
	f.data.free()
}

// copyPrefix copies the first bytes of data into dst and returns how many.
func copyPrefix(dst []byte, data mem.BufferSlice) int {
	n := 0
	for _, b := range data {
		n += copy(dst[n:], b.ReadOnlyData())
		if n == len(dst) {
			break
		}
	}
	return n
}

// parseDataPrefix parses the fields ring_step, offset and the length of
// data, in this order, from the start of a message. skip is the number of
// bytes before the values.
func parseDataPrefix(b []byte) (step, offset uint64, skip, length int, ok bool) {
	fields := [...]struct {
		num protowire.Number
		typ protowire.Type
	}{{fieldRingStep, protowire.VarintType}, {fieldOffset, protowire.VarintType}, {fieldData, protowire.BytesType}}
	var values [3]uint64
	for i, field := range fields {
		num, typ, n := protowire.ConsumeTag(b[skip:])
		if n < 0 || num != field.num || typ != field.typ {
			return 0, 0, 0, 0, false
		}
		skip += n
		v, n := protowire.ConsumeVarint(b[skip:])
		if n < 0 {
			return 0, 0, 0, 0, false
		}
		skip += n
		values[i] = v
	}
	if values[2] > MaxFrameBytes {
		return 0, 0, 0, 0, false
	}
	return values[0], values[1], skip, int(values[2]), true
}

package allreduce

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// pieces cuts b into buffers of n bytes and a shorter last one, as grpc
// cuts a message at HTTP/2 frame boundaries.
func pieces(b []byte, n int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > n {
		out = append(out, mem.SliceBuffer(b[:n]))
		b = b[n:]
	}
	return append(out, mem.SliceBuffer(b))
}

func TestFrameCodecRoundTrip(t *testing.T) {
	t.Parallel()
	values := make([]float32, 3001)
	for i := range values {
		values[i] = float32(i) - 0.25
	}
	tests := []struct {
		name   string
		values []float32
		piece  int
	}{
		{"one buffer", values, 1 << 20},
		{"values span buffers", values, 7},
		{"below pooling threshold", values[:5], 3},
		{"empty", values[:0], 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := newReleaseCounter()
			out := &outFrame{step: 3, offset: 70000, payload: encodedFloat32s(tt.values), release: release}
			data, err := frameCodec{}.Marshal(out)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if n := release.pending.Load(); n != 1 {
				t.Errorf("%d payloads pending after Marshal, want 1", n)
			}
			wire := data.Materialize()
			data.Free()
			if n := release.pending.Load(); n != 0 {
				t.Errorf("%d payloads not released after Free, want 0", n)
			}

			// Any protobuf decoder reads the frame.
			var msg ringtrainpb.Frame
			if err := proto.Unmarshal(wire, &msg); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}
			want := &ringtrainpb.Frame{RingStep: 3, Offset: 70000, Data: encodedFloat32s(tt.values)}
			if diff := cmp.Diff(want, &msg, protocmp.Transform()); diff != "" {
				t.Errorf("decoded frame (-want +got):\n%s", diff)
			}

			var in inFrame
			if err := (frameCodec{}).Unmarshal(pieces(wire, tt.piece), &in); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			defer in.free()
			if in.step != 3 || in.offset != 70000 || in.header != nil {
				t.Errorf("Unmarshal = step %d offset %d header %v, want step 3 offset 70000 and no header",
					in.step, in.offset, in.header)
			}
			got := make([]float32, len(tt.values))
			applyPayload(got, &in.data, 4, loadFloat32, make([]byte, 4))
			if diff := cmp.Diff(tt.values, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFrameCodecHeader(t *testing.T) {
	t.Parallel()
	header := &ringtrainpb.Frame{Generation: 4, Sequence: 9, SenderRank: 1, RingSize: 3, Length: 10,
		FrameElements: 5, Element: "float32"}
	data, err := frameCodec{}.Marshal(header)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var in inFrame
	if err := (frameCodec{}).Unmarshal(pieces(data.Materialize(), 5), &in); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if diff := cmp.Diff(header, in.message(), protocmp.Transform()); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
}

func TestApplyPayloadAddsAcrossBuffers(t *testing.T) {
	t.Parallel()
	src := []int64{1, -2, 1 << 40, 7}
	wire := make([]byte, 3+8*len(src))
	encodeInt64(wire[3:], src)
	p := keepPayload(pieces(wire, 5), 3, 8*len(src))
	defer p.free()
	got := []int64{10, 10, 10, 10}
	applyPayload(got, &p, 8, addInt64, make([]byte, 8))
	want := []int64{11, 8, 1<<40 + 10, 17}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sums (-want +got):\n%s", diff)
	}
}

func encodedFloat32s(values []float32) []byte {
	b := make([]byte, 4*len(values))
	encodeFloat32(b, values)
	return b
}

// Package allreduce sums vectors over the members of a training cluster with
// a ring all-reduce over gRPC streams: reduce-scatter, then all-gather.
//
// # Overview
//
// Every member runs a [Service], registers it on its gRPC server and
// installs the membership view with [Service.SetView]. A collective starts
// when each member calls [Service.AllReduceFloat32] or
// [Service.AllReduceInt64] with the same sequence number and a vector of the
// same length. The call returns when the member's vector holds the sum of
// all members' vectors. Rank r streams to rank r+1 mod N and receives from
// rank r-1 mod N, so each member sends and receives 2(N-1)/N times the
// vector size, whatever the ring size.
//
// The schedule in ring.go works against a small transport interface. The
// gRPC code in grpc.go and exchange.go implements that interface and holds
// no part of the algorithm.
//
// # Protocol
//
// The vector of length L is cut into N segments with the same bounds on
// every member: segment j is [floor(j*L/N), floor((j+1)*L/N)), so segment
// sizes differ by at most one and some are empty when L < N. Each segment
// is cut into frames of at most Config.FrameElements values, and a frame
// carries its values as raw little-endian bytes.
//
// There are 2(N-1) ring steps. At step k rank r sends segment (r-k) mod N
// to rank r+1 and receives segment (r-k-1) mod N from rank r-1. During the
// first N-1 steps, the reduce-scatter, a member adds the received values to
// its own. After them each member holds the complete sum of one segment.
// During the last N-1 steps, the all-gather, a member overwrites its values
// with the received ones. The segment that a member sends at step k+1 is
// the one it received at step k, so the steps overlap at frame granularity:
// a frame is passed on as soon as it has been applied.
//
// Each collective uses one Exchange stream per ring edge. The stream starts
// with a header that carries the generation, sequence number, sender rank,
// ring size, length, frame size and element type, and no data. The
// receiving member checks the header against its own call before it
// applies any value. Data frames follow in schedule order, each naming its
// step and offset. The receiving handler buffers frames as they arrive, also
// before the local call has started, so that no member's sending waits for
// a slower member.
//
// The frames travel without copies in this package. On little-endian
// machines the sender's gRPC codec for Exchange streams hands grpc the
// vector's own memory as a frame's data. The receiving handler keeps grpc's
// receive buffers in the inbox, and the call adds or copies values straight
// from them. grpc reads a sent region after SendMsg
// returns. That is safe because a member rewrites a region only after the
// next rank has received it (ring.go gives the argument), and a call
// returns only after grpc has released every frame it sent. The wire bytes
// are those of an ordinary ringtrain.v1.Frame, and the handler also serves
// streams encoded with grpc's proto codec. Servers of the Ring service
// should be created with [ServerOptions], whose fixed flow-control windows
// let a sender run ahead of the receiver's summing.
//
// The frames' own storage is reused from call to call, so the
// allocations left per collective are a few per call for its stream and
// inbox, and grpc's own, which are several per message and per 16 KiB
// HTTP/2 frame.
//
// Every view has a generation. A member rejects a stream of any other
// generation with codes.FailedPrecondition, which the sender reports as
// [ErrStaleGeneration], so a member that was cut off from the ring cannot
// inject values into a newer view.
//
// Within a generation, sequence numbers increase. Once a sequence has
// completed, calls and streams of lower sequences are rejected, and frames
// buffered for them are dropped.
//
// # Failure
//
// Every call takes a context, and a collective never outlives its deadline.
// A member that dies fails its neighbours as soon as gRPC notices the
// broken connection. A member that stays alive but never takes part makes
// the others fail with context.DeadlineExceeded when the deadline passes.
// When a call fails, its handler ends the previous rank's stream and the
// call cancels its own stream, so the failure spreads around the ring in
// both directions. A stream that arrives after its collective has ended on
// the receiving member is rejected at once. A header whose layout differs
// fails both sides with a [LayoutError] that names both layouts. [Service.SetView] fails the calls
// of the old view with ErrStaleGeneration, and [Service.Close] fails them
// with [ErrStopped]. After any failure the contents of the vector are
// undefined, and the caller starts over with the committed state.
//
// # Numerics
//
// Every value of the result is computed once, by the member that completes
// its segment's reduce-scatter, and then copied to the others, so the
// result is bit-identical on every member. The order of a float32 sum is
// fixed per element: segment j starts with rank j's value and adds the
// values of ranks j+1, j+2, ... up to j-1 mod N in ring order. The same
// view and the same inputs always give the same bits. Another ring size
// rounds differently. Integer sums are exact modulo 2^64 and do not depend
// on the order. The trainer's exact mode relies on that to make the result
// independent of the number of members, and it bounds its fixed-point
// summands so that no sum wraps around.
//
// The benchmarks run all members of a ring in one process over loopback
// gRPC, so they measure the protocol and encoding cost, not a network.
package allreduce

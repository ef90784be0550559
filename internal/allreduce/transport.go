package allreduce

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
)

// HTTP/2 flow-control windows and socket buffer sizes of the ring's
// connections. Both ends set them: the receiver's windows bound how far the
// sender may run ahead, and the buffers bound the bytes per read and write
// system call.
const (
	// streamWindow lets a sender run up to 16 MiB ahead of the receiving
	// handler on one stream, so a frame is in flight while the previous
	// one is being summed. A fixed window turns off grpc's window
	// estimation, which starts at 64 KiB and grows only after round trips.
	streamWindow = 16 << 20
	// connWindow covers the streams of two collectives in flight at once.
	connWindow = 2 * streamWindow
	// socketBuffer is the size of grpc's read and write buffers per
	// connection, so that one system call moves many 16 KiB HTTP/2 frames.
	socketBuffer = 1 << 20
)

// ServerOptions returns the options that a gRPC server serving the Ring
// service should be created with: large flow-control windows and buffers,
// and a receive buffer pool that does not clear buffers. The pool serves
// the server's other services too, which is safe because grpc overwrites
// a buffer before reading it.
// Without them the service works, but each stream starts with a 64 KiB
// window, and large vectors move at a fraction of the loopback bandwidth.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(connWindow),
		grpc.ReadBufferSize(socketBuffer),
		grpc.WriteBufferSize(socketBuffer),
		experimental.BufferPool(ringBufferPool),
	}
}

// transportDialOptions returns the client side of [ServerOptions].
func transportDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithReadBufferSize(socketBuffer),
		grpc.WithWriteBufferSize(socketBuffer),
		experimental.WithBufferPool(ringBufferPool),
	}
}

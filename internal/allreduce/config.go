package allreduce

import (
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
)

// DefaultFrameElements is the default number of values per frame. For
// float32 values it makes frames of 256 KiB.
const DefaultFrameElements = 65536

// MaxFrameBytes is the maximum payload of one frame: half of gRPC's default
// 4 MiB message limit, which leaves room for the message's other fields.
const MaxFrameBytes = 2 << 20

// maxElementSize is the size in bytes of the widest element type, int64.
const maxElementSize = 8

// Config is the configuration of a [Service].
type Config struct {
	// FrameElements is the number of values per frame. Zero means
	// [DefaultFrameElements]. A frame of int64 values must fit in
	// [MaxFrameBytes], so the maximum is 262144. Every member of a ring must
	// use the same value, or the collective fails with a [LayoutError].
	FrameElements int

	// DialOptions are appended to the options for dialling the next rank.
	// They come after the default insecure transport credentials, so a
	// credentials option here replaces those. Use them for TLS and for HTTP/2
	// window sizes.
	//
	// NOTE: a sent frame's data is the caller's vector itself, which
	// changes once the call returns, so a stats handler given here must
	// not keep sent messages.
	DialOptions []grpc.DialOption

	// Logger receives the service's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{FrameElements: DefaultFrameElements}
}

// validate returns c with zero fields set to their defaults, or an error
// that names the invalid field.
func (c Config) validate() (Config, error) {
	if c.FrameElements == 0 {
		c.FrameElements = DefaultFrameElements
	}
	if c.FrameElements < 0 {
		return c, fmt.Errorf("allreduce: invalid FrameElements %d: must be positive, or zero for the default %d",
			c.FrameElements, DefaultFrameElements)
	}
	if c.FrameElements > MaxFrameBytes/maxElementSize {
		return c, fmt.Errorf("allreduce: FrameElements %d is too large: a frame of int64 values would take %d bytes, over the maximum of %d; use at most %d",
			c.FrameElements, c.FrameElements*maxElementSize, MaxFrameBytes, MaxFrameBytes/maxElementSize)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

package allreduce

import (
	"errors"
	"fmt"
)

// ErrStaleGeneration reports that a collective belongs to a membership view
// that is no longer current: this service installed a newer view while the
// call ran, or the next rank holds another generation and rejected the
// stream.
var ErrStaleGeneration = errors.New("allreduce: stale generation")

// ErrStopped reports that the service was closed.
var ErrStopped = errors.New("allreduce: service stopped")

// Layout is the shape of one member's collective. The two ends of a stream
// must have the same layout before any value moves.
type Layout struct {
	RingSize      int
	Length        int    // values in the vector
	FrameElements int    // values per frame
	Element       string // "float32" or "int64"
}

// describe formats l as "length 85170 frame 65536", followed by the element
// type and the ring size for a layout that differs in them from other.
func (l Layout) describe(other Layout) string {
	s := fmt.Sprintf("length %d frame %d", l.Length, l.FrameElements)
	if l.Element != other.Element {
		s += " element " + l.Element
	}
	if l.RingSize != other.RingSize {
		s += fmt.Sprintf(" ring %d", l.RingSize)
	}
	return s
}

// LayoutError reports that a neighbour's collective has another layout than
// the local one, which usually means that the members run different models
// or configurations. Both sides of the stream fail with it.
type LayoutError struct {
	Rank   int    // rank of the neighbour
	Local  Layout // layout of this member's call
	Remote Layout // layout of the neighbour's call
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("allreduce: layout mismatch with rank %d: local %s, remote %s",
		e.Rank, e.Local.describe(e.Remote), e.Remote.describe(e.Local))
}

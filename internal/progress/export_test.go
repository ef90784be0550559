package progress

import (
	"io"
	"time"
)

// NewWithClock is New with a clock that the test controls.
func NewWithClock(w io.Writer, enabled bool, now func() time.Time) *Bar {
	return newBar(w, enabled, now)
}

// Package progress draws a one-line progress bar per training epoch on a
// terminal: samples done of the epoch's total, the rate, the time left and
// the running loss, redrawn in place with a carriage return.
package progress

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// redrawInterval is the minimum time between two redraws from Update,
// about ten a second, which looks live and costs nothing per step.
const redrawInterval = 100 * time.Millisecond

// barWidth is the number of cells of the bar itself. The whole line stays
// under 80 columns for epochs of up to a million samples, so that a
// terminal does not wrap it and break the redraw in place.
const barWidth = 20

// Bar draws the progress of one epoch at a time on one terminal line.
// Call Start at the beginning of an epoch, Update after each step and
// Finish at its end. A Bar made with enabled false, or a nil *Bar, draws
// nothing, so callers need no checks of their own. Write errors are
// ignored, because the bar is cosmetic. A Bar is safe for concurrent use.
type Bar struct {
	w       io.Writer
	enabled bool
	now     func() time.Time

	// mu guards the fields below.
	mu             sync.Mutex
	epoch, epochs  int
	total, done    int
	loss           float64
	hasLoss        bool
	started, drawn time.Time
	open           bool // a line is drawn and not yet ended
	width          int  // length of the last line drawn, to blank its rest
}

// New returns a bar that draws on w, or draws nothing when enabled is
// false. Pass [IsTerminal] of the output file as enabled, and log the
// epochs instead when it is false, because carriage returns garble log
// files.
func New(w io.Writer, enabled bool) *Bar {
	return newBar(w, enabled, time.Now)
}

func newBar(w io.Writer, enabled bool, now func() time.Time) *Bar {
	return &Bar{w: w, enabled: enabled && w != nil, now: now}
}

// Start begins the line of epoch (1-based) of epochs, which uses total
// samples, and draws it at zero. A line still open from an earlier epoch
// is ended first.
func (b *Bar) Start(epoch, epochs, total int) {
	if b == nil || !b.enabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open {
		io.WriteString(b.w, "\n")
	}
	t := b.now()
	b.epoch, b.epochs, b.total = epoch, epochs, total
	b.done, b.loss, b.hasLoss = 0, 0, false
	b.started, b.drawn = t, t
	b.open, b.width = true, 0
	b.draw(b.line(t, false))
}

// Update records that done samples of the epoch are finished and that the
// running loss is loss, such as the mean loss over the epoch's steps so
// far. It redraws the line at most once per 100 milliseconds, so it is
// cheap enough to call after every step. Calls before Start or after
// Finish are ignored.
func (b *Bar) Update(done int, loss float64) {
	if b == nil || !b.enabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return
	}
	b.done, b.loss, b.hasLoss = done, loss, true
	if t := b.now(); t.Sub(b.drawn) >= redrawInterval {
		b.drawn = t
		b.draw(b.line(t, false))
	}
}

// Finish draws the last state of the epoch, with the time it took in
// place of the time left, and ends the line. A second call does nothing.
func (b *Bar) Finish() {
	if b == nil || !b.enabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return
	}
	b.draw(b.line(b.now(), true))
	io.WriteString(b.w, "\n")
	b.open = false
}

// draw writes line over the previous one, padding with spaces where the
// previous line was longer.
func (b *Bar) draw(line string) {
	pad := max(0, b.width-len(line))
	io.WriteString(b.w, "\r"+line+strings.Repeat(" ", pad))
	b.width = len(line)
}

// line renders the bar, for example
// "epoch 2/10 [=====>              ] 15360/60000 4210/s 0:10 left loss 0.1502".
func (b *Bar) line(t time.Time, finished bool) string {
	elapsed := t.Sub(b.started).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.done) / elapsed
	}

	var timing string
	switch {
	case finished:
		timing = "in " + formatDuration(elapsed)
	case rate > 0:
		timing = formatDuration(float64(max(0, b.total-b.done))/rate) + " left"
	default:
		timing = "--:-- left"
	}
	loss := "-"
	if b.hasLoss {
		loss = fmt.Sprintf("%.4f", b.loss)
	}
	return fmt.Sprintf("epoch %d/%d [%s] %d/%d %s %s loss %s",
		b.epoch, b.epochs, bar(b.done, b.total), b.done, b.total, formatRate(rate), timing, loss)
}

// bar returns barWidth cells filled in proportion to done of total.
func bar(done, total int) string {
	filled := barWidth
	if total > 0 && done < total {
		filled = barWidth * max(0, done) / total
	}
	if filled >= barWidth {
		return strings.Repeat("=", barWidth)
	}
	return strings.Repeat("=", filled) + ">" + strings.Repeat(" ", barWidth-filled-1)
}

// formatRate renders samples per second: "850/s", "4210/s", "83.1k/s".
func formatRate(perSecond float64) string {
	if perSecond >= 10000 {
		return fmt.Sprintf("%.1fk/s", perSecond/1000)
	}
	return fmt.Sprintf("%.0f/s", perSecond)
}

// formatDuration renders seconds as m:ss, or h:mm:ss from an hour on.
func formatDuration(seconds float64) string {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds > 1e8 {
		return "--:--"
	}
	s := int(math.Round(seconds))
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// IsTerminal reports whether f is a terminal, where a progress bar can
// redraw its line. A nil f is not a terminal.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

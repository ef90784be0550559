package dataset

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// redrawInterval limits how often a progress bar is redrawn.
const redrawInterval = 200 * time.Millisecond

// progressBar is an io.Writer that counts the bytes written through it and
// redraws one terminal line with the count, the percentage and the rate.
// Errors from the output writer are ignored, because the bar is cosmetic.
type progressBar struct {
	w     io.Writer
	label string
	total int64 // -1 when the length is unknown
	done  int64
	start time.Time
	drawn time.Time // time of the last redraw
	now   func() time.Time
}

// progress returns a bar for one download, or nil when Options.Progress is
// nil.
func (l *loader) progress(label string, total int64) *progressBar {
	if l.opt.Progress == nil {
		return nil
	}
	return newProgressBar(l.opt.Progress, label, total, time.Now)
}

func newProgressBar(w io.Writer, label string, total int64, now func() time.Time) *progressBar {
	start := now()
	return &progressBar{w: w, label: label, total: total, start: start, drawn: start, now: now}
}

func (b *progressBar) Write(p []byte) (int, error) {
	b.done += int64(len(p))
	if t := b.now(); t.Sub(b.drawn) >= redrawInterval {
		b.drawn = t
		io.WriteString(b.w, b.line(t))
	}
	return len(p), nil
}

// finish draws the final state and ends the line.
func (b *progressBar) finish() {
	io.WriteString(b.w, b.line(b.now())+"\n")
}

// line renders the bar as a carriage return followed by, for example,
// "train-images-idx3-ubyte.gz [=====>              ]  2.5 MiB / 9.5 MiB  26%  1.2 MiB/s".
func (b *progressBar) line(t time.Time) string {
	var rate float64
	if elapsed := t.Sub(b.start).Seconds(); elapsed > 0 {
		rate = float64(b.done) / elapsed
	}
	if b.total <= 0 {
		return fmt.Sprintf("\r%s %s  %s/s   ", b.label, formatBytes(float64(b.done)), formatBytes(rate))
	}

	const width = 20
	percent := min(100, int(100*b.done/b.total))
	filled := width * percent / 100
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("\r%s [%s] %s / %s %3d%%  %s/s   ", b.label, bar,
		formatBytes(float64(b.done)), formatBytes(float64(b.total)), percent, formatBytes(rate))
}

// formatBytes renders a byte count with a binary unit: "512 B", "9.5 MiB".
func formatBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	suffixes := []string{"KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n /= unit; n >= unit && i < len(suffixes)-1; i++ {
		n /= unit
	}
	return fmt.Sprintf("%.1f %s", n, suffixes[i])
}

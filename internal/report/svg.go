package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// svgWriter writes SVG markup and keeps the first write error, so drawing
// code can issue many writes and check once at the end.
type svgWriter struct {
	w   io.Writer
	err error
}

func (s *svgWriter) printf(format string, args ...any) {
	if s.err != nil {
		return
	}
	_, s.err = fmt.Fprintf(s.w, format, args...)
}

// open writes the root element of a width×height image with a white
// background.
func (s *svgWriter) open(width, height int) {
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	s.printf(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
}

func (s *svgWriter) close() { s.printf("</svg>\n") }

// text writes a text element anchored at (x, y). anchor is start, middle or
// end. A non-zero rotate turns the text by that many degrees around (x, y).
func (s *svgWriter) text(x, y float64, anchor string, rotate float64, attrs, content string) {
	transform := ""
	if rotate != 0 {
		transform = fmt.Sprintf(` transform="rotate(%s %s %s)"`, num(rotate), num(x), num(y))
	}
	if attrs != "" {
		attrs = " " + attrs
	}
	s.printf(`<text x="%s" y="%s" text-anchor="%s"%s%s>%s</text>`+"\n",
		num(x), num(y), anchor, transform, attrs, escape(content))
}

func (s *svgWriter) line(x1, y1, x2, y2 float64, attrs string) {
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" %s/>`+"\n", num(x1), num(y1), num(x2), num(y2), attrs)
}

// num formats a coordinate with at most two decimals, so that output is
// compact and the same on every platform.
func num(v float64) string {
	// Adding 0 turns a negative zero from rounding into a positive one.
	return strconv.FormatFloat(math.Round(v*100)/100+0, 'f', -1, 64)
}

// escape returns s with the characters that XML reserves escaped.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// linearScale maps the interval [lo, hi] of data values onto [from, to] in
// pixels. from may exceed to, as for a y axis that grows upwards.
type linearScale struct {
	lo, hi, from, to float64
}

func (l linearScale) at(v float64) float64 {
	if l.hi == l.lo {
		return (l.from + l.to) / 2
	}
	return l.from + (v-l.lo)/(l.hi-l.lo)*(l.to-l.from)
}

// niceStep returns a tick step that cuts span into about n intervals: 1, 2
// or 5 times a power of ten. It also returns the number of decimals that
// print every multiple of the step exactly. span must be positive.
func niceStep(span float64, n int) (step float64, decimals int) {
	raw := span / float64(n)
	exp := math.Floor(math.Log10(raw))
	switch f := raw / math.Pow(10, exp); {
	case f <= 1:
		step = 1
	case f <= 2:
		step = 2
	case f <= 5:
		step = 5
	default:
		step, exp = 1, exp+1
	}
	return step * math.Pow(10, exp), max(0, int(-exp))
}

// axis is a value range with the ticks to label on it.
type axis struct {
	lo, hi   float64
	ticks    []float64
	decimals int
}

// niceAxis returns an axis that covers [lo, hi], extended outwards to the
// nearest multiples of a nice step, with a tick at each multiple. A range
// of zero width is widened first.
func niceAxis(lo, hi float64, n int) axis {
	if hi <= lo {
		pad := math.Max(math.Abs(lo)*0.05, 0.5)
		lo, hi = lo-pad, hi+pad
	}
	step, decimals := niceStep(hi-lo, n)
	first, last := math.Floor(lo/step), math.Ceil(hi/step)
	a := axis{lo: first * step, hi: last * step, decimals: decimals}
	for i := first; i <= last; i++ {
		a.ticks = append(a.ticks, i*step)
	}
	return a
}

// clamp limits a to [lo, hi] and drops the ticks outside it.
func (a axis) clamp(lo, hi float64) axis {
	a.lo, a.hi = math.Max(a.lo, lo), math.Min(a.hi, hi)
	var kept []float64
	for _, t := range a.ticks {
		// The tolerance keeps a tick such as 1.0000000000000002 at the bound.
		if t >= a.lo-1e-9 && t <= a.hi+1e-9 {
			kept = append(kept, t)
		}
	}
	a.ticks = kept
	return a
}

// label formats a tick value with the axis's decimals.
func (a axis) label(v float64) string {
	return strconv.FormatFloat(v+0, 'f', a.decimals, 64)
}

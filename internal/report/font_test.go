package report

import (
	"image"
	"image/color"
	"slices"
	"testing"
)

func TestGlyphsFitWidth(t *testing.T) {
	t.Parallel()
	for r, rows := range glyphs {
		for i, bits := range rows {
			if bits >= 1<<glyphWidth {
				t.Errorf("glyph %q row %d = %05b, wider than %d pixels", r, i, bits, glyphWidth)
			}
		}
	}
}

func TestGlyphFallbacks(t *testing.T) {
	t.Parallel()
	if glyph('a') != glyphs['A'] {
		t.Error("glyph('a') differs from the capital A")
	}
	if glyph('é') != glyphs['?'] {
		t.Error("glyph('é') is not the question mark")
	}
}

// setPixels returns the coordinates of the non-white pixels of img.
func setPixels(img *image.RGBA) []image.Point {
	var points []image.Point
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.RGBAAt(x, y) != (color.RGBA{}) {
				points = append(points, image.Pt(x, y))
			}
		}
	}
	return points
}

func TestDrawTextVerticalIsQuarterTurn(t *testing.T) {
	t.Parallel()
	black := color.RGBA{0, 0, 0, 255}
	horizontal := image.NewRGBA(image.Rect(0, 0, 40, 40))
	drawText(horizontal, 0, 0, "L7", 1, black, false)
	vertical := image.NewRGBA(image.Rect(0, 0, 40, 40))
	drawText(vertical, 0, 40, "L7", 1, black, true)

	// Turning anticlockwise about the bottom edge at y = 40 maps the pixel
	// at (u, v) of the horizontal text to (v, 39-u) of the vertical text.
	var want []image.Point
	for _, p := range setPixels(horizontal) {
		want = append(want, image.Pt(p.Y, 39-p.X))
	}
	got := setPixels(vertical)
	order := func(a, b image.Point) int {
		if a.Y != b.Y {
			return a.Y - b.Y
		}
		return a.X - b.X
	}
	slices.SortFunc(want, order)
	slices.SortFunc(got, order)
	if !slices.Equal(want, got) {
		t.Errorf("vertical pixels = %v, want %v", got, want)
	}
	if len(got) == 0 {
		t.Error("drawText drew nothing")
	}
}

func TestTextWidth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s     string
		scale int
		want  int
	}{
		{"", 2, 0}, {"a", 1, 5}, {"ab", 1, 11}, {"ab", 2, 22}, {"é", 1, 5},
	}
	for _, tt := range tests {
		if got := textWidth(tt.s, tt.scale); got != tt.want {
			t.Errorf("textWidth(%q, %d) = %d, want %d", tt.s, tt.scale, got, tt.want)
		}
	}
}

package report

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
)

// confusionLayout places the parts of a confusion matrix image, in pixels:
// the captions, then the column labels above the grid and the row labels
// to its left, then the grid of cells. Column labels are written across
// when every label fits the width of a cell, and upwards otherwise.
type confusionLayout struct {
	n                 int
	cell              int
	upright           bool // column labels are written upwards
	gridLeft, gridTop int
	width, height     int
}

const (
	confusionMargin  = 12
	confusionCaption = 24 // room for the caption above and left of the labels
)

// Captions of the columns and the rows. The column caption is the longer.
const (
	predictedCaption = "predicted class"
	trueCaption      = "true class"
)

// newConfusionLayout sizes an image for n classes whose longest label is
// labelWidth pixels wide and textHeight pixels high, whose largest count
// is countWidth pixels wide and whose longer caption, centred on the grid,
// is captionWidth pixels long.
func newConfusionLayout(n, labelWidth, textHeight, countWidth, captionWidth, minCell int) confusionLayout {
	l := confusionLayout{n: n, cell: max(minCell, countWidth+12)}
	l.upright = labelWidth > l.cell-8
	columnLabels := textHeight
	if l.upright {
		columnLabels = labelWidth
	}
	l.gridLeft = confusionMargin + confusionCaption + labelWidth + 8
	l.gridTop = confusionMargin + confusionCaption + columnLabels + 8
	// A caption longer than the grid reaches past its right or bottom edge.
	gridSize := n * l.cell
	overhang := max(0, (captionWidth-gridSize+1)/2)
	l.width = l.gridLeft + gridSize + overhang + confusionMargin
	l.height = l.gridTop + gridSize + overhang + confusionMargin
	return l
}

// cellOrigin returns the top-left corner of the cell of true class t and
// predicted class p.
func (l confusionLayout) cellOrigin(t, p int) (x, y int) {
	return l.gridLeft + p*l.cell, l.gridTop + t*l.cell
}

// cellShade returns the fill of a cell holding count of a row that sums to
// rowTotal: white for none of the row, dark blue for all of it. It also
// reports whether text on it should be light to stay readable.
func cellShade(count, rowTotal int) (fill color.RGBA, lightText bool) {
	f := 0.0
	if rowTotal > 0 {
		f = float64(count) / float64(rowTotal)
	}
	mix := func(from, to uint8) uint8 { return uint8(float64(from) + f*(float64(to)-float64(from)) + 0.5) }
	return color.RGBA{mix(255, 8), mix(255, 48), mix(255, 107), 255}, f > 0.5
}

func rowTotals(matrix [][]int) []int {
	totals := make([]int, len(matrix))
	for t, row := range matrix {
		for _, count := range row {
			totals[t] += count
		}
	}
	return totals
}

func maxCountLabel(matrix [][]int) string {
	largest := 0
	for _, row := range matrix {
		for _, count := range row {
			largest = max(largest, count)
		}
	}
	return strconv.Itoa(largest)
}

// svgCharWidth estimates the advance of one character of 12-pixel
// sans-serif text, to size the label areas of an SVG image, and
// svgTextHeight the height of its capitals and digits.
const (
	svgCharWidth  = 7
	svgTextHeight = 9
)

// ConfusionSVG draws matrix as an SVG image: a grid with a row per true
// class and a column per predicted class. Each cell shows its count and is
// shaded by its share of the row, so the diagonal shows the recall of each
// class. Rows and columns are labelled by [ClassLabel]. Each cell is a rect
// of class "cell" with data-true, data-predicted and data-count
// attributes. classNames may be nil.
func ConfusionSVG(w io.Writer, matrix [][]int, classNames []string) error {
	if err := checkMatrix(matrix, classNames); err != nil {
		return err
	}
	labels := classLabels(classNames, len(matrix))
	longest := 0
	for _, label := range labels {
		longest = max(longest, len(label))
	}
	l := newConfusionLayout(len(matrix), longest*svgCharWidth, svgTextHeight, len(maxCountLabel(matrix))*svgCharWidth,
		len(predictedCaption)*svgCharWidth, 44)
	gridSize := float64(l.n * l.cell)
	half := float64(l.cell) / 2

	s := &svgWriter{w: w}
	s.open(l.width, l.height)
	s.text(float64(l.gridLeft)+gridSize/2, confusionMargin+14, "middle", 0, `font-weight="bold"`, predictedCaption)
	s.text(confusionMargin+14, float64(l.gridTop)+gridSize/2, "middle", -90, `font-weight="bold"`, trueCaption)
	for c, label := range labels {
		x, y := l.cellOrigin(c, c)
		if l.upright {
			s.text(float64(x)+half+4, float64(l.gridTop-6), "start", -90, "", label)
		} else {
			s.text(float64(x)+half, float64(l.gridTop-6), "middle", 0, "", label)
		}
		s.text(float64(l.gridLeft-6), float64(y)+half+4, "end", 0, "", label)
	}
	totals := rowTotals(matrix)
	for t, row := range matrix {
		for p, count := range row {
			x, y := l.cellOrigin(t, p)
			fill, light := cellShade(count, totals[t])
			textFill := "#000000"
			if light {
				textFill = "#ffffff"
			}
			s.printf(`<rect class="cell" data-true="%d" data-predicted="%d" data-count="%d" x="%d" y="%d" width="%d" height="%d" fill="#%02x%02x%02x" stroke="#cccccc"/>`+"\n",
				t, p, count, x, y, l.cell, l.cell, fill.R, fill.G, fill.B)
			s.text(float64(x)+half, float64(y)+half+4, "middle", 0, `fill="`+textFill+`"`, strconv.Itoa(count))
		}
	}
	s.close()
	if s.err != nil {
		return fmt.Errorf("report: write confusion SVG: %w", s.err)
	}
	return nil
}

// pngTextScale is the size in pixels of one pixel of the bitmap font in
// PNG images.
const pngTextScale = 2

// ConfusionPNG draws matrix as a PNG image with the layout and shading of
// [ConfusionSVG]. Labels use a built-in bitmap font that has capital
// letters, digits and a few punctuation marks, so names are drawn in
// capitals and other characters as question marks. classNames may be nil.
func ConfusionPNG(w io.Writer, matrix [][]int, classNames []string) error {
	if err := checkMatrix(matrix, classNames); err != nil {
		return err
	}
	const scale = pngTextScale
	labels := classLabels(classNames, len(matrix))
	longest := 0
	for _, label := range labels {
		longest = max(longest, textWidth(label, scale))
	}
	glyphPixels := glyphHeight * scale
	l := newConfusionLayout(len(matrix), longest, glyphPixels, textWidth(maxCountLabel(matrix), scale),
		textWidth(predictedCaption, scale), 40)
	gridSize := l.n * l.cell

	img := image.NewRGBA(image.Rect(0, 0, l.width, l.height))
	white, black := color.RGBA{255, 255, 255, 255}, color.RGBA{0, 0, 0, 255}
	fillRect(img, 0, 0, l.width, l.height, white)

	drawText(img, l.gridLeft+(gridSize-textWidth(predictedCaption, scale))/2, confusionMargin, predictedCaption, scale, black, false)
	drawText(img, confusionMargin, l.gridTop+(gridSize+textWidth(trueCaption, scale))/2, trueCaption, scale, black, true)
	for c, label := range labels {
		x, y := l.cellOrigin(c, c)
		if l.upright {
			drawText(img, x+(l.cell-glyphPixels)/2, l.gridTop-6, label, scale, black, true)
		} else {
			drawText(img, x+(l.cell-textWidth(label, scale))/2, l.gridTop-6-glyphPixels, label, scale, black, false)
		}
		drawText(img, l.gridLeft-6-textWidth(label, scale), y+(l.cell-glyphPixels)/2, label, scale, black, false)
	}

	totals := rowTotals(matrix)
	grid := color.RGBA{0xcc, 0xcc, 0xcc, 255}
	for t, row := range matrix {
		for p, count := range row {
			x, y := l.cellOrigin(t, p)
			fill, light := cellShade(count, totals[t])
			fillRect(img, x, y, l.cell, l.cell, grid)
			fillRect(img, x+1, y+1, l.cell-1, l.cell-1, fill)
			textColour := black
			if light {
				textColour = white
			}
			label := strconv.Itoa(count)
			drawText(img, x+(l.cell-textWidth(label, scale))/2, y+(l.cell-glyphPixels)/2, label, scale, textColour, false)
		}
	}
	// Close the grid on the right and at the bottom.
	fillRect(img, l.gridLeft, l.gridTop+gridSize, gridSize+1, 1, grid)
	fillRect(img, l.gridLeft+gridSize, l.gridTop, 1, gridSize+1, grid)

	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("report: write confusion PNG: %w", err)
	}
	return nil
}

package report

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Layout of the learning-curves chart, in pixels: two panels side by side
// under a title and a legend.
const (
	curvesWidth  = 960
	curvesHeight = 420
	panelWidth   = curvesWidth / 2
	plotTop      = 70  // top of both plot areas
	plotBottom   = 360 // bottom of both plot areas, where the x axis runs
	plotLeft     = 70  // from the left edge of a panel to its plot area
	plotRight    = 20  // from the right edge of the plot area to the panel's
)

// Colours of the two series, which the legend explains.
const (
	trainColour = "#1f77b4"
	testColour  = "#ff7f0e"
)

// curve is one series of a panel: a value per epoch.
type curve struct {
	id     string // data-series attribute of its points, such as "train-loss"
	colour string
	dashed bool
	values []float64
}

// CurvesSVG draws the learning curves of rows as an SVG image: a loss panel
// and an accuracy panel, each with the train and the test series against
// the epoch, labelled axes, and a legend under title. Every finite value is
// a circle of class "point" whose data-series attribute names its series
// (train-loss, test-loss, train-accuracy, test-accuracy). NaN and infinite
// values are left out, and so are the train values of a row without train
// samples. The loss axis starts at 0 and the accuracy axis
// stays within [0, 1]. With no rows it draws empty panels.
func CurvesSVG(w io.Writer, rows []Epoch, title string) error {
	epochs := make([]float64, len(rows))
	var trainLoss, testLoss, trainAcc, testAcc []float64
	for i, r := range rows {
		epochs[i] = float64(r.Epoch)
		trainLoss = append(trainLoss, r.TrainLoss)
		testLoss = append(testLoss, r.TestLoss)
		trainAcc = append(trainAcc, r.TrainAccuracy)
		if !r.hasTrainValues() {
			trainLoss[i], trainAcc[i] = math.NaN(), math.NaN()
		}
		testAcc = append(testAcc, r.TestAccuracy)
	}
	x := epochAxis(epochs)
	loss := lossAxis(trainLoss, testLoss)
	accuracy := accuracyAxis(trainAcc, testAcc)

	s := &svgWriter{w: w}
	s.open(curvesWidth, curvesHeight)
	s.text(curvesWidth/2, 28, "middle", 0, `font-size="16" font-weight="bold"`, title)
	drawLegend(s)
	drawPanel(s, 0, "loss", epochs, x, loss, []curve{
		{id: "train-loss", colour: trainColour, values: trainLoss},
		{id: "test-loss", colour: testColour, dashed: true, values: testLoss},
	})
	drawPanel(s, panelWidth, "accuracy", epochs, x, accuracy, []curve{
		{id: "train-accuracy", colour: trainColour, values: trainAcc},
		{id: "test-accuracy", colour: testColour, dashed: true, values: testAcc},
	})
	s.close()
	if s.err != nil {
		return fmt.Errorf("report: write curves SVG: %w", s.err)
	}
	return nil
}

// epochAxis spans the first to the last epoch with integer ticks.
func epochAxis(epochs []float64) axis {
	if len(epochs) == 0 {
		return axis{lo: 0, hi: 1, ticks: []float64{0, 1}}
	}
	lo, hi := epochs[0], epochs[0]
	for _, e := range epochs {
		lo, hi = math.Min(lo, e), math.Max(hi, e)
	}
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	step, _ := niceStep(hi-lo, 8)
	step = math.Max(1, step)
	a := axis{lo: lo, hi: hi}
	for t := math.Ceil(lo/step) * step; t <= hi; t += step {
		a.ticks = append(a.ticks, t)
	}
	return a
}

// lossAxis runs from 0 to above the largest finite loss.
func lossAxis(series ...[]float64) axis {
	hi := 0.0
	for _, values := range series {
		for _, v := range values {
			if isFinite(v) {
				hi = math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		hi = 1
	}
	return niceAxis(0, hi, 5)
}

// accuracyAxis covers the finite accuracies, within [0, 1].
func accuracyAxis(series ...[]float64) axis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, values := range series {
		for _, v := range values {
			if isFinite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo > hi {
		return niceAxis(0, 1, 5)
	}
	// A nearly flat curve still gets a readable span of ticks.
	if hi-lo < 0.01 {
		lo, hi = lo-0.005, hi+0.005
	}
	return niceAxis(lo, hi, 5).clamp(0, 1)
}

func drawLegend(s *svgWriter) {
	const y = 50
	x := float64(curvesWidth/2 - 80)
	for _, item := range []struct {
		name, colour string
		dashed       bool
	}{{"train", trainColour, false}, {"test", testColour, true}} {
		s.line(x, y, x+30, y, strokeAttrs(item.colour, item.dashed))
		s.printf(`<circle cx="%s" cy="%d" r="3" fill="%s"/>`+"\n", num(x+15), y, item.colour)
		s.text(x+36, y+4, "start", 0, "", item.name)
		x += 100
	}
}

// drawPanel draws one panel at horizontal offset left: grid, axes with
// ticks and labels, and the curves.
func drawPanel(s *svgWriter, left float64, yLabel string, epochs []float64, x, y axis, curves []curve) {
	x0, x1 := left+plotLeft, left+panelWidth-plotRight
	xs := linearScale{lo: x.lo, hi: x.hi, from: x0, to: x1}
	ys := linearScale{lo: y.lo, hi: y.hi, from: plotBottom, to: plotTop}

	s.printf(`<g class="panel" data-panel="%s">`+"\n", yLabel)
	for _, t := range y.ticks {
		py := ys.at(t)
		s.line(x0, py, x1, py, `stroke="#dddddd"`)
		s.text(x0-6, py+4, "end", 0, "", y.label(t))
	}
	for _, t := range x.ticks {
		px := xs.at(t)
		s.line(px, plotBottom, px, plotBottom+5, `stroke="#000000"`)
		s.text(px, plotBottom+19, "middle", 0, "", x.label(t))
	}
	s.printf(`<rect x="%s" y="%d" width="%s" height="%d" fill="none" stroke="#000000"/>`+"\n",
		num(x0), plotTop, num(x1-x0), plotBottom-plotTop)
	s.text((x0+x1)/2, plotBottom+40, "middle", 0, "", "epoch")
	s.text(left+18, (plotTop+plotBottom)/2, "middle", -90, "", yLabel)

	for _, c := range curves {
		drawCurve(s, c, epochs, xs, ys)
	}
	s.printf("</g>\n")
}

// drawCurve draws a polyline through the finite values of c and a point at
// each of them.
func drawCurve(s *svgWriter, c curve, epochs []float64, xs, ys linearScale) {
	var points []string
	for i, v := range c.values {
		if isFinite(v) {
			points = append(points, num(xs.at(epochs[i]))+","+num(ys.at(v)))
		}
	}
	if len(points) > 1 {
		s.printf(`<polyline points="%s" fill="none" %s/>`+"\n",
			strings.Join(points, " "), strokeAttrs(c.colour, c.dashed))
	}
	for i, v := range c.values {
		if isFinite(v) {
			s.printf(`<circle class="point" data-series="%s" data-epoch="%s" cx="%s" cy="%s" r="3" fill="%s"/>`+"\n",
				c.id, num(epochs[i]), num(xs.at(epochs[i])), num(ys.at(v)), c.colour)
		}
	}
}

func strokeAttrs(colour string, dashed bool) string {
	attrs := fmt.Sprintf(`stroke="%s" stroke-width="2"`, colour)
	if dashed {
		attrs += ` stroke-dasharray="6 4"`
	}
	return attrs
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

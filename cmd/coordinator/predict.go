package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ringtrain/ringtrain/internal/nn"
)

const predictSynopsis = `Usage: coordinator predict --model FILE [--top K] IMAGE.png...

Classifies PNG images with a model file written by --output and prints, for
each image, the K most probable classes with their softmax probabilities.
Flags come before the images, and no flag is read from the environment.

Each image must have the model's size: 28x28 pixels for MNIST, 32x32 for
CIFAR-10. For a one-channel model such as MNIST's, colour images are
converted to gray with the ITU-R BT.601 luma weights
(0.299 R + 0.587 G + 0.114 B); for a three-channel model such as
CIFAR-10's, gray images are copied into all three channels. Transparent
pixels count as black. The pixels then get the normalisation stored in the
model file, as in training.`

// predictOptions are the command line of coordinator predict.
type predictOptions struct {
	model  string
	top    int
	images []string
}

func parsePredictFlags(args []string, stderr io.Writer) (*predictOptions, error) {
	o := &predictOptions{}
	fs := flag.NewFlagSet("coordinator predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "", "model `file` to classify with (required)")
	fs.IntVar(&o.top, "top", 3, "print the `K` most probable classes of each image")
	fs.Usage = subcommandUsage(fs, predictSynopsis, nil)

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.images = fs.Args()
	if o.model == "" {
		return nil, errors.New("predict: missing --model: pass the model file that training wrote with --output")
	}
	if o.top < 1 {
		return nil, fmt.Errorf("predict: invalid --top %d: want 1 or more", o.top)
	}
	if len(o.images) == 0 {
		return nil, errors.New("predict: no images: pass one or more PNG files after the flags")
	}
	for _, arg := range o.images {
		if strings.HasPrefix(arg, "-") {
			return nil, fmt.Errorf("predict: flag %q after the images: put every flag before the first image, or write a file name that starts with - as ./%s", arg, arg)
		}
	}
	return o, nil
}

// predict runs coordinator predict: it prints the most probable classes of
// each image to stdout.
func predict(args []string, stdout, stderr io.Writer) error {
	opts, err := parsePredictFlags(args, stderr)
	if err != nil {
		return err
	}
	model, err := loadModel(opts.model)
	if err != nil {
		return err
	}
	// Every image is read before anything is printed, so a bad file stops
	// the command with no partial output.
	h := model.header
	dim := h.Channels * h.Height * h.Width
	pixels := make([]uint8, 0, len(opts.images)*dim)
	converted := make([]bool, len(opts.images))
	for i, path := range opts.images {
		p, gray, err := readImage(path, model)
		if err != nil {
			return err
		}
		pixels = append(pixels, p...)
		converted[i] = gray
	}

	probs := model.probabilities(pixels)
	k := min(opts.top, h.Classes)
	var b strings.Builder
	for i, path := range opts.images {
		b.WriteString(path)
		if converted[i] {
			b.WriteString(" (colour converted to gray)")
		}
		b.WriteString(":")
		row := probs[i*h.Classes : (i+1)*h.Classes]
		for j, c := range topClasses(row, k) {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %.4f", model.className(c), row[c])
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	return nil
}

// probabilities returns the softmax of the logits of every sample in
// pixels, which holds whole samples in the layout of dataset.Split.
func (m *trainedModel) probabilities(pixels []uint8) []float32 {
	h := m.header
	dim := h.Channels * h.Height * h.Width
	n := len(pixels) / dim
	probs := make([]float32, n*h.Classes)
	x := make([]float32, m.net.MaxBatch()*dim)
	for start := 0; start < n; start += m.net.MaxBatch() {
		rows := min(m.net.MaxBatch(), n-start)
		batch := x[:rows*dim]
		m.norm.Decode(batch, pixels[start*dim:(start+rows)*dim], dim, h.Channels)
		logits := m.net.Forward(batch, rows, false, nil)
		nn.Softmax(probs[start*h.Classes:(start+rows)*h.Classes], logits, h.Classes)
	}
	return probs
}

// className returns the name of class c, or its index when the header
// has no names.
func (m *trainedModel) className(c int) string {
	if c < len(m.header.ClassNames) {
		return m.header.ClassNames[c]
	}
	return strconv.Itoa(c)
}

// topClasses returns the indices of the k largest probabilities, largest
// first, with ties in class order.
func topClasses(probs []float32, k int) []int {
	classes := make([]int, len(probs))
	for c := range classes {
		classes[c] = c
	}
	slices.SortStableFunc(classes, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return 0
	})
	return classes[:k]
}

// readImage decodes the PNG file at path into the model's input layout.
// An image of another size than the model's is an error naming the file
// and both sizes. converted reports that a colour image was turned gray
// for a one-channel model.
func readImage(path string, m *trainedModel) (pixels []uint8, converted bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("predict: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, false, fmt.Errorf("predict: decode %s: %w", path, err)
	}
	h := m.header
	if size := img.Bounds().Size(); size.X != h.Width || size.Y != h.Height {
		return nil, false, fmt.Errorf("predict: %s is %dx%d pixels, but model %s takes %dx%d %s images: resize it to %dx%d",
			path, size.X, size.Y, m.path, h.Width, h.Height, h.Dataset, h.Width, h.Height)
	}
	if h.Channels != 1 && h.Channels != 3 {
		return nil, false, fmt.Errorf("predict: model %s takes images of %d channels; predict reads 1 (gray) or 3 (RGB)", m.path, h.Channels)
	}
	pixels, converted = imagePixels(img, h.Channels)
	return pixels, converted, nil
}

// imagePixels returns the pixels of img in the channel-major byte layout
// of dataset.Split. With one channel, that is the gray value of each pixel,
// row by row. With three, it is the red plane, then the green plane, then
// the blue plane. Colours end up composited over black, because
// color.Color.RGBA returns alpha-premultiplied values. With one channel, a
// colour pixel gets the BT.601 luma of color.GrayModel, and converted
// reports whether any pixel had colour. channels must be 1 or 3.
func imagePixels(img image.Image, channels int) (pixels []uint8, converted bool) {
	b := img.Bounds()
	plane := b.Dx() * b.Dy()
	pixels = make([]uint8, channels*plane)
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.At(x, y)
			r, g, bl, _ := c.RGBA()
			if channels == 1 {
				pixels[i] = color.GrayModel.Convert(c).(color.Gray).Y
				converted = converted || r != g || g != bl
			} else {
				pixels[i], pixels[plane+i], pixels[2*plane+i] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
			i++
		}
	}
	return pixels, converted
}

package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfusionSVGCells(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := ConfusionSVG(&b, sampleMatrix(), []string{"cat", "dog", "b<ird>"}); err != nil {
		t.Fatalf("ConfusionSVG: %v", err)
	}

	got := make([][]int, 3)
	for i := range got {
		got[i] = make([]int, 3)
	}
	var texts []string
	d := xml.NewDecoder(&b)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local != "rect" {
				continue
			}
			attrs := make(map[string]int)
			class := ""
			for _, a := range tok.Attr {
				if a.Name.Local == "class" {
					class = a.Value
				}
				if v, err := strconv.Atoi(a.Value); err == nil {
					attrs[a.Name.Local] = v
				}
			}
			if class == "cell" {
				got[attrs["data-true"]][attrs["data-predicted"]] = attrs["data-count"]
			}
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	if diff := cmp.Diff(sampleMatrix(), got); diff != "" {
		t.Errorf("cell counts (-want +got):\n%s", diff)
	}

	found := false
	for _, text := range texts {
		if text == "2 b<ird>" {
			found = true
		}
	}
	if !found {
		t.Errorf("SVG texts %q lack the label %q", texts, "2 b<ird>")
	}
}

func TestConfusionPNGShading(t *testing.T) {
	t.Parallel()
	matrix := [][]int{{10, 0}, {5, 5}}
	var b bytes.Buffer
	if err := ConfusionPNG(&b, matrix, []string{"yes", "no"}); err != nil {
		t.Fatalf("ConfusionPNG: %v", err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("decode PNG: %v", err)
	}
	labelWidth := textWidth("0 yes", pngTextScale)
	l := newConfusionLayout(2, labelWidth, glyphHeight*pngTextScale, textWidth("10", pngTextScale),
		textWidth(predictedCaption, pngTextScale), 40)
	if got, want := img.Bounds().Size(), image.Pt(l.width, l.height); got != want {
		t.Fatalf("image size = %v, want %v", got, want)
	}

	// A pixel just inside the top-left corner of a cell shows its shade,
	// away from the count drawn at the centre.
	tests := []struct {
		name string
		t, p int
		want color.RGBA
	}{
		{"whole row", 0, 0, color.RGBA{8, 48, 107, 255}},
		{"none of row", 0, 1, color.RGBA{255, 255, 255, 255}},
		{"half of row", 1, 1, color.RGBA{132, 152, 181, 255}},
	}
	for _, tt := range tests {
		x, y := l.cellOrigin(tt.t, tt.p)
		got := color.RGBAModel.Convert(img.At(x+2, y+2)).(color.RGBA)
		if got != tt.want {
			t.Errorf("%s: cell [%d][%d] colour = %v, want %v", tt.name, tt.t, tt.p, got, tt.want)
		}
	}
}

func TestWriteConfusionImageFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	png := filepath.Join(dir, "m.PNG")
	svg := filepath.Join(dir, "m.svg")
	for _, path := range []string{png, svg} {
		if err := WriteConfusionImage(path, sampleMatrix(), nil); err != nil {
			t.Fatalf("WriteConfusionImage(%s): %v", path, err)
		}
	}
	data, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	if _, format, err := image.Decode(bytes.NewReader(data)); err != nil || format != "png" {
		t.Errorf("%s decodes as %q with error %v, want a PNG", png, format, err)
	}
	data, err = os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("<svg ")) {
		t.Errorf("%s starts with %q, want an svg element", svg, data[:min(len(data), 20)])
	}
}

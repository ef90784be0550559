package dataset

import (
	"fmt"
	"math"
)

// Normalization holds per-channel statistics of pixel values on the [0, 1]
// scale. The zero value (empty slices) means plain scaling to [0, 1].
type Normalization struct {
	Mean []float32 // mean of p/255 per channel
	Std  []float32 // population standard deviation of p/255 per channel
}

// ChannelStats computes the mean and standard deviation of every channel of
// s on the [0, 1] scale. Pass the training split only, because statistics
// taken from test data leak it into training. A channel with zero variance
// gets Std 1, so that Decode only centres it. An empty split returns the
// zero Normalization. ChannelStats panics if s.Pixels is shorter than
// s.N*s.Dim().
func ChannelStats(s *Split) Normalization {
	if s.N == 0 || s.Channels == 0 {
		return Normalization{}
	}
	// Counting byte values makes the sums exact and independent of order.
	plane := s.Height * s.Width
	hist := make([][256]uint64, s.Channels)
	for i := range s.N {
		sample := s.Sample(i)
		for c := range s.Channels {
			h := &hist[c]
			for _, p := range sample[c*plane : (c+1)*plane] {
				h[p]++
			}
		}
	}

	count := float64(s.N) * float64(plane)
	n := Normalization{Mean: make([]float32, s.Channels), Std: make([]float32, s.Channels)}
	for c := range hist {
		var sum float64
		for v, k := range hist[c] {
			sum += float64(k) * float64(v) / 255
		}
		mean := sum / count
		var squares float64
		for v, k := range hist[c] {
			d := float64(v)/255 - mean
			squares += float64(k) * d * d
		}
		std := math.Sqrt(squares / count)
		if std == 0 {
			std = 1
		}
		n.Mean[c], n.Std[c] = float32(mean), float32(std)
	}
	return n
}

// Decode writes the float32 inputs for one or more samples of dim bytes
// each: x = (p/255 - Mean[c]) / Std[c], where channel c is the plane of
// dim/channels bytes that p lies in (samples are channel-major, as in
// [Split]). With the zero Normalization it writes p/255, so byte 255 becomes
// exactly 1.0. Decode panics, as a programmer error, unless len(dst) equals
// len(pixels), len(pixels) is a multiple of dim, dim is a multiple of
// channels, and Mean and Std are both empty or both of length channels.
func (n Normalization) Decode(dst []float32, pixels []uint8, dim, channels int) {
	if len(dst) != len(pixels) {
		panic(fmt.Sprintf("dataset: Decode: len(dst) = %d, want len(pixels) = %d", len(dst), len(pixels)))
	}
	if dim <= 0 || channels <= 0 || dim%channels != 0 || len(pixels)%dim != 0 {
		panic(fmt.Sprintf("dataset: Decode: %d pixels are not whole samples of dim %d with %d channels",
			len(pixels), dim, channels))
	}
	if len(n.Mean) != len(n.Std) || (len(n.Mean) != 0 && len(n.Mean) != channels) {
		panic(fmt.Sprintf("dataset: Decode: %d means and %d standard deviations for %d channels",
			len(n.Mean), len(n.Std), channels))
	}

	// A lookup table per channel turns the arithmetic into one load per byte.
	// The tables of up to 3 channels live on the stack, so that decoding a
	// batch of MNIST or CIFAR-10 allocates nothing.
	var stackTables [3][256]float32
	tables := stackTables[:min(channels, len(stackTables))]
	if channels > len(stackTables) {
		tables = make([][256]float32, channels)
	}
	for c := range tables {
		for v := range 256 {
			x := float32(v) / 255
			if len(n.Mean) > 0 {
				x = (x - n.Mean[c]) / n.Std[c]
			}
			tables[c][v] = x
		}
	}

	plane := dim / channels
	for start := 0; start < len(pixels); start += dim {
		for c := range channels {
			t := &tables[c]
			lo, hi := start+c*plane, start+(c+1)*plane
			out := dst[lo:hi]
			for i, p := range pixels[lo:hi] {
				out[i] = t[p]
			}
		}
	}
}

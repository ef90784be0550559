package nn

import (
	"math"
	"math/rand/v2"
)

// initStream is the second PCG seed word of [Network.Init], fixed so that
// the first word alone selects the initialisation.
const initStream = 0x6e6e2e496e6974 // "nn.Init"

// Init sets the weights to random values drawn from a PCG generator seeded
// with (seed, a fixed stream constant), and the biases to zero. It does not
// change [Network.Grad].
//
// Layers with ReLU activation draw He normal weights, with mean 0 and
// standard deviation sqrt(2/in). Sigmoid, tanh, identity and the output
// layer draw Glorot uniform weights from [-l, l] with l = sqrt(6/(in+out)).
// Layers are filled in order and each weight matrix row by row. The draws
// are made in float64 with arithmetic that gives the same bits on every
// platform, then rounded to float32, so the same seed gives the same
// parameters on every machine.
func (n *Network) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, initStream))
	normal := normalSource{rng: rng}
	for i := range n.layers {
		l := &n.layers[i]
		if l.activation == ReLU {
			std := math.Sqrt(2 / float64(l.in))
			for k := range l.w {
				l.w[k] = float32(std * normal.next())
			}
		} else {
			limit := math.Sqrt(6 / float64(l.in+l.out))
			for k := range l.w {
				l.w[k] = float32(limit * (2*rng.Float64() - 1))
			}
		}
		clear(l.b)
	}
}

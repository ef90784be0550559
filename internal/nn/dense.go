package nn

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Forward computes the logits of rows samples and returns them as a
// rows×classes row-major slice. x holds the samples row by row, rows×Inputs
// values. The returned slice is scratch memory of the network, valid until
// the next call of Forward, Loss or AccumulateGradient.
//
// Forward keeps x and the activations for [Network.Backward], so the caller
// must not change x until Backward has run.
//
// When train is true, every layer with Dropout p > 0 applies inverted
// dropout: it zeroes each output with probability p and scales the others by
// 1/(1-p). The mask takes one rng.Float64() per output, layer by layer and
// row by row. When train is false, or no layer has dropout, rng is not used
// and may be nil.
//
// Forward panics if rows is negative or larger than [Network.MaxBatch], if
// len(x) != rows*Inputs, or if rng is nil while dropout is active.
func (n *Network) Forward(x []float32, rows int, train bool, rng *rand.Rand) []float32 {
	n.checkRows("forward", rows)
	if len(x) != rows*n.spec.Inputs {
		panic(fmt.Sprintf("nn: forward: len(x) = %d, want rows*inputs = %d*%d",
			len(x), rows, n.spec.Inputs))
	}

	in := x
	for i := range n.layers {
		l := &n.layers[i]
		l.forward(in, rows)
		l.masked = train && l.dropout > 0
		if l.masked {
			if rng == nil {
				panic(fmt.Sprintf("nn: forward: layer %d has dropout %v but rng is nil", i+1, l.dropout))
			}
			l.drop(rows, rng)
		}
		in = l.output(rows)
	}
	n.x, n.rows, n.forwarded = x, rows, true
	return in
}

// Backward adds the gradient of the loss with respect to the parameters to
// [Network.Grad], given dlogits, the gradient with respect to the logits of
// the last Forward (rows×classes, as [SoftmaxCrossEntropy] writes it). It
// adds rather than overwrites, so that the gradients of several batches
// accumulate until [Network.ZeroGrad]. dlogits may be the slice that Forward
// returned. Backward reads the x passed to the last Forward and uses the
// same dropout masks.
//
// Backward panics if no Forward has run, or if len(dlogits) != rows*classes
// for the rows of the last Forward.
func (n *Network) Backward(dlogits []float32) {
	n.BackwardLayers(dlogits, nil)
}

// BackwardLayers runs [Network.Backward] and calls layerDone(l) as soon as
// layer l's part of [Network.Grad], [Network.LayerGrad](l), holds its final
// value: once per layer, from the last layer to the first, on the calling
// goroutine, also when the last Forward had no rows. A nil layerDone is
// allowed.
//
// After layerDone(l) is called, BackwardLayers neither reads nor writes
// LayerGrad(l) again, so other goroutines may use it, such as to sum it
// over the workers while the layers below l are still differentiated.
// BackwardLayers panics where Backward does.
func (n *Network) BackwardLayers(dlogits []float32, layerDone func(l int)) {
	if !n.forwarded {
		panic("nn: backward: no forward pass to differentiate, call Forward first")
	}
	rows, last := n.rows, len(n.layers)-1
	if want := rows * n.layers[last].out; len(dlogits) != want {
		panic(fmt.Sprintf("nn: backward: len(dlogits) = %d, want rows*classes = %d*%d",
			len(dlogits), rows, n.layers[last].out))
	}
	if rows == 0 {
		for i := last; i >= 0 && layerDone != nil; i-- {
			layerDone(i)
		}
		return
	}

	// The output layer is Identity, so dlogits is already its dz.
	dz := dlogits
	for i := last; i >= 0; i-- {
		l := &n.layers[i]
		if i != last {
			dz = l.dy[:rows*l.out]
			if l.masked {
				mulMask(dz, l.mask)
			}
			mulDerivative(l.activation, dz, l.y)
		}
		in := n.x
		if i > 0 {
			in = n.layers[i-1].output(rows)
		}
		l.accumulate(in, dz, rows)
		if layerDone != nil {
			layerDone(i)
		}
		if i > 0 {
			l.inputGradient(n.layers[i-1].dy[:rows*l.in], dz, rows)
		}
	}
}

// forward sets y = activation(x·W + b) for the first rows rows.
func (l *layer) forward(x []float32, rows int) {
	y := l.y[:rows*l.out]
	if rows == 0 {
		return
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		general(rows, l.in, x), general(l.in, l.out, l.w),
		0, general(rows, l.out, y))
	activateRows(l.activation, y, l.b)
}

// output returns the input of the next layer: the outputs after dropout
// when the last Forward applied it, else the activations.
func (l *layer) output(rows int) []float32 {
	if l.masked {
		return l.dropped[:rows*l.out]
	}
	return l.y[:rows*l.out]
}

// drop draws a fresh inverted-dropout mask and applies it to y.
func (l *layer) drop(rows int, rng *rand.Rand) {
	keep := float32(1 / (1 - l.dropout))
	mask := l.mask[:rows*l.out]
	for i := range mask {
		if rng.Float64() < l.dropout {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
	}
	dropped := l.dropped[:len(mask)]
	for i, v := range l.y[:len(mask)] {
		dropped[i] = v * mask[i]
	}
}

// accumulate adds the weight gradient xᵀ·dz and the bias gradient, the
// column sums of dz, to dw and db.
func (l *layer) accumulate(x, dz []float32, rows int) {
	blas32.Gemm(blas.Trans, blas.NoTrans, 1,
		general(rows, l.in, x), general(rows, l.out, dz),
		1, general(l.in, l.out, l.dw))
	db := l.db
	for r := 0; r < rows; r++ {
		for j, v := range dz[r*l.out : (r+1)*l.out] {
			db[j] += v
		}
	}
}

// inputGradient sets dx = dz·Wᵀ, the gradient with respect to the layer's
// input.
func (l *layer) inputGradient(dx, dz []float32, rows int) {
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		general(rows, l.out, dz), general(l.in, l.out, l.w),
		0, general(rows, l.in, dx))
}

// mulMask multiplies dy by the dropout factors of the same outputs.
func mulMask(dy, mask []float32) {
	mask = mask[:len(dy)]
	for i, m := range mask {
		dy[i] *= m
	}
}

// general wraps a row-major r×c matrix for blas32.
func general(r, c int, data []float32) blas32.General {
	return blas32.General{Rows: r, Cols: c, Stride: c, Data: data}
}

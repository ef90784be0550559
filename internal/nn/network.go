package nn

import (
	"fmt"
	"slices"
	"unsafe"
)

// Network is a multilayer perceptron with its parameters, its gradient and
// the scratch memory for batches of up to MaxBatch rows. All memory is
// allocated by [NewNetwork]. Forward, Backward and the optimizer steps
// allocate nothing, apart from what the installed BLAS implementation
// allocates itself.
//
// A Network is not safe for concurrent use.
type Network struct {
	spec     Spec
	maxBatch int
	params   []float32
	grad     []float32
	layers   []layer
	dlogits  []float32 // maxBatch×classes scratch for AccumulateGradient

	// State of the last Forward, which Backward reads.
	x         []float32
	rows      int
	forwarded bool
}

// layer holds one dense layer's views into the parameter and gradient
// buffers and its scratch memory.
type layer struct {
	in, out    int
	activation Activation
	dropout    float64
	w, b       []float32 // views into Network.params: in×out row-major, out
	dw, db     []float32 // views into Network.grad, laid out like w and b

	y       []float32 // maxBatch×out activation outputs
	dy      []float32 // maxBatch×out gradient with respect to y, then z; nil for the output layer
	mask    []float32 // maxBatch×out dropout factors; nil without dropout
	dropped []float32 // maxBatch×out outputs after dropout; nil without dropout
	masked  bool      // whether the last Forward applied the mask
}

// NewNetwork allocates a network for spec with scratch memory for batches of
// up to maxBatch rows. The parameters start at zero: call [Network.Init]
// or copy values into [Network.Params].
func NewNetwork(spec Spec, maxBatch int) (*Network, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if maxBatch < 1 {
		return nil, fmt.Errorf("nn: new network: max batch = %d, want at least 1", maxBatch)
	}
	for i, l := range spec.Layers {
		if maxBatch > maxParams/l.Units {
			return nil, fmt.Errorf("nn: new network: max batch = %d: scratch for layer %d of %d units exceeds %d values, reduce the batch",
				maxBatch, i+1, l.Units, maxParams)
		}
	}
	spec.Layers = slices.Clone(spec.Layers)

	total := spec.ParamCount()
	n := &Network{
		spec:     spec,
		maxBatch: maxBatch,
		params:   alignedFloats(total),
		grad:     alignedFloats(total),
		layers:   make([]layer, len(spec.Layers)),
		dlogits:  alignedFloats(maxBatch * spec.Classes()),
	}
	off, in := 0, spec.Inputs
	for i, ls := range spec.Layers {
		l := &n.layers[i]
		l.in, l.out = in, ls.Units
		l.activation, l.dropout = ls.Activation, ls.Dropout
		l.w, l.dw = n.params[off:off+in*l.out], n.grad[off:off+in*l.out]
		off += in * l.out
		l.b, l.db = n.params[off:off+l.out], n.grad[off:off+l.out]
		off += l.out

		scratch := maxBatch * l.out
		l.y = alignedFloats(scratch)
		if i < len(spec.Layers)-1 {
			// The output layer's dz is the caller's dlogits.
			l.dy = alignedFloats(scratch)
		}
		if l.dropout > 0 {
			l.mask = alignedFloats(scratch)
			l.dropped = alignedFloats(scratch)
		}
		in = l.out
	}
	return n, nil
}

// alignedFloats returns n zeroed float32 values whose first element is
// aligned to 64 bytes. gonum's amd64 float32 dot kernel (v0.17.0) adds the
// leading unaligned elements of one operand one by one before it switches to
// SIMD, so its summation order, and with it the rounding, depends on
// addresses. Aligning every buffer makes the bits of a product depend only on
// the values. The Go garbage collector (Go 1.26) does not move heap objects,
// so the alignment holds for the buffer's lifetime.
func alignedFloats(n int) []float32 {
	const align = 64
	buf := make([]float32, n+align/4)
	off := 0
	if rem := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % align; rem != 0 {
		off = int(align-rem) / 4
	}
	return buf[off : off+n : off+n]
}

// Spec returns the network's spec. The Layers slice is a copy.
func (n *Network) Spec() Spec {
	s := n.spec
	s.Layers = slices.Clone(s.Layers)
	return s
}

// MaxBatch returns the maximum number of rows of one Forward call.
func (n *Network) MaxBatch() int { return n.maxBatch }

// Classes returns the number of logits per row.
func (n *Network) Classes() int { return n.spec.Classes() }

// Params returns the buffer that holds all parameters, in the layout that
// the package documentation describes. The slice is the network's own
// storage, not a copy: writes to it change the model, and it stays valid for
// the network's lifetime.
func (n *Network) Params() []float32 { return n.params }

// Grad returns the buffer that accumulates the gradient of the loss with
// respect to [Network.Params], in the same layout. Like Params, it is the
// network's own storage, not a copy.
func (n *Network) Grad() []float32 { return n.grad }

// ZeroGrad sets every element of [Network.Grad] to zero.
func (n *Network) ZeroGrad() { clear(n.grad) }

// LayerParams returns views into [Network.Params] of layer l's weights
// (in×out, row-major, so that weight (i, j) connects input i to output j)
// and biases (out). Layer 0 is the first hidden layer. It panics if l is out
// of range.
func (n *Network) LayerParams(l int) (w, b []float32) {
	return n.layers[l].w, n.layers[l].b
}

// LayerGrad returns the view into [Network.Grad] of layer l's gradient:
// the weights' part followed by the biases' part, contiguous and laid out
// like the parameters that [Network.LayerParams] returns. It panics if l is
// out of range.
func (n *Network) LayerGrad(l int) []float32 {
	off := 0
	for _, prev := range n.layers[:l] {
		off += len(prev.dw) + len(prev.db)
	}
	size := len(n.layers[l].dw) + len(n.layers[l].db)
	return n.grad[off : off+size : off+size]
}

// checkRows panics unless 0 <= rows <= MaxBatch.
func (n *Network) checkRows(op string, rows int) {
	if rows < 0 || rows > n.maxBatch {
		panic(fmt.Sprintf("nn: %s: rows = %d, want 0 to the max batch %d", op, rows, n.maxBatch))
	}
}

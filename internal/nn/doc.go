// Package nn implements the numerics of ringtrain: dense multilayer
// perceptrons in float32, softmax cross-entropy, weight initialisation,
// dropout and the Adam and SGD optimizers. It contains no networking, file
// or cluster code.
//
// # Overview
//
// A [Spec] describes a network, and [ParseSpec] reads it from a string such
// as
//
//	784-100relu-60sigmoid-10
//	3072-500sigmoid/0.2-500relu-10
//
// The fields are separated by '-'. The first is the number of inputs. Each
// following field is a layer: its number of units, then its activation
// (relu, sigmoid, tanh, or identity, also written linear), then optionally
// '/' and the probability of dropping each of its outputs during training.
// The last field is the output layer, whose outputs are logits for
// softmax cross-entropy: it is written as its number of classes alone or
// with the suffix softmax, as in 10 or 10softmax, and takes no dropout.
// [Preset] names the two standard networks, and [ResolveSpec] accepts either
// form.
//
// [NewNetwork] allocates a [Network] with all its memory. One training step
// on a batch of rows samples out of a global batch of B is
//
//	n.ZeroGrad()
//	logits := n.Forward(x, rows, true, rng)
//	loss, correct, err := nn.SoftmaxCrossEntropy(dlogits, logits, labels, classes, 1/float32(B))
//	n.Backward(dlogits)
//	opt.Step(n.Params(), n.Grad())
//
// and [Network.AccumulateGradient] does the middle three lines. Backward adds
// to the gradient, so several batches can be summed before one optimizer
// step. Only the first optimizer step allocates, for the optimizer's state.
// Apart from that, nothing in this sequence allocates memory, except what the
// BLAS implementation allocates itself. gonum's pure-Go Sgemm starts
// goroutines for large products, which allocates a few small objects per
// call; OpenBLAS allocates no Go memory.
//
// # Parameter layout
//
// [Network.Params] is one contiguous []float32, and [Network.Grad] has the
// same length and layout. For each layer in order, from the first hidden
// layer to the output layer, it holds the weights and then the biases:
//
//	W  in×out values, row-major: W[i*out+j] connects input i to output j
//	b  out values
//
// where in is the width of the previous layer (or the number of inputs) and
// out is the layer's number of units. [Spec.ParamCount] is the total length,
// and [Network.LayerParams] returns the views of one layer.
// [Network.LayerGrad] returns one layer's part of the gradient, which
// [Network.BackwardLayers] reports final as soon as the backward pass has
// passed that layer, so that a caller can send it while the pass goes on.
//
// Activations are row-major too, one sample per row. A layer computes
// Y = f(X·W + b) for a rows×in batch X. Backward computes dW += Xᵀ·dZ and
// dX = dZ·Wᵀ, so the three products are NoTrans·NoTrans, Trans·NoTrans and
// NoTrans·Trans calls of blas32.Gemm.
//
// # Numerics
//
// All matrix products are blas32.Gemm calls (gonum.org/v1/gonum/blas/blas32),
// and the build selects the implementation behind them. The default is
// gonum's pure-Go implementation. With the openblas build tag, which needs
// cgo and the thread-safe OpenBLAS library (Debian's
// libopenblas-pthread-dev), an init function installs OpenBLAS's
// cblas_sgemm with blas32.Use. OpenBLAS is linked statically with its own
// thread pool switched off, so each call runs on the calling thread, and
// every other BLAS routine stays gonum's. A product large enough to gain is
// split into blocks of rows, one per goroutine up to GOMAXPROCS; each
// element is still one call's sum over the whole inner dimension, so the
// split does not change the bits. The same build computes Adam's update,
// the activations, their derivatives and the softmax cross-entropy in C,
// with AVX-512 or AVX2 where the processor has them, and gets the bits of
// the Go loops.
// [BLAS] names the implementation in use. Both builds pass the same tests.
//
// Adam stores a moment whose magnitude falls below the smallest normal
// float32 (2^-126, about 1.18e-38) as zero, in both builds. x86 processors
// can take many times longer for arithmetic on subnormal floats, and the
// first moments of weights whose gradient stays zero decay into them after
// several hundred steps. With the default hyperparameters, a flushed first
// moment would have moved its parameter by less than 1.2e-29 times the
// learning rate.
//
// Softmax cross-entropy is fused and computed from class indices, with the
// maximum of each row subtracted before exponentiating: finite logits of any
// size give finite losses and gradients. Losses are summed in float64.
//
// Exact mode of the trainer needs the same binary to produce the same bits
// on every machine. The package's own loops therefore round every product
// that feeds a sum with an explicit float32 or float64 conversion, which
// keeps the compiler from fusing the two into an FMA. Exponentials and
// logarithms that feed parameters or gradients use the package's own
// implementations, because math.Exp picks an FMA code path at run time on
// amd64 (Go 1.26). Every buffer starts at a 64-byte boundary, because the summation
// order of gonum's amd64 dot kernel depends on alignment. The results of the
// BLAS implementation remain its own: with gonum, a row of a product has the
// same bits whenever the shapes of the call are the same, but a call with
// another number of rows may take a blocked, parallel path that sums
// dX = dZ·Wᵀ in another order. OpenBLAS chooses its kernels for the
// processor when the program starts, so its results can differ in the last
// bits from one processor model to another.
//
// # Fixed point
//
// Exact mode computes each micro-batch's gradient as the sum, not the mean,
// of its samples' gradients (AccumulateGradient with scale 1). It converts
// that sum with [Network.AddGradientFixed] and adds the integers. After the
// all-reduce, [Network.SetMeanGradient] divides the total by the batch size.
// A value v is stored as the int64 round(v·2^32), so the unit is 2^-32
// (about 2.3e-10) and the range is ±2^31 (about ±2.1e9). Integer sums are
// exact and do not depend on their order.
//
// Range. A global batch of B samples in micro-batches of M has K = ceil(B/M)
// summands per element. [FixedLimit](K) = 2^(63-b), with b the bit length of
// K, bounds each summand so that no partial or total sum reaches 2^63. In
// real units a micro-batch's gradient element must stay below 2^(31-b):
// 2^28 (about 2.7e8) for B = 64 and M = 16, and 2^14 = 16384 in the extreme
// case of B = 65536 and M = 1. The gradient of the cross-entropy with
// respect to a logit lies in [-1, 1]. It reaches the weights through
// activation derivatives of at most 1 and through inputs scaled to [0, 1]
// or to a few standard deviations, so one sample's gradient elements are of
// order 1 to 10 in a model that trains. That estimate leaves a micro-batch
// of 16 at least five orders of magnitude below the limit. A value that
// reaches it means that training has diverged: the conversion fails with a
// [*FixedPointError] that names the layer and the element, as it does for
// NaN and infinities. Nothing is clamped and no sum wraps around.
//
// Precision. Rounding a micro-batch's element errs by at most 2^-33, so the
// mean over the batch errs by at most K·2^-33/B, about 2^-33/M: 7e-12 for
// M = 16. That is the spacing of float32 values near 1e-4. Elements below
// 2^-33 in a whole micro-batch round to zero. Adam divides by
// sqrt(v̂) + 1e-8, so such an error changes a parameter's update by at most
// 7e-12/1e-8, under 0.1% of the learning rate.
//
// Shape mismatches, such as an x of the wrong length, are programmer errors
// and panic; each function's documentation lists its panics. A label outside
// [0, classes) is an input error and returns an error wrapping
// [ErrLabelRange].
package nn

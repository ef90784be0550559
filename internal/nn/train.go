package nn

import (
	"fmt"
	"math/rand/v2"
)

// AccumulateGradient runs one training pass over a batch: Forward with
// train set, [SoftmaxCrossEntropy] with the given scale, and Backward, which
// adds scale times the gradient of the summed loss to [Network.Grad]. It
// returns the summed loss and the number of correct rows of the batch.
// Pass scale = 1/B, where B is the global batch size, so that the gradients
// of all parts of a global batch add up to the gradient of its mean loss.
//
// x holds len(labels) rows and rng draws the dropout masks, as for
// Forward. A label outside [0, classes) returns an error wrapping
// [ErrLabelRange] and leaves Grad unchanged. It panics where Forward does.
func (n *Network) AccumulateGradient(x []float32, labels []uint8, scale float32, rng *rand.Rand) (lossSum float64, correct int, err error) {
	classes := n.Classes()
	if err := checkLabels(labels, classes); err != nil {
		return 0, 0, err
	}
	rows := len(labels)
	logits := n.Forward(x, rows, true, rng)
	dlogits := n.dlogits[:rows*classes]
	lossSum, correct, err = SoftmaxCrossEntropy(dlogits, logits, labels, classes, scale)
	if err != nil {
		return 0, 0, err
	}
	n.Backward(dlogits)
	return lossSum, correct, nil
}

// Loss evaluates the network without dropout on len(labels) samples, which
// x holds row by row, and returns the summed cross-entropy and the number
// of correct rows, as [SoftmaxCrossEntropy] defines them. Any number of rows
// is accepted: Loss works through them in chunks of [Network.MaxBatch].
//
// Loss overwrites the state of the last Forward, so call Forward again
// before the next Backward. A label outside [0, classes) returns an error
// wrapping [ErrLabelRange] that names its row. Loss panics if
// len(x) != len(labels)*Inputs.
func (n *Network) Loss(x []float32, labels []uint8) (lossSum float64, correct int, err error) {
	inputs, classes := n.spec.Inputs, n.Classes()
	if len(x) != len(labels)*inputs {
		panic(fmt.Sprintf("nn: loss: len(x) = %d, want len(labels)*inputs = %d*%d",
			len(x), len(labels), inputs))
	}
	if err := checkLabels(labels, classes); err != nil {
		return 0, 0, err
	}
	for start := 0; start < len(labels); start += n.maxBatch {
		end := min(start+n.maxBatch, len(labels))
		logits := n.Forward(x[start*inputs:end*inputs], end-start, false, nil)
		sum, hits, err := SoftmaxCrossEntropy(nil, logits, labels[start:end], classes, 1)
		if err != nil {
			return 0, 0, err
		}
		lossSum += sum
		correct += hits
	}
	return lossSum, correct, nil
}

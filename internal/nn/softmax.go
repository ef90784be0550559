package nn

import (
	"errors"
	"fmt"
)

// ErrLabelRange is wrapped by the error for a label outside [0, classes).
var ErrLabelRange = errors.New("label out of range")

// SoftmaxCrossEntropy computes the softmax cross-entropy of rows of logits
// against class labels in one fused, numerically stable pass. logits holds
// len(labels) rows of classes values, and labels[r] is the class index of
// row r. Labels are uint8, so classes beyond 256 cannot all be labelled.
//
// It returns lossSum, the sum over rows of -log softmax(logits[r])[labels[r]]
// in float64, and correct, the number of rows whose largest logit is at the
// label. Ties go to the lowest class index. Divide lossSum by the row count
// for the mean.
//
// When dlogits is not nil, it receives scale*(softmax(logits) - onehot(labels)),
// the gradient of scale*lossSum with respect to the logits. With scale =
// 1/B for a global batch of B rows, the gradients of all parts of the batch
// sum to the gradient of the mean loss. dlogits may be logits itself.
//
// Each row subtracts its maximum before exponentiating, so finite logits of
// any size give finite results, and the logarithm is never taken of 0. A NaN
// or infinite logit gives a NaN or infinite loss for its row.
//
// A label outside [0, classes) makes it return an error that wraps
// [ErrLabelRange] and names the row and the label, with nothing written to
// dlogits. It panics if classes < 1, if len(logits) != len(labels)*classes,
// or if dlogits is not nil and len(dlogits) != len(logits).
func SoftmaxCrossEntropy(dlogits, logits []float32, labels []uint8, classes int, scale float32) (lossSum float64, correct int, err error) {
	checkLogits("softmax cross-entropy", logits, classes)
	if len(logits) != len(labels)*classes {
		panic(fmt.Sprintf("nn: softmax cross-entropy: len(logits) = %d, want len(labels)*classes = %d*%d",
			len(logits), len(labels), classes))
	}
	if dlogits != nil && len(dlogits) != len(logits) {
		panic(fmt.Sprintf("nn: softmax cross-entropy: len(dlogits) = %d, want len(logits) = %d",
			len(dlogits), len(logits)))
	}
	if err := checkLabels(labels, classes); err != nil {
		return 0, 0, err
	}

	lossSum, correct = softmaxRows(dlogits, logits, labels, classes, scale)
	return lossSum, correct, nil
}

// softmaxRowsGo computes SoftmaxCrossEntropy's results for checked
// arguments. It is the definition that the C kernel of the openblas build
// reproduces bit for bit. The logarithm is detLog, so that the loss has
// the same bits in both builds and on every machine.
func softmaxRowsGo(dlogits, logits []float32, labels []uint8, classes int, scale float32) (lossSum float64, correct int) {
	for r, label := range labels {
		z := logits[r*classes : (r+1)*classes]
		top, sum := maxExpSum(z)
		y := int(label)
		lossSum += (float64(z[top]) - float64(z[y])) + detLog(sum)
		if top == y {
			correct++
		}
		if dlogits == nil {
			continue
		}
		dz := dlogits[r*classes : (r+1)*classes]
		zmax, s := float64(z[top]), float64(scale)
		for j, v := range z {
			p := detExp(float64(v)-zmax) / sum
			if j == y {
				p--
			}
			dz[j] = float32(s * p)
		}
	}
	return lossSum, correct
}

// Softmax sets each row of dst to the softmax of the same row of logits,
// which holds rows of classes values. dst may be logits itself. It panics
// if classes < 1, if len(logits) is not a multiple of classes, or if
// len(dst) != len(logits).
func Softmax(dst, logits []float32, classes int) {
	checkLogits("softmax", logits, classes)
	if len(dst) != len(logits) {
		panic(fmt.Sprintf("nn: softmax: len(dst) = %d, want len(logits) = %d", len(dst), len(logits)))
	}
	for r := 0; r < len(logits); r += classes {
		z := logits[r : r+classes]
		top, sum := maxExpSum(z)
		zmax := float64(z[top])
		for j, v := range z {
			dst[r+j] = float32(detExp(float64(v)-zmax) / sum)
		}
	}
}

// maxExpSum returns the index of the first largest element of z and the sum
// of e^(z[j] - max z). The sum is at least 1, because the largest term is
// e^0, so its logarithm is finite and non-negative.
func maxExpSum(z []float32) (top int, sum float64) {
	for j, v := range z {
		if v > z[top] {
			top = j
		}
	}
	zmax := float64(z[top])
	for _, v := range z {
		sum += detExp(float64(v) - zmax)
	}
	return top, sum
}

// checkLabels returns an error wrapping ErrLabelRange for the first label
// that is not below classes.
func checkLabels(labels []uint8, classes int) error {
	for r, label := range labels {
		if int(label) >= classes {
			return fmt.Errorf("nn: %w: row %d has label %d, want 0 to %d because the output layer has %d classes",
				ErrLabelRange, r, label, classes-1, classes)
		}
	}
	return nil
}

// checkLogits panics unless logits holds whole rows of classes >= 1 values.
func checkLogits(op string, logits []float32, classes int) {
	if classes < 1 {
		panic(fmt.Sprintf("nn: %s: classes = %d, want at least 1", op, classes))
	}
	if len(logits)%classes != 0 {
		panic(fmt.Sprintf("nn: %s: len(logits) = %d is not a multiple of classes = %d", op, len(logits), classes))
	}
}

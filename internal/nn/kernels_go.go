//go:build !(openblas && cgo)

package nn

// adamUpdate applies one Adam update with the coefficients k.
// See adamUpdateGo.
func adamUpdate(params, grad, m, v []float32, k *adamCoeffs) {
	adamUpdateGo(params, grad, m, v, k)
}

// activateRows adds the bias b to every row of z and applies a in place.
// See activateRowsGo.
func activateRows(a Activation, z, b []float32) {
	activateRowsGo(a, z, b)
}

// mulDerivative multiplies dy by the derivative of a at the outputs y.
// See mulDerivativeGo.
func mulDerivative(a Activation, dy, y []float32) {
	mulDerivativeGo(a, dy, y)
}

// softmaxRows computes SoftmaxCrossEntropy's results for checked
// arguments. See softmaxRowsGo.
func softmaxRows(dlogits, logits []float32, labels []uint8, classes int, scale float32) (lossSum float64, correct int) {
	return softmaxRowsGo(dlogits, logits, labels, classes, scale)
}

//go:build !(openblas && cgo)

package nn

// adamUpdate applies one Adam update with the coefficients k; see
// adamUpdateGo.
func adamUpdate(params, grad, m, v []float32, k *adamCoeffs) {
	adamUpdateGo(params, grad, m, v, k)
}

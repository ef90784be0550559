//go:build openblas && !cgo

package nn

// The openblas build tag links OpenBLAS through cgo. Without cgo the build
// would quietly fall back to gonum's BLAS, so it fails here instead, with
// the fix in the compiler's message.
var _ int = "the openblas build tag needs cgo: build with CGO_ENABLED=1 and a C compiler"

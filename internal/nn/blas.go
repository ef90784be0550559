package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// namedBLAS is a blas.Float32 that this package installs and can name.
type namedBLAS interface {
	blasName() string
}

// BLAS returns the name of the BLAS implementation that computes the
// matrix products: "openblas" in a build with the openblas tag, "gonum" for
// gonum's pure-Go implementation, the default, and the Go type of any other
// implementation installed with blas32.Use. It is safe for concurrent use
// as long as nothing calls blas32.Use at the same time.
func BLAS() string {
	switch impl := blas32.Implementation().(type) {
	case gonum.Implementation:
		return "gonum"
	case namedBLAS:
		return impl.blasName()
	default:
		return fmt.Sprintf("%T", impl)
	}
}

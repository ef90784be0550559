package nn

import (
	"fmt"
	"strings"
)

// Activation is the elementwise function a layer applies after its affine
// map. The zero value is Identity.
type Activation uint8

// The activations. The output layer always uses Identity, because its
// outputs are logits for [SoftmaxCrossEntropy].
const (
	Identity Activation = iota
	ReLU
	Sigmoid
	Tanh
)

var activationNames = [...]string{
	Identity: "identity",
	ReLU:     "relu",
	Sigmoid:  "sigmoid",
	Tanh:     "tanh",
}

// String returns the lowercase name that [ParseActivation] accepts.
func (a Activation) String() string {
	if int(a) < len(activationNames) {
		return activationNames[a]
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// valid reports whether a is one of the defined activations.
func (a Activation) valid() bool {
	return int(a) < len(activationNames)
}

// ParseActivation returns the activation named s: "relu", "sigmoid", "tanh",
// or "identity" (also written "linear"). Case is ignored.
func ParseActivation(s string) (Activation, error) {
	if a, ok := lookupActivation(s); ok {
		return a, nil
	}
	return Identity, fmt.Errorf("nn: unknown activation %q, want %s", s, activationChoices)
}

// activationChoices lists the accepted names for error messages.
const activationChoices = "relu, sigmoid, tanh or identity"

func lookupActivation(s string) (Activation, bool) {
	switch strings.ToLower(s) {
	case "identity", "linear":
		return Identity, true
	case "relu":
		return ReLU, true
	case "sigmoid":
		return Sigmoid, true
	case "tanh":
		return Tanh, true
	}
	return Identity, false
}

// sigmoid returns 1/(1+e^-z). It exponentiates only -|z|, so it never
// overflows.
func sigmoid(z float32) float32 {
	x := float64(z)
	if x >= 0 {
		return float32(1 / (1 + detExp(-x)))
	}
	e := detExp(x)
	return float32(e / (1 + e))
}

// tanh returns the hyperbolic tangent of z. It works from e^(-2|z|) - 1,
// which keeps full relative precision near zero and cannot overflow.
func tanh(z float32) float32 {
	x := float64(z)
	neg := x < 0
	if neg {
		x = -x
	}
	m := detExpm1(-2 * x)
	t := float32(-m / (2 + m))
	if neg {
		return -t
	}
	return t
}

// activateRowsGo adds the bias b to every row of z and applies a in place.
// z holds len(z)/len(b) rows of len(b) pre-activations. It is the
// definition that the C kernels of the openblas build reproduce bit for
// bit.
func activateRowsGo(a Activation, z, b []float32) {
	units := len(b)
	for r := 0; r+units <= len(z); r += units {
		row := z[r : r+units : r+units]
		switch a {
		case Identity:
			for j, bj := range b {
				row[j] += bj
			}
		case ReLU:
			for j, bj := range b {
				// v < 0, not v <= 0 or !(v > 0), so that a NaN stays NaN
				// and a diverging run shows up in the loss.
				if v := row[j] + bj; v < 0 {
					row[j] = 0
				} else {
					row[j] = v
				}
			}
		case Sigmoid:
			for j, bj := range b {
				row[j] = sigmoid(row[j] + bj)
			}
		case Tanh:
			for j, bj := range b {
				row[j] = tanh(row[j] + bj)
			}
		default:
			panic(fmt.Sprintf("nn: invalid activation %d", uint8(a)))
		}
	}
}

// mulDerivativeGo multiplies each gradient dy[i] by the derivative of a at
// the point whose output is y[i]. All four derivatives are functions of the
// output, so the pre-activations need not be kept.
func mulDerivativeGo(a Activation, dy, y []float32) {
	y = y[:len(dy)]
	switch a {
	case Identity:
	case ReLU:
		for i, v := range y {
			if !(v > 0) {
				dy[i] = 0
			}
		}
	case Sigmoid:
		for i, v := range y {
			dy[i] *= float32(v * (1 - v))
		}
	case Tanh:
		for i, v := range y {
			dy[i] *= 1 - float32(v*v)
		}
	default:
		panic(fmt.Sprintf("nn: invalid activation %d", uint8(a)))
	}
}

package nn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidSpec is wrapped by every error from [ParseSpec], [ResolveSpec]
// and [Spec.Validate] that rejects a network description.
var ErrInvalidSpec = errors.New("invalid network spec")

// maxUnits bounds the width of the input and of every layer, and maxParams
// the number of parameters and the length of every scratch buffer. They
// keep counts and offsets within an int32 on every platform, and turn a
// typo such as 1000000000relu into an error in place of a failed
// allocation.
const (
	maxUnits  = 1 << 24
	maxParams = 1<<31 - 1
)

// Layer describes one dense layer: Units outputs, each the activation of an
// affine map of the previous layer's outputs.
type Layer struct {
	// Units is the number of outputs of the layer, at least 1. For the
	// output layer it is the number of classes, at least 2.
	Units int
	// Activation is applied to every output. It must be Identity for the
	// output layer.
	Activation Activation
	// Dropout is the probability in [0, 1) that training drops each output
	// of this layer. 0 disables dropout. Only hidden layers may set it.
	Dropout float64
}

// Spec describes a multilayer perceptron. The last layer is the output
// layer, whose outputs are the logits.
type Spec struct {
	// Inputs is the number of features of one sample, at least 1.
	Inputs int
	// Layers lists the layers from the first hidden layer to the output
	// layer.
	Layers []Layer
}

// Classes returns the number of units of the output layer, or 0 when s has
// no layers.
func (s Spec) Classes() int {
	if len(s.Layers) == 0 {
		return 0
	}
	return s.Layers[len(s.Layers)-1].Units
}

// ParamCount returns the number of parameters: for each layer, in*out
// weights plus out biases.
func (s Spec) ParamCount() int {
	total, in := 0, s.Inputs
	for _, l := range s.Layers {
		total += in*l.Units + l.Units
		in = l.Units
	}
	return total
}

// String returns s in the syntax of [ParseSpec], such as
// "784-100relu/0.2-60sigmoid-10". The output layer is written as its unit
// count alone. ParseSpec(s.String()) returns s for every valid s.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(s.Inputs))
	for i, l := range s.Layers {
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(l.Units))
		if i == len(s.Layers)-1 && l.Activation == Identity && l.Dropout == 0 {
			break
		}
		b.WriteString(l.Activation.String())
		if l.Dropout != 0 {
			b.WriteByte('/')
			b.WriteString(strconv.FormatFloat(l.Dropout, 'g', -1, 64))
		}
	}
	return b.String()
}

// Validate returns an error wrapping [ErrInvalidSpec] unless s describes a
// network that [NewNetwork] accepts. Such a network has at least one layer,
// every width between 1 and 2^24, and at most 2^31-1 parameters. Its output
// layer has at least 2 units, Identity activation and no dropout, and every
// hidden dropout lies in [0, 1).
func (s Spec) Validate() error {
	if err := s.check(); err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	return nil
}

// check is Validate without the package prefix, so that ParseSpec can wrap
// it under its own.
func (s Spec) check() error {
	if s.Inputs < 1 || s.Inputs > maxUnits {
		return fmt.Errorf("%w: inputs = %d, want 1 to %d", ErrInvalidSpec, s.Inputs, maxUnits)
	}
	if len(s.Layers) == 0 {
		return fmt.Errorf("%w: no layers, want at least the output layer, as in %d-10",
			ErrInvalidSpec, s.Inputs)
	}
	last := len(s.Layers) - 1
	params, in := int64(0), s.Inputs
	for i, l := range s.Layers {
		name := fmt.Sprintf("layer %d", i+1)
		if i == last {
			name = fmt.Sprintf("output layer (layer %d)", i+1)
		}
		if l.Units < 1 || l.Units > maxUnits {
			return fmt.Errorf("%w: %s: units = %d, want 1 to %d", ErrInvalidSpec, name, l.Units, maxUnits)
		}
		// Both factors are at most 2^24, and the loop stops once the sum
		// passes maxParams, so the int64 sum cannot overflow.
		params += int64(in)*int64(l.Units) + int64(l.Units)
		if params > maxParams {
			return fmt.Errorf("%w: %s: the network has more than %d parameters up to this layer, reduce the widths",
				ErrInvalidSpec, name, maxParams)
		}
		in = l.Units
		if !l.Activation.valid() {
			return fmt.Errorf("%w: %s: activation %v, want %s",
				ErrInvalidSpec, name, l.Activation, activationChoices)
		}
		if !(l.Dropout >= 0 && l.Dropout < 1) {
			return fmt.Errorf("%w: %s: dropout = %v, want a probability in [0, 1)",
				ErrInvalidSpec, name, l.Dropout)
		}
		if i != last {
			continue
		}
		if l.Units < 2 {
			return fmt.Errorf("%w: %s: units = %d, want at least 2 classes",
				ErrInvalidSpec, name, l.Units)
		}
		if l.Activation != Identity {
			return fmt.Errorf("%w: %s: activation %v, want identity, because the outputs are logits for softmax",
				ErrInvalidSpec, name, l.Activation)
		}
		if l.Dropout != 0 {
			return fmt.Errorf("%w: %s: dropout = %v, want 0, because only hidden layers may drop units",
				ErrInvalidSpec, name, l.Dropout)
		}
	}
	return nil
}

// ParseSpec parses a network description such as "784-100relu-60sigmoid-10"
// or "3072-500sigmoid/0.2-500relu-10". The package documentation describes
// the syntax. The result has passed [Spec.Validate]. Errors wrap
// [ErrInvalidSpec] and name the layer, the value and the fix.
func ParseSpec(s string) (Spec, error) {
	spec, err := parseSpec(strings.TrimSpace(s))
	if err == nil {
		err = spec.check()
	}
	if err != nil {
		return Spec{}, fmt.Errorf("nn: parse spec %q: %w", s, err)
	}
	return spec, nil
}

func parseSpec(s string) (Spec, error) {
	if s == "" {
		return Spec{}, fmt.Errorf("%w: empty, want input size and layers, as in 784-100relu-10", ErrInvalidSpec)
	}
	fields := strings.Split(s, "-")
	inputs, err := parseUnits(fields[0])
	if err != nil {
		return Spec{}, fmt.Errorf("%w: input size %q: %w", ErrInvalidSpec, fields[0], err)
	}
	if len(fields) == 1 {
		return Spec{}, fmt.Errorf("%w: no layers after the input size, want at least the output layer, as in %d-10",
			ErrInvalidSpec, inputs)
	}

	if fields[len(fields)-1] == "" {
		return Spec{}, fmt.Errorf("%w: ends with a dash, want the output layer last, as in %s10",
			ErrInvalidSpec, s)
	}

	spec := Spec{Inputs: inputs, Layers: make([]Layer, 0, len(fields)-1)}
	for i, field := range fields[1:] {
		l, err := parseLayer(field, i == len(fields)-2)
		if err != nil {
			return Spec{}, fmt.Errorf("%w: layer %d %q: %w", ErrInvalidSpec, i+1, field, err)
		}
		spec.Layers = append(spec.Layers, l)
	}
	return spec, nil
}

// parseLayer parses one layer field: units, then an activation name unless
// the layer is the output layer, then an optional "/dropout".
func parseLayer(field string, output bool) (Layer, error) {
	body, dropout, hasDropout := strings.Cut(field, "/")
	digits := len(body) - len(strings.TrimLeft(body, "0123456789"))
	if digits == 0 {
		return Layer{}, errors.New("missing unit count, want units then activation, as in 100relu")
	}
	units, err := parseUnits(body[:digits])
	if err != nil {
		return Layer{}, err
	}
	l := Layer{Units: units}

	switch name := body[digits:]; {
	case name == "" && !output:
		return Layer{}, fmt.Errorf("missing activation, want %drelu, %dsigmoid, %dtanh or %didentity",
			units, units, units, units)
	case strings.EqualFold(name, "softmax") && !output:
		return Layer{}, errors.New("softmax is only valid on the output layer, use relu, sigmoid, tanh or identity")
	case name == "" || strings.EqualFold(name, "softmax"):
		l.Activation = Identity
	default:
		a, ok := lookupActivation(name)
		if !ok {
			return Layer{}, fmt.Errorf("unknown activation %q, want %s", name, activationChoices)
		}
		l.Activation = a
	}

	if hasDropout {
		p, err := strconv.ParseFloat(dropout, 64)
		if err != nil {
			return Layer{}, fmt.Errorf("invalid dropout %q, want a probability in [0, 1), as in %d%v/0.2",
				dropout, units, l.Activation)
		}
		l.Dropout = p
	}
	return l, nil
}

// parseUnits parses a width written in decimal digits.
func parseUnits(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a positive integer")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxUnits {
		return 0, fmt.Errorf("%s units exceed the maximum of %d", s, maxUnits)
	}
	if n < 1 {
		return 0, errors.New("want at least 1 unit")
	}
	return n, nil
}

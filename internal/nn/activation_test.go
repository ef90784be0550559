package nn

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

func TestActivationStringParse(t *testing.T) {
	t.Parallel()
	for _, a := range []Activation{Identity, ReLU, Sigmoid, Tanh} {
		got, err := ParseActivation(a.String())
		if err != nil {
			t.Fatalf("ParseActivation(%q): %v", a.String(), err)
		}
		if got != a {
			t.Errorf("ParseActivation(%q) = %v, want %v", a.String(), got, a)
		}
	}
	for _, name := range []string{"linear", "Linear", "RELU"} {
		if _, err := ParseActivation(name); err != nil {
			t.Errorf("ParseActivation(%q): %v", name, err)
		}
	}
	if _, err := ParseActivation("softplus"); err == nil {
		t.Error(`ParseActivation("softplus") succeeded, want an error`)
	}
	if got, want := Activation(9).String(), "Activation(9)"; got != want {
		t.Errorf("Activation(9).String() = %q, want %q", got, want)
	}
}

// activate applies a to the single value z.
func activate(a Activation, z float32) float32 {
	y := []float32{z}
	activateRows(a, y, []float32{0})
	return y[0]
}

func TestActivationValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a    Activation
		z    float32
		want float64
	}{
		{name: "identity", a: Identity, z: -2.5, want: -2.5},
		{name: "relu negative", a: ReLU, z: -2.5, want: 0},
		{name: "relu positive", a: ReLU, z: 2.5, want: 2.5},
		{name: "sigmoid zero", a: Sigmoid, z: 0, want: 0.5},
		{name: "sigmoid one", a: Sigmoid, z: 1, want: 1 / (1 + math.Exp(-1))},
		{name: "sigmoid minus three", a: Sigmoid, z: -3, want: 1 / (1 + math.Exp(3))},
		{name: "sigmoid large", a: Sigmoid, z: 1e30, want: 1},
		{name: "sigmoid very negative", a: Sigmoid, z: -1e30, want: 0},
		{name: "sigmoid minus 80", a: Sigmoid, z: -80, want: math.Exp(-80)},
		{name: "tanh zero", a: Tanh, z: 0, want: 0},
		{name: "tanh tiny", a: Tanh, z: 1e-20, want: 1e-20},
		{name: "tanh small", a: Tanh, z: 1e-4, want: math.Tanh(1e-4)},
		{name: "tanh one", a: Tanh, z: 1, want: math.Tanh(1)},
		{name: "tanh minus two", a: Tanh, z: -2, want: math.Tanh(-2)},
		{name: "tanh large", a: Tanh, z: 1e30, want: 1},
		{name: "tanh very negative", a: Tanh, z: -1e30, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := float64(activate(tt.a, tt.z))
			// One float32 rounding of the exact value.
			if math.Abs(got-tt.want) > 6e-8*math.Abs(tt.want) {
				t.Errorf("%v(%v) = %v, want %v", tt.a, tt.z, got, tt.want)
			}
		})
	}
}

func TestActivationKeepsNaN(t *testing.T) {
	t.Parallel()
	nan := float32(math.NaN())
	for _, a := range []Activation{Identity, ReLU, Sigmoid, Tanh} {
		if got := activate(a, nan); got == got {
			t.Errorf("%v(NaN) = %v, want NaN", a, got)
		}
	}
}

func TestActivationAddsBias(t *testing.T) {
	t.Parallel()
	z := []float32{1, -2, 3, 4, 5, -6}
	activateRows(ReLU, z, []float32{0.5, 1, -10})
	want := []float32{1.5, 0, 0, 4.5, 6, 0}
	for i := range want {
		if z[i] != want[i] {
			t.Errorf("activateRows(relu)[%d] = %v, want %v", i, z[i], want[i])
		}
	}
}

// TestActivationDerivativeFiniteDifference checks mulDerivative, which works
// from the outputs, against central differences of the activation itself.
func TestActivationDerivativeFiniteDifference(t *testing.T) {
	t.Parallel()
	points := []float32{-4, -1.5, -0.7, -0.1, 0.05, 0.3, 1, 2.2, 5}
	settings := &fd.Settings{Formula: fd.Central, Step: 1e-3}
	for _, a := range []Activation{Identity, ReLU, Sigmoid, Tanh} {
		for _, z := range points {
			f := func(v float64) float64 { return float64(activate(a, float32(v))) }
			want := fd.Derivative(f, float64(z), settings)
			dy := []float32{1}
			mulDerivative(a, dy, []float32{activate(a, z)})
			if got := float64(dy[0]); math.Abs(got-want) > 1e-4 {
				t.Errorf("%v'(%v) = %v, want %v by finite differences", a, z, got, want)
			}
		}
	}
}

func TestActivationDerivativeScales(t *testing.T) {
	t.Parallel()
	// sigmoid(0) = 0.5 has derivative 0.25, tanh(0) = 0 has derivative 1.
	y := []float32{0.5, 0}
	dy := []float32{2, 3}
	mulDerivative(Sigmoid, dy[:1], y[:1])
	mulDerivative(Tanh, dy[1:], y[1:])
	if dy[0] != 0.5 || dy[1] != 3 {
		t.Errorf("derivatives times gradient = %v, want [0.5 3]", dy)
	}
}

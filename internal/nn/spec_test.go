package nn_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestParseSpecLayers(t *testing.T) {
	t.Parallel()
	got, err := nn.ParseSpec("3072-500sigmoid/0.2-500relu-64tanh-32linear-10softmax")
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	want := nn.Spec{Inputs: 3072, Layers: []nn.Layer{
		{Units: 500, Activation: nn.Sigmoid, Dropout: 0.2},
		{Units: 500, Activation: nn.ReLU},
		{Units: 64, Activation: nn.Tanh},
		{Units: 32, Activation: nn.Identity},
		{Units: 10, Activation: nn.Identity},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseSpec mismatch (-want +got):\n%s", diff)
	}
}

func TestSpecStringRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "mnist", in: "784-100relu-60sigmoid-10", want: "784-100relu-60sigmoid-10"},
		{name: "softmax suffix", in: "784-100relu-10softmax", want: "784-100relu-10"},
		{name: "dropout", in: "3072-500sigmoid/0.2-500relu/0.5-10", want: "3072-500sigmoid/0.2-500relu/0.5-10"},
		{name: "zero dropout", in: "4-3tanh/0-2", want: "4-3tanh-2"},
		{name: "linear alias", in: "4-3linear-2", want: "4-3identity-2"},
		{name: "upper case", in: " 4-3ReLU-2SoftMax ", want: "4-3relu-2"},
		{name: "output only", in: "2-2", want: "2-2"},
		{name: "fine dropout", in: "8-8relu/0.123456789-2", want: "8-8relu/0.123456789-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec, err := nn.ParseSpec(tt.in)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got := spec.String(); got != tt.want {
				t.Errorf("ParseSpec(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := nn.ParseSpec(spec.String())
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", spec.String(), err)
			}
			if diff := cmp.Diff(spec, again); diff != "" {
				t.Errorf("spec changed in round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // substring of the error
	}{
		{name: "empty", in: " ", want: "empty, want input size and layers"},
		{name: "no layers", in: "784", want: "no layers after the input size"},
		{name: "bad input size", in: "abc-10", want: `input size "abc": not a positive integer`},
		{name: "zero inputs", in: "0-10", want: `input size "0": want at least 1 unit`},
		{name: "negative inputs", in: "-5-10", want: `input size "": not a positive integer`},
		{name: "empty layer", in: "784--10", want: `layer 1 "": missing unit count`},
		{name: "trailing dash", in: "784-10-", want: "ends with a dash, want the output layer last, as in 784-10-10"},
		{name: "only a dash", in: "784-", want: "ends with a dash"},
		{name: "missing units", in: "784-relu-10", want: `layer 1 "relu": missing unit count`},
		{name: "zero units", in: "784-0relu-10", want: `layer 1 "0relu": want at least 1 unit`},
		{name: "huge units", in: "784-99999999999relu-10", want: "99999999999 units exceed the maximum of 16777216"},
		{name: "missing activation", in: "784-100-10", want: `layer 1 "100": missing activation, want 100relu`},
		{name: "unknown activation", in: "784-100foo-10", want: `layer 1 "100foo": unknown activation "foo"`},
		{name: "hidden softmax", in: "784-100softmax-10", want: "softmax is only valid on the output layer"},
		{name: "bad dropout", in: "784-100relu/x-10", want: `invalid dropout "x", want a probability in [0, 1), as in 100relu/0.2`},
		{name: "dropout one", in: "784-100relu/1-10", want: "layer 1: dropout = 1, want a probability in [0, 1)"},
		{name: "negative dropout", in: "784-100relu/-0.1-10", want: `layer 1 "100relu/": invalid dropout ""`},
		{name: "NaN dropout", in: "784-100relu/NaN-10", want: "layer 1: dropout = NaN"},
		{name: "one class", in: "784-100relu-1", want: "output layer (layer 2): units = 1, want at least 2 classes"},
		{name: "output activation", in: "784-100relu-10relu", want: "output layer (layer 2): activation relu, want identity"},
		{name: "output dropout", in: "784-100relu-10/0.5", want: "dropout = 0.5, want 0, because only hidden layers may drop units"},
		{name: "too many parameters", in: "784-100000relu-100000relu-10",
			want: "layer 2: the network has more than 2147483647 parameters up to this layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec, err := nn.ParseSpec(tt.in)
			if err == nil {
				t.Fatalf("ParseSpec(%q) = %v, want an error containing %q", tt.in, spec, tt.want)
			}
			if !errors.Is(err, nn.ErrInvalidSpec) {
				t.Errorf("ParseSpec(%q) error %q does not wrap ErrInvalidSpec", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSpec(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "nn: parse spec ") {
				t.Errorf("ParseSpec(%q) error = %q, want prefix %q", tt.in, err, "nn: parse spec ")
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec nn.Spec
		want string // substring of the error, or "" for valid
	}{
		{name: "valid", spec: nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 4, Activation: nn.ReLU, Dropout: 0.5}, {Units: 2}}}},
		{name: "no inputs", spec: nn.Spec{Layers: []nn.Layer{{Units: 2}}}, want: "inputs = 0, want 1 to 16777216"},
		{name: "no layers", spec: nn.Spec{Inputs: 3}, want: "no layers, want at least the output layer, as in 3-10"},
		{name: "zero units", spec: nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 0, Activation: nn.ReLU}, {Units: 2}}}, want: "layer 1: units = 0"},
		{name: "bad activation", spec: nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 4, Activation: 7}, {Units: 2}}}, want: "layer 1: activation Activation(7)"},
		{name: "negative dropout", spec: nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 4, Dropout: -0.5}, {Units: 2}}}, want: "layer 1: dropout = -0.5"},
		{name: "one class", spec: nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 1}}}, want: "output layer (layer 1): units = 1, want at least 2"},
		{name: "sigmoid output", spec: nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 2, Activation: nn.Sigmoid}}}, want: "activation sigmoid, want identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.spec.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", tt.spec, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%v) = nil, want an error containing %q", tt.spec, tt.want)
			}
			if !errors.Is(err, nn.ErrInvalidSpec) {
				t.Errorf("Validate error %q does not wrap ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestSpecParamCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		want int
	}{
		// 784*100+100 + 100*60+60 + 60*10+10
		{spec: "784-100relu-60sigmoid-10", want: 85170},
		// 3072*500+500 + 500*500+500 + 500*250+250 + 250*250+250 + 250*10+10
		{spec: "3072-500sigmoid-500relu-250relu-250sigmoid-10", want: 1977510},
		{spec: "2-2", want: 6},
	}
	for _, tt := range tests {
		spec, err := nn.ParseSpec(tt.spec)
		if err != nil {
			t.Fatalf("ParseSpec(%q): %v", tt.spec, err)
		}
		if got := spec.ParamCount(); got != tt.want {
			t.Errorf("ParseSpec(%q).ParamCount() = %d, want %d", tt.spec, got, tt.want)
		}
		if got := spec.Classes(); got != spec.Layers[len(spec.Layers)-1].Units {
			t.Errorf("ParseSpec(%q).Classes() = %d, want the output units", tt.spec, got)
		}
	}
}

package nn_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestPresets(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"cifar10-mlp", "mnist-mlp"}, nn.PresetNames()); diff != "" {
		t.Errorf("PresetNames() mismatch (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		want nn.Spec
	}{
		{name: "mnist-mlp", want: nn.Spec{Inputs: 784, Layers: []nn.Layer{
			{Units: 100, Activation: nn.ReLU},
			{Units: 60, Activation: nn.Sigmoid},
			{Units: 10},
		}}},
		{name: "cifar10-mlp", want: nn.Spec{Inputs: 3072, Layers: []nn.Layer{
			{Units: 500, Activation: nn.Sigmoid},
			{Units: 500, Activation: nn.ReLU},
			{Units: 250, Activation: nn.ReLU},
			{Units: 250, Activation: nn.Sigmoid},
			{Units: 10},
		}}},
	}
	for _, tt := range tests {
		got, err := nn.Preset(tt.name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Preset(%q) mismatch (-want +got):\n%s", tt.name, diff)
		}
		resolved, err := nn.ResolveSpec(tt.name)
		if err != nil {
			t.Fatalf("ResolveSpec(%q): %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, resolved); diff != "" {
			t.Errorf("ResolveSpec(%q) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestPresetReturnsFreshLayers(t *testing.T) {
	t.Parallel()
	first, err := nn.Preset("mnist-mlp")
	if err != nil {
		t.Fatal(err)
	}
	first.Layers[0].Units = 1
	second, err := nn.Preset("mnist-mlp")
	if err != nil {
		t.Fatal(err)
	}
	if second.Layers[0].Units != 100 {
		t.Errorf("Preset after a caller's change: layer 1 units = %d, want 100", second.Layers[0].Units)
	}
}

func TestPresetUnknown(t *testing.T) {
	t.Parallel()
	for _, resolve := range []func(string) (nn.Spec, error){nn.Preset, nn.ResolveSpec} {
		_, err := resolve("mnist")
		if !errors.Is(err, nn.ErrUnknownPreset) {
			t.Fatalf("unknown preset error = %v, want one wrapping ErrUnknownPreset", err)
		}
		for _, want := range []string{`"mnist"`, "cifar10-mlp", "mnist-mlp"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("unknown preset error = %q, want it to contain %q", err, want)
			}
		}
	}
}

func TestResolveSpecString(t *testing.T) {
	t.Parallel()
	got, err := nn.ResolveSpec("10-5tanh-3")
	if err != nil {
		t.Fatalf("ResolveSpec: %v", err)
	}
	want := nn.Spec{Inputs: 10, Layers: []nn.Layer{{Units: 5, Activation: nn.Tanh}, {Units: 3}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResolveSpec mismatch (-want +got):\n%s", diff)
	}
	if _, err := nn.ResolveSpec("10-5tanh"); !errors.Is(err, nn.ErrInvalidSpec) {
		t.Errorf("ResolveSpec(%q) error = %v, want one wrapping ErrInvalidSpec", "10-5tanh", err)
	}
}

package nn

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownPreset is wrapped by the errors of [Preset] and [ResolveSpec]
// for a name that is not a preset.
var ErrUnknownPreset = errors.New("unknown preset")

// presets maps each preset name to its spec string.
var presets = map[string]string{
	"mnist-mlp":   "784-100relu-60sigmoid-10",
	"cifar10-mlp": "3072-500sigmoid-500relu-250relu-250sigmoid-10",
}

// PresetNames returns the names that [Preset] accepts, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Preset returns the spec of a named network:
//
//	mnist-mlp    784-100relu-60sigmoid-10
//	cifar10-mlp  3072-500sigmoid-500relu-250relu-250sigmoid-10
//
// Each call returns a new Layers slice, which the caller may change. An
// unknown name gives an error that wraps [ErrUnknownPreset] and lists the
// presets.
func Preset(name string) (Spec, error) {
	s, ok := presets[name]
	if !ok {
		return Spec{}, fmt.Errorf("nn: %w %q, want one of %s",
			ErrUnknownPreset, name, strings.Join(PresetNames(), ", "))
	}
	spec, err := ParseSpec(s)
	if err != nil {
		panic(fmt.Sprintf("nn: preset %s: %v", name, err))
	}
	return spec, nil
}

// ResolveSpec returns the preset named s, or else the spec that
// [ParseSpec] reads from s. A string that starts with a digit is a spec.
// Any other string that is not a preset gives an error that wraps
// [ErrUnknownPreset] and lists the presets.
func ResolveSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if _, ok := presets[s]; ok {
		return Preset(s)
	}
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		return ParseSpec(s)
	}
	return Spec{}, fmt.Errorf("nn: %w %q, want one of %s, or a spec such as 784-100relu-10",
		ErrUnknownPreset, s, strings.Join(PresetNames(), ", "))
}

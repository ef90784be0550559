package nn_test

import (
	"strings"
	"testing"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestNetworkLayout(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "2-3relu-2", 1, 1)
	params, grad := n.Params(), n.Grad()
	if len(params) != 17 || len(grad) != 17 {
		t.Fatalf("len(Params()), len(Grad()) = %d, %d, want 17, 17", len(params), len(grad))
	}
	offsets := []struct{ w, b, in, out int }{{w: 0, b: 6, in: 2, out: 3}, {w: 9, b: 15, in: 3, out: 2}}
	for l, want := range offsets {
		w, b := n.LayerParams(l)
		if len(w) != want.in*want.out || &w[0] != &params[want.w] {
			t.Errorf("layer %d weights: len %d, want %d at offset %d", l, len(w), want.in*want.out, want.w)
		}
		if len(b) != want.out || &b[0] != &params[want.b] {
			t.Errorf("layer %d biases: len %d, want %d at offset %d", l, len(b), want.out, want.b)
		}
	}
	params[0] = 42
	if n.Params()[0] != 42 {
		t.Error("Params() returned a copy, want the network's own buffer")
	}
	grad[3] = 1
	n.ZeroGrad()
	if n.Grad()[3] != 0 {
		t.Error("ZeroGrad left a nonzero value")
	}
}

func TestNewNetworkErrors(t *testing.T) {
	t.Parallel()
	if _, err := nn.NewNetwork(nn.Spec{Inputs: 3}, 4); err == nil {
		t.Error("NewNetwork with no layers succeeded, want an error")
	}
	spec := nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 2}}}
	if _, err := nn.NewNetwork(spec, 0); err == nil {
		t.Error("NewNetwork with max batch 0 succeeded, want an error")
	}
	wide := nn.Spec{Inputs: 3, Layers: []nn.Layer{{Units: 1 << 20, Activation: nn.ReLU}, {Units: 2}}}
	if _, err := nn.NewNetwork(wide, 1<<12); err == nil || !strings.Contains(err.Error(), "reduce the batch") {
		t.Errorf("NewNetwork with 2^32 values of scratch: error = %v, want one asking for a smaller batch", err)
	}
}

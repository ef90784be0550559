package nn_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestLayerGradLayout(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "2-3relu-2", 1, 1)
	grad := n.Grad()
	for l, want := range []struct{ off, size int }{{off: 0, size: 9}, {off: 9, size: 8}} {
		g := n.LayerGrad(l)
		if len(g) != want.size || &g[0] != &grad[want.off] {
			t.Errorf("LayerGrad(%d): len %d, want %d at offset %d", l, len(g), want.size, want.off)
		}
		if cap(g) != len(g) {
			t.Errorf("LayerGrad(%d): cap %d, want %d so that appends cannot reach the next layer", l, cap(g), len(g))
		}
	}
}

func TestBackwardLayersMatchesBackward(t *testing.T) {
	t.Parallel()
	const spec, rows, seed = "12-8relu/0.25-6sigmoid-5tanh-4", 7, 3
	plain := newTestNetwork(t, spec, rows, seed)
	hooked := newTestNetwork(t, spec, rows, seed)
	x, labels := randomBatch(rand.New(rand.NewPCG(1, 1)), rows, 12, 4)
	if _, _, err := plain.AccumulateGradient(x, labels, 0.5, rand.New(rand.NewPCG(2, 2))); err != nil {
		t.Fatalf("AccumulateGradient: %v", err)
	}

	// The same pass as AccumulateGradient, with the hook.
	logits := hooked.Forward(x, rows, true, rand.New(rand.NewPCG(2, 2)))
	dlogits := make([]float32, len(logits))
	if _, _, err := nn.SoftmaxCrossEntropy(dlogits, logits, labels, 4, 0.5); err != nil {
		t.Fatalf("SoftmaxCrossEntropy: %v", err)
	}
	var order []int
	snapshots := make(map[int][]float32)
	hooked.BackwardLayers(dlogits, func(l int) {
		order = append(order, l)
		snapshots[l] = slices.Clone(hooked.LayerGrad(l))
	})

	if diff := cmp.Diff([]int{3, 2, 1, 0}, order); diff != "" {
		t.Errorf("layerDone order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(plain.Grad(), hooked.Grad()); diff != "" {
		t.Errorf("Grad after BackwardLayers differs from Backward (-want +got):\n%s", diff)
	}
	for l, snap := range snapshots {
		if diff := cmp.Diff(hooked.LayerGrad(l), snap); diff != "" {
			t.Errorf("LayerGrad(%d) changed after layerDone(%d) (-want +got):\n%s", l, l, diff)
		}
	}
}

func TestBackwardLayersZeroRows(t *testing.T) {
	t.Parallel()
	n := newTestNetwork(t, "3-4relu-2", 2, 1)
	n.Forward(nil, 0, true, nil)
	var order []int
	n.BackwardLayers(nil, func(l int) { order = append(order, l) })
	if diff := cmp.Diff([]int{1, 0}, order); diff != "" {
		t.Errorf("layerDone order for zero rows (-want +got):\n%s", diff)
	}
}

package nn_test

import (
	"errors"
	"testing"

	"github.com/ringtrain/ringtrain/internal/nn"
)

var (
	_ nn.Optimizer = (*nn.Adam)(nil)
	_ nn.Optimizer = (*nn.SGD)(nil)
)

func TestSetStateRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opt   nn.Optimizer
		state nn.OptimizerState
	}{
		{name: "adam kind", opt: nn.DefaultAdam(), state: nn.OptimizerState{Kind: "sgd"}},
		{name: "sgd kind", opt: &nn.SGD{LR: 0.1}, state: nn.OptimizerState{Kind: "adam"}},
		{name: "negative steps", opt: nn.DefaultAdam(), state: nn.OptimizerState{Kind: "adam", Steps: -1}},
		{name: "steps without slots", opt: nn.DefaultAdam(), state: nn.OptimizerState{Kind: "adam", Steps: 3}},
		{name: "one slot for adam", opt: nn.DefaultAdam(), state: nn.OptimizerState{
			Kind: "adam", Steps: 1, Slots: [][]float32{{1}},
		}},
		{name: "uneven slots", opt: nn.DefaultAdam(), state: nn.OptimizerState{
			Kind: "adam", Steps: 1, Slots: [][]float32{{1, 2}, {1}},
		}},
		{name: "two slots for sgd", opt: &nn.SGD{LR: 0.1}, state: nn.OptimizerState{
			Kind: "sgd", Steps: 1, Slots: [][]float32{{1}, {1}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := tt.opt.State()
			err := tt.opt.SetState(tt.state)
			if !errors.Is(err, nn.ErrOptimizerState) {
				t.Fatalf("SetState(%+v) = %v, want an error wrapping ErrOptimizerState", tt.state, err)
			}
			if after := tt.opt.State(); after.Steps != before.Steps || len(after.Slots) != len(before.Slots) {
				t.Errorf("rejected SetState changed the state from %+v to %+v", before, after)
			}
		})
	}
}

package nn_test

import (
	"math"
	"strings"
	"testing"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestSGDMomentumByHand(t *testing.T) {
	t.Parallel()
	s := &nn.SGD{LR: 0.1, Momentum: 0.9}
	params := []float32{1}
	// u1 = 1, p = 0.9; u2 = 0.9 + 1 = 1.9, p = 0.71;
	// u3 = 1.71 + 0.5 = 2.21, p = 0.489.
	steps := []struct{ grad, wantU, wantP float64 }{
		{grad: 1, wantU: 1, wantP: 0.9},
		{grad: 1, wantU: 1.9, wantP: 0.71},
		{grad: 0.5, wantU: 2.21, wantP: 0.489},
	}
	for i, st := range steps {
		s.Step(params, []float32{float32(st.grad)})
		if math.Abs(float64(s.Velocity[0])-st.wantU) > 1e-6 {
			t.Errorf("step %d: velocity = %v, want %v", i+1, s.Velocity[0], st.wantU)
		}
		if math.Abs(float64(params[0])-st.wantP) > 1e-6 {
			t.Errorf("step %d: param = %v, want %v", i+1, params[0], st.wantP)
		}
	}
	if s.T != 3 {
		t.Errorf("T = %d, want 3", s.T)
	}
}

func TestSGDResume(t *testing.T) {
	t.Parallel()
	s := &nn.SGD{LR: 0.1, Momentum: 0.9}
	params := []float32{1}
	s.Step(params, []float32{1})
	resumed := &nn.SGD{LR: 0.1, Momentum: 0.9}
	if err := resumed.SetState(s.State()); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	s.Step(params, []float32{1})
	other := []float32{0.9}
	resumed.Step(other, []float32{1})
	if other[0] != params[0] {
		t.Errorf("resumed step: param = %v, want %v", other[0], params[0])
	}
}

func TestSGDValidate(t *testing.T) {
	t.Parallel()
	if err := (&nn.SGD{LR: 0.1, Momentum: 0}).Validate(); err != nil {
		t.Errorf("Validate(LR 0.1, Momentum 0) = %v, want nil", err)
	}
	if err := (&nn.SGD{LR: 0.1, Momentum: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "momentum = 1") {
		t.Errorf("Validate(Momentum 1) = %v, want an error naming the momentum", err)
	}
	if err := (&nn.SGD{LR: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "learning rate = -1") {
		t.Errorf("Validate(LR -1) = %v, want an error naming the learning rate", err)
	}
}

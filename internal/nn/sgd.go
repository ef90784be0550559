package nn

import "math"

// SGD is stochastic gradient descent with momentum. Each Step computes, for
// every parameter p with gradient g and velocity u,
//
//	u = Momentum*u + g
//	p = p - LR*u
//
// in float32. Momentum 0 gives plain gradient descent.
type SGD struct {
	// LR is the learning rate.
	LR float64
	// Momentum is the decay rate of the velocity, in [0, 1).
	Momentum float64

	// Velocity holds one value per parameter. It is allocated on the
	// first Step.
	Velocity []float32
	// T is the number of steps taken.
	T int64
}

// Validate returns an error unless LR is positive and finite and Momentum
// lies in [0, 1).
func (s *SGD) Validate() error {
	if err := checkRate(kindSGD, "learning rate", s.LR, 0, math.Inf(1), false); err != nil {
		return err
	}
	return checkRate(kindSGD, "momentum", s.Momentum, 0, 1, true)
}

// Step applies one update to params in place. It panics if
// len(grad) != len(params), or if Velocity exists with another length.
func (s *SGD) Step(params, grad []float32) {
	if s.Velocity == nil {
		s.Velocity = make([]float32, len(params))
	}
	checkStep(kindSGD, params, grad, s.Velocity)
	s.T++

	mu, lr := float32(s.Momentum), float32(s.LR)
	u := s.Velocity[:len(params)]
	grad = grad[:len(params)]
	for i, g := range grad {
		ui := float32(mu*u[i]) + g
		u[i] = ui
		params[i] -= float32(lr * ui)
	}
}

// State returns a copy of Velocity and T, with Kind "sgd" and Slots
// {Velocity}.
func (s *SGD) State() OptimizerState {
	return OptimizerState{Kind: kindSGD, Steps: s.T, Slots: exportSlots(s.Velocity)}
}

// SetState copies Velocity and T from st, which must have Kind "sgd" and
// either one slot or none with Steps 0.
func (s *SGD) SetState(st OptimizerState) error {
	if err := checkState(st, kindSGD, 1); err != nil {
		return err
	}
	if len(st.Slots) == 0 {
		s.Velocity, s.T = nil, 0
		return nil
	}
	s.Velocity = importSlot(s.Velocity, st.Slots[0])
	s.T = st.Steps
	return nil
}

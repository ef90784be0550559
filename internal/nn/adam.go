package nn

import (
	"math"
)

// Adam is the Adam optimizer with bias correction. The hyperparameters may
// be changed between steps. M, V and T are its state, exported so that a
// caller can inspect them. [Adam.State] and [Adam.SetState] copy them.
//
// Each Step computes, for every parameter p with gradient g,
//
//	m = Beta1*m + (1-Beta1)*g
//	v = Beta2*v + (1-Beta2)*g*g
//	p = p - LR * m̂ / (sqrt(v̂) + Eps)
//
// with m̂ = m/(1-Beta1^T) and v̂ = v/(1-Beta2^T), in float32. A moment m or
// v below the smallest normal float32 in magnitude (about 1.18e-38) is
// stored as zero, so that the state never holds subnormal floats.
type Adam struct {
	// LR is the learning rate. The default is 0.001.
	LR float64
	// Beta1 and Beta2 are the decay rates of the first and second moment
	// estimates, in [0, 1). The defaults are 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is added to sqrt(v̂) to keep the step finite. The default is 1e-8.
	Eps float64

	// M and V are the first and second moment estimates, one per parameter.
	// They are allocated on the first Step.
	M, V []float32
	// T is the number of steps taken.
	T int64
}

// DefaultAdam returns an Adam optimizer with LR 0.001, Beta1 0.9, Beta2
// 0.999 and Eps 1e-8, and no state.
func DefaultAdam() *Adam {
	return &Adam{LR: 0.001, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Validate returns an error unless LR and Eps are positive and finite and
// Beta1 and Beta2 lie in [0, 1).
func (a *Adam) Validate() error {
	if err := checkRate(kindAdam, "learning rate", a.LR, 0, math.Inf(1), false); err != nil {
		return err
	}
	if err := checkRate(kindAdam, "beta1", a.Beta1, 0, 1, true); err != nil {
		return err
	}
	if err := checkRate(kindAdam, "beta2", a.Beta2, 0, 1, true); err != nil {
		return err
	}
	return checkRate(kindAdam, "eps", a.Eps, 0, math.Inf(1), false)
}

// Step applies one Adam update to params in place. It panics if
// len(grad) != len(params), or if M and V exist with another length.
func (a *Adam) Step(params, grad []float32) {
	if a.M == nil && a.V == nil {
		a.M = make([]float32, len(params))
		a.V = make([]float32, len(params))
	}
	checkStep(kindAdam, params, grad, a.M, a.V)
	a.T++

	// math.Pow with an integer exponent only multiplies, so the bias
	// corrections have the same bits on every platform.
	t := float64(a.T)
	k := adamCoeffs{
		b1: float32(a.Beta1), b2: float32(a.Beta2),
		d1: float32(1 - a.Beta1), d2: float32(1 - a.Beta2),
		c1: float32(1 / (1 - math.Pow(a.Beta1, t))),
		c2: float32(1 / (1 - math.Pow(a.Beta2, t))),
		lr: float32(a.LR), eps: float32(a.Eps),
	}
	n := len(params)
	adamUpdate(params, grad[:n], a.M[:n], a.V[:n], &k)
}

// minNormal is the smallest positive normal float32, 2^-126.
const minNormal = 0x1p-126

// adamCoeffs are the float32 factors of one Adam step: the decay rates
// b1, b2, their complements d1 = 1-b1 and d2 = 1-b2, the bias corrections
// c1 = 1/(1-b1^T) and c2 = 1/(1-b2^T), the learning rate and epsilon.
type adamCoeffs struct {
	b1, b2, d1, d2, c1, c2, lr, eps float32
}

// adamUpdateGo is the Adam update in Go, the definition that the C kernel
// of the openblas build reproduces bit for bit.
//
// A moment whose magnitude falls below the smallest normal float32 is set
// to zero. Without the flush, the first moment of a weight whose gradient
// stays zero decays by Beta1 each step into subnormal floats, and x86
// processors can take many times longer for arithmetic on those. A flushed
// first moment would have moved its parameter by at most
// LR·c1·2^-126/Eps, under 1.2e-29·LR for Beta1 = 0.9 (c1 <= 10) and
// Eps = 1e-8. A flushed second moment changes the denominator by under
// 1e-11 relative to Eps.
func adamUpdateGo(params, grad, m, v []float32, k *adamCoeffs) {
	m, v = m[:len(params)], v[:len(params)]
	grad = grad[:len(params)]
	for i, g := range grad {
		mi := float32(k.b1*m[i]) + float32(k.d1*g)
		vi := float32(k.b2*v[i]) + float32(k.d2*float32(g*g))
		// The comparisons are false for NaN, which stays NaN so that a
		// diverging run shows in the loss.
		if -minNormal < mi && mi < minNormal {
			mi = 0
		}
		if vi < minNormal {
			vi = 0
		}
		m[i], v[i] = mi, vi
		den := float32(math.Sqrt(float64(float32(vi*k.c2)))) + k.eps
		params[i] -= float32(k.lr*float32(mi*k.c1)) / den
	}
}

// State returns a copy of M, V and T, with Kind "adam" and Slots {M, V}.
func (a *Adam) State() OptimizerState {
	return OptimizerState{Kind: kindAdam, Steps: a.T, Slots: exportSlots(a.M, a.V)}
}

// SetState copies M, V and T from s, which must have Kind "adam" and either
// two equally long slots or none with Steps 0.
func (a *Adam) SetState(s OptimizerState) error {
	if err := checkState(s, kindAdam, 2); err != nil {
		return err
	}
	if len(s.Slots) == 0 {
		a.M, a.V, a.T = nil, nil, 0
		return nil
	}
	a.M = importSlot(a.M, s.Slots[0])
	a.V = importSlot(a.V, s.Slots[1])
	a.T = s.Steps
	return nil
}

package nn

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrOptimizerState is wrapped by the errors of SetState for a state that
// does not fit the optimizer.
var ErrOptimizerState = errors.New("invalid optimizer state")

// Optimizer updates parameters from their gradient. Implementations keep
// per-parameter state, which State and SetState export and import exactly,
// for checkpoints and for a worker that joins a running job.
//
// An Optimizer is not safe for concurrent use.
type Optimizer interface {
	// Step applies one update to params in place, using grad. The state
	// buffers take the length of params on the first Step. Step panics if
	// len(grad) != len(params) or if the state has a different length.
	Step(params, grad []float32)
	// State returns a deep copy of the mutable state.
	State() OptimizerState
	// SetState replaces the mutable state with a copy of s. It returns an
	// error wrapping ErrOptimizerState if s belongs to another kind of
	// optimizer or is inconsistent, and then leaves the state unchanged.
	SetState(s OptimizerState) error
}

// OptimizerState is the mutable state of an [Optimizer], without its
// hyperparameters.
type OptimizerState struct {
	// Kind names the optimizer: "adam" or "sgd".
	Kind string
	// Steps is the number of Step calls so far.
	Steps int64
	// Slots holds the per-parameter buffers, each as long as the
	// parameters: M and V for Adam, the velocity for SGD. It is empty
	// before the first Step.
	Slots [][]float32
}

// Optimizer kinds as written in [OptimizerState.Kind].
const (
	kindAdam = "adam"
	kindSGD  = "sgd"
)

// exportSlots returns deep copies of the buffers, or nil before the first
// step, when they are all nil.
func exportSlots(bufs ...[]float32) [][]float32 {
	if bufs[0] == nil {
		return nil
	}
	slots := make([][]float32, len(bufs))
	for i, b := range bufs {
		slots[i] = slices.Clone(b)
	}
	return slots
}

// checkState returns an error unless s is a state of the given kind with
// either no slots and no steps, or the given number of equally long slots.
func checkState(s OptimizerState, kind string, slots int) error {
	switch {
	case s.Kind != kind:
		return fmt.Errorf("nn: %s: set state: %w: kind %q, want %q", kind, ErrOptimizerState, s.Kind, kind)
	case s.Steps < 0:
		return fmt.Errorf("nn: %s: set state: %w: steps = %d, want at least 0", kind, ErrOptimizerState, s.Steps)
	case len(s.Slots) == 0 && s.Steps != 0:
		return fmt.Errorf("nn: %s: set state: %w: %d steps but no slots, want %d slots",
			kind, ErrOptimizerState, s.Steps, slots)
	case len(s.Slots) != 0 && len(s.Slots) != slots:
		return fmt.Errorf("nn: %s: set state: %w: %d slots, want %d", kind, ErrOptimizerState, len(s.Slots), slots)
	}
	for i, slot := range s.Slots {
		if len(slot) != len(s.Slots[0]) {
			return fmt.Errorf("nn: %s: set state: %w: slot %d has %d values, slot 0 has %d",
				kind, ErrOptimizerState, i, len(slot), len(s.Slots[0]))
		}
	}
	return nil
}

// importSlot copies src into dst, reusing dst's memory when it is long
// enough. A nil src gives nil.
func importSlot(dst, src []float32) []float32 {
	if src == nil {
		return nil
	}
	if cap(dst) < len(src) {
		dst = make([]float32, len(src))
	}
	dst = dst[:len(src)]
	copy(dst, src)
	return dst
}

// checkStep panics unless grad and every state buffer match params.
func checkStep(kind string, params, grad []float32, bufs ...[]float32) {
	if len(grad) != len(params) {
		panic(fmt.Sprintf("nn: %s: step: len(grad) = %d, want len(params) = %d", kind, len(grad), len(params)))
	}
	for _, b := range bufs {
		if len(b) != len(params) {
			panic(fmt.Sprintf("nn: %s: step: state has %d values, want len(params) = %d", kind, len(b), len(params)))
		}
	}
}

// checkRate returns an error unless v is a finite number in [low, high),
// or in (low, high) when low is excluded.
func checkRate(kind, field string, v, low, high float64, lowIncluded bool) error {
	ok := v < high && (v > low || lowIncluded && v == low) && !math.IsInf(v, 0)
	if ok {
		return nil
	}
	bracket := "("
	if lowIncluded {
		bracket = "["
	}
	return fmt.Errorf("nn: %s: %s = %v, want a value in %s%v, %v)", kind, field, v, bracket, low, high)
}

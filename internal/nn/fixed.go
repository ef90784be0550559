package nn

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// FixedFractionBits is the number of fraction bits of the fixed-point values
// that exact mode sums: a value v is stored as the int64 round(v·2^32), so
// one unit is 2^-32 and the range is about ±2^31. The package documentation
// explains the choice under Numerics.
const FixedFractionBits = 32

// fixedOne is 2^FixedFractionBits as a float64. Multiplying or dividing by
// it only changes the exponent, so it never rounds.
const fixedOne = 1 << FixedFractionBits

// ErrFixedPointRange is wrapped by the errors for a value that fixed point
// cannot hold: NaN, an infinity, or a magnitude at or above the limit.
var ErrFixedPointRange = errors.New("value outside the fixed-point range")

// FixedLimit returns the bound, in fixed-point units, that the magnitude of
// each of parts summands must stay below so that no sum of them, partial or
// total and in any order, overflows an int64. The bound is 2^(63-b), where b
// is the bit length of parts: parts < 2^b, so parts·2^(63-b) <= 2^63 and a
// sum of parts values below the bound stays below 2^63 in magnitude. It
// panics if parts < 1.
func FixedLimit(parts int) int64 {
	if parts < 1 {
		panic(fmt.Sprintf("nn: fixed limit: parts = %d, want at least 1", parts))
	}
	return 1 << (63 - bits.Len(uint(parts)))
}

// ToFixed returns v in fixed point, round(v·2^32) with ties to even, and
// true. It returns 0 and false when v is NaN or infinite, or when the
// rounded magnitude is not below limit, which must be positive.
func ToFixed(v float64, limit int64) (int64, bool) {
	x := math.RoundToEven(v * fixedOne)
	// The comparison is false for NaN, and float64(limit) is exact for
	// the powers of two that FixedLimit returns. For other limits it may
	// round up, which the integer check below catches.
	if !(math.Abs(x) < float64(limit)) {
		return 0, false
	}
	f := int64(x)
	if f >= limit || f <= -limit {
		return 0, false
	}
	return f, true
}

// FromFixed returns the fixed-point value f as a float64, f·2^-32. It is
// exact for |f| <= 2^53 and correctly rounded beyond.
func FromFixed(f int64) float64 {
	return float64(f) / fixedOne
}

// FixedPointError reports a gradient value that fixed point cannot hold. It
// wraps [ErrFixedPointRange].
type FixedPointError struct {
	// Layer is the layer of the value, counted from 1 for the first hidden
	// layer, and Units and Activation describe it.
	Layer      int
	Units      int
	Activation Activation
	// Bias is true for a bias and false for a weight. Index is the
	// position in the layer's biases or in its row-major weights.
	Bias  bool
	Index int
	Value float32
	// Limit is the magnitude, in real units, that the value reached or
	// exceeded. It is irrelevant for NaN and infinities.
	Limit float64
}

func (e *FixedPointError) Error() string {
	where := fmt.Sprintf("weight %d (input %d, unit %d)", e.Index, e.Index/e.Units, e.Index%e.Units)
	if e.Bias {
		where = fmt.Sprintf("bias %d", e.Index)
	}
	layer := fmt.Sprintf("layer %d (%d %s units)", e.Layer, e.Units, e.Activation)
	v := float64(e.Value)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("nn: %s: gradient of %s is %v, which fixed point cannot hold: "+
			"training has diverged; lower the learning rate", layer, where, v)
	}
	return fmt.Sprintf("nn: %s: gradient of %s is %g, at or beyond the fixed-point limit of ±%g for a micro-batch of this global batch: "+
		"training has diverged; lower the learning rate", layer, where, v, e.Limit)
}

// Unwrap returns [ErrFixedPointRange].
func (e *FixedPointError) Unwrap() error { return ErrFixedPointRange }

// AddGradientFixed converts every element of [Network.Grad] to fixed point
// with [ToFixed] and adds it to sum, which has the same layout. Integer
// addition is exact and associative, so the sums of several gradients come
// out the same in any order.
//
// A NaN or infinite element, or one whose magnitude is not below limit,
// returns a [*FixedPointError] that names its layer and position. Elements
// before it have then been added to sum, and the caller should discard it.
// AddGradientFixed panics if len(sum) != len(Grad) or limit < 1.
func (n *Network) AddGradientFixed(sum []int64, limit int64) error {
	if len(sum) != len(n.grad) {
		panic(fmt.Sprintf("nn: add gradient fixed: len(sum) = %d, want the parameter count %d", len(sum), len(n.grad)))
	}
	if limit < 1 {
		panic(fmt.Sprintf("nn: add gradient fixed: limit = %d, want at least 1", limit))
	}
	off := 0
	for i := range n.layers {
		l := &n.layers[i]
		for _, part := range []struct {
			grad []float32
			bias bool
		}{{l.dw, false}, {l.db, true}} {
			dst := sum[off : off+len(part.grad)]
			for j, v := range part.grad {
				f, ok := ToFixed(float64(v), limit)
				if !ok {
					return &FixedPointError{
						Layer: i + 1, Units: l.out, Activation: l.activation,
						Bias: part.bias, Index: j, Value: v, Limit: FromFixed(limit),
					}
				}
				dst[j] += f
			}
			off += len(part.grad)
		}
	}
	return nil
}

// SetMeanGradient sets [Network.Grad] to the fixed-point sum divided by
// count, the number of samples the sum covers: each element becomes
// float32(sum·2^-32 / count). It divides in float64 and then rounds to
// float32. Both operations are correctly rounded, so the result has the
// same bits on every platform. It panics if len(sum) != len(Grad) or
// count < 1.
func (n *Network) SetMeanGradient(sum []int64, count int) {
	if len(sum) != len(n.grad) {
		panic(fmt.Sprintf("nn: set mean gradient: len(sum) = %d, want the parameter count %d", len(sum), len(n.grad)))
	}
	if count < 1 {
		panic(fmt.Sprintf("nn: set mean gradient: count = %d, want at least 1", count))
	}
	// fixedOne·count is exact for any count below 2^53.
	divisor := fixedOne * float64(count)
	for i, f := range sum {
		n.grad[i] = float32(float64(f) / divisor)
	}
}

package nn

import (
	"math"
	"math/rand/v2"
)

// The functions in this file replace math.Exp and math.Log where the result
// feeds parameters or gradients. On amd64, math.Exp (Go 1.26) chooses an FMA
// code path at run time when the CPU has FMA, so two machines running the
// same binary can disagree in the last bit. These versions use only +, -, *, /,
// math.Sqrt, which are correctly rounded, and math.Floor and math.Frexp,
// which are exact. Every product that feeds a sum is rounded by an explicit
// float64 conversion, which keeps the compiler from fusing it into an FMA.

const (
	// ln2Hi + ln2Lo is ln 2 to well beyond float64 precision. ln2Hi has its
	// low 21 bits zero, so k*ln2Hi is exact for |k| < 2^21, which covers
	// every exponent k of a float64.
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	log2E = 1.44269504088896338700e+00

	// expm1Limit bounds |r| after range reduction: ln 2 / 2, rounded up.
	expm1Limit = 0.3466
	// expMax and expMin are the arguments beyond which e^x overflows to
	// +Inf or underflows to 0 in float64.
	expMax = 709.782712893384
	expMin = -745.1332191019412
)

// expm1Coeffs holds 1/n! for n = 2, 3, ..., 12. The Taylor series of e^r - 1
// cut after r^12 is accurate to a relative 1e-15 for |r| <= expm1Limit.
var expm1Coeffs = [...]float64{
	1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
	1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
	1.0 / 479001600,
}

// expm1Small returns e^r - 1 for |r| <= expm1Limit.
func expm1Small(r float64) float64 {
	p := expm1Coeffs[len(expm1Coeffs)-1]
	for i := len(expm1Coeffs) - 2; i >= 0; i-- {
		p = expm1Coeffs[i] + float64(r*p)
	}
	return r + float64(float64(r*r)*p)
}

// detExp returns e^x with the same bits on every platform.
func detExp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > expMax:
		return math.Inf(1)
	case x < expMin:
		return 0
	}

	// Reduce x = k ln 2 + r with |r| <= ln 2 / 2, then e^x = 2^k e^r.
	k := math.Floor(float64(x*log2E) + 0.5)
	r := (x - float64(k*ln2Hi)) - float64(k*ln2Lo)
	y := 1 + expm1Small(r)
	e := int(k)
	if e > 1023 {
		return float64(y*2) * pow2(e-1)
	}
	if e < -1020 {
		// 2^e would be subnormal: scale in two steps so that no step loses
		// bits before the last.
		return float64(y*pow2(e+60)) * pow2(-60)
	}
	return y * pow2(e)
}

// pow2 returns 2^e for -1022 <= e <= 1023.
func pow2(e int) float64 {
	return math.Float64frombits(uint64(e+1023) << 52)
}

// detExpm1 returns e^x - 1 with the same bits on every platform, accurate
// near zero where detExp(x) - 1 would cancel.
func detExpm1(x float64) float64 {
	if -expm1Limit <= x && x <= expm1Limit {
		return expm1Small(x)
	}
	return detExp(x) - 1
}

// logCoeffs holds 1/(2n+1) for n = 1, 2, ..., 10, the coefficients of
// log((1+s)/(1-s)) = 2s (1 + s^2/3 + s^4/5 + ...).
var logCoeffs = [...]float64{
	1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9, 1.0 / 11, 1.0 / 13, 1.0 / 15,
	1.0 / 17, 1.0 / 19, 1.0 / 21,
}

// detLog returns the natural logarithm of x with the same bits on every
// platform. It returns NaN for x < 0 or NaN, -Inf for 0 and +Inf for +Inf.
func detLog(x float64) float64 {
	switch {
	case x != x || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case math.IsInf(x, 1):
		return x
	}

	// Write x = f 2^e with sqrt(1/2) <= f < sqrt(2). Then s = (f-1)/(f+1)
	// satisfies |s| < 0.1716, where the series converges after 10 terms.
	f, e := math.Frexp(x)
	if f < math.Sqrt2/2 {
		f *= 2
		e--
	}
	s := (f - 1) / (f + 1)
	z := float64(s * s)
	p := logCoeffs[len(logCoeffs)-1]
	for i := len(logCoeffs) - 2; i >= 0; i-- {
		p = logCoeffs[i] + float64(z*p)
	}
	logF := 2*s + float64(float64(2*s)*float64(z*p))
	k := float64(e)
	return float64(k*ln2Hi) + (float64(k*ln2Lo) + logF)
}

// normalSource draws standard normal numbers from a PCG-backed rand.Rand by
// the Marsaglia polar method, which needs only uniform draws, detLog and
// math.Sqrt. Each accepted pair of uniforms gives two normals.
type normalSource struct {
	rng      *rand.Rand
	spare    float64
	hasSpare bool
}

// next returns the next standard normal number.
func (s *normalSource) next() float64 {
	if s.hasSpare {
		s.hasSpare = false
		return s.spare
	}
	for {
		u := 2*s.rng.Float64() - 1
		v := 2*s.rng.Float64() - 1
		q := float64(u*u) + float64(v*v)
		if q == 0 || q >= 1 {
			continue
		}
		m := math.Sqrt(-2 * detLog(q) / q)
		s.spare, s.hasSpare = float64(v*m), true
		return float64(u * m)
	}
}

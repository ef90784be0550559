//go:build openblas && cgo

package nn

// The elementwise loops of a training step in C: Adam's update and the
// sigmoid with AVX-512 or AVX2 intrinsics, where Go's compiler emits one
// float at a time, and the simpler activations as plain loops. The program
// picks the widest instruction set that the processor has, at each call.
// The intrinsics are plain multiplies, adds, divides and square roots,
// never fused, and each rounds to float32 as the Go definitions do, so every
// kernel returns the same bits as its Go counterpart. GCC's vectorizer
// cannot be used here: it leaves sqrtf scalar unless given -fno-math-errno,
// a flag that cgo rejects in #cgo lines.

/*
#cgo CFLAGS: -O3 -std=c11
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

typedef struct {
	float b1, b2, d1, d2, c1, c2, lr, eps;
} adam_coeffs;

// kernel_isa caps the instruction set of the kernels: 2 allows AVX-512,
// 1 AVX2, 0 neither. Tests lower it to check every path.
static int kernel_isa = 2;

static int use_avx512(void) {
	return kernel_isa >= 2 && __builtin_cpu_supports("avx512f");
}

static int use_avx2(void) {
	return kernel_isa >= 1 && __builtin_cpu_supports("avx2");
}

static void set_kernel_isa(int isa) {
	kernel_isa = isa;
}

// adam_scalar mirrors adamUpdateGo on n elements.
static void adam_scalar(float *p, const float *g, float *m, float *v,
		ptrdiff_t n, const adam_coeffs *k) {
	const float tiny = 0x1p-126f;
	for (ptrdiff_t i = 0; i < n; i++) {
		float gi = g[i];
		float mi = k->b1 * m[i] + k->d1 * gi;
		float vi = k->b2 * v[i] + k->d2 * (gi * gi);
		mi = (-tiny < mi && mi < tiny) ? 0.0f : mi;
		vi = (vi < tiny) ? 0.0f : vi;
		m[i] = mi;
		v[i] = vi;
		float den = sqrtf(vi * k->c2) + k->eps;
		p[i] -= (k->lr * (mi * k->c1)) / den;
	}
}

__attribute__((target("avx512f")))
static ptrdiff_t adam_avx512(float *p, const float *g, float *m, float *v,
		ptrdiff_t n, const adam_coeffs *k) {
	const __m512 b1 = _mm512_set1_ps(k->b1), b2 = _mm512_set1_ps(k->b2);
	const __m512 d1 = _mm512_set1_ps(k->d1), d2 = _mm512_set1_ps(k->d2);
	const __m512 c1 = _mm512_set1_ps(k->c1), c2 = _mm512_set1_ps(k->c2);
	const __m512 lr = _mm512_set1_ps(k->lr), eps = _mm512_set1_ps(k->eps);
	const __m512 tiny = _mm512_set1_ps(0x1p-126f), zero = _mm512_setzero_ps();
	ptrdiff_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 gi = _mm512_loadu_ps(g + i);
		__m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(d1, gi));
		__m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
			_mm512_mul_ps(d2, _mm512_mul_ps(gi, gi)));
		// Ordered comparisons are false for NaN, which stays.
		mi = _mm512_mask_mov_ps(mi, _mm512_cmp_ps_mask(_mm512_abs_ps(mi), tiny, _CMP_LT_OQ), zero);
		vi = _mm512_mask_mov_ps(vi, _mm512_cmp_ps_mask(vi, tiny, _CMP_LT_OQ), zero);
		_mm512_storeu_ps(m + i, mi);
		_mm512_storeu_ps(v + i, vi);
		__m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, c2)), eps);
		__m512 step = _mm512_div_ps(_mm512_mul_ps(lr, _mm512_mul_ps(mi, c1)), den);
		_mm512_storeu_ps(p + i, _mm512_sub_ps(_mm512_loadu_ps(p + i), step));
	}
	return i;
}

__attribute__((target("avx2")))
static ptrdiff_t adam_avx2(float *p, const float *g, float *m, float *v,
		ptrdiff_t n, const adam_coeffs *k) {
	const __m256 b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
	const __m256 d1 = _mm256_set1_ps(k->d1), d2 = _mm256_set1_ps(k->d2);
	const __m256 c1 = _mm256_set1_ps(k->c1), c2 = _mm256_set1_ps(k->c2);
	const __m256 lr = _mm256_set1_ps(k->lr), eps = _mm256_set1_ps(k->eps);
	const __m256 tiny = _mm256_set1_ps(0x1p-126f), zero = _mm256_setzero_ps();
	const __m256 sign = _mm256_set1_ps(-0.0f);
	ptrdiff_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 gi = _mm256_loadu_ps(g + i);
		__m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(d1, gi));
		__m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
			_mm256_mul_ps(d2, _mm256_mul_ps(gi, gi)));
		mi = _mm256_blendv_ps(mi, zero, _mm256_cmp_ps(_mm256_andnot_ps(sign, mi), tiny, _CMP_LT_OQ));
		vi = _mm256_blendv_ps(vi, zero, _mm256_cmp_ps(vi, tiny, _CMP_LT_OQ));
		_mm256_storeu_ps(m + i, mi);
		_mm256_storeu_ps(v + i, vi);
		__m256 den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, c2)), eps);
		__m256 step = _mm256_div_ps(_mm256_mul_ps(lr, _mm256_mul_ps(mi, c1)), den);
		_mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), step));
	}
	return i;
}

// adam_update takes the coefficients by value: a pointer to them would make
// Go move them to the heap at every call.
static void adam_update(float *p, const float *g, float *m, float *v,
		ptrdiff_t n, adam_coeffs coeffs) {
	const adam_coeffs *k = &coeffs;
	ptrdiff_t done = 0;
	if (use_avx512()) {
		done = adam_avx512(p, g, m, v, n, k);
	} else if (use_avx2()) {
		done = adam_avx2(p, g, m, v, n, k);
	}
	adam_scalar(p + done, g + done, m + done, v + done, n - done, k);
}

// The expm1 Taylor coefficients and the constants of detmath.go.
static const double expm1_coeffs[11] = {
	1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
	1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
	1.0 / 479001600,
};
static const double ln2_hi = 6.93147180369123816490e-01;
static const double ln2_lo = 1.90821492927058770002e-10;
static const double log2_e = 1.44269504088896338700e+00;

// sigmoid_floor is where the sigmoid kernels clamp -|x|. Below it, e^-|x|
// is under 2^-173, and both 1/(1+e) and e/(1+e) round to the same float32
// (1 or 0) as the exact value does, so the clamp changes no result and
// keeps 2^k normal.
static const double sigmoid_floor = -120;

// sigmoid_scalar mirrors sigmoid in activation.go.
static float sigmoid_scalar(float z) {
	double x = z;
	if (x != x) {
		return z;
	}
	double t = -fabs(x);
	if (t < sigmoid_floor) {
		t = sigmoid_floor;
	}
	double k = floor(t * log2_e + 0.5);
	double r = (t - k * ln2_hi) - k * ln2_lo;
	double p = expm1_coeffs[10];
	for (int i = 9; i >= 0; i--) {
		p = expm1_coeffs[i] + r * p;
	}
	double y = 1 + (r + (r * r) * p);
	double e = ldexp(y, (int)k);
	return x >= 0 ? (float)(1 / (1 + e)) : (float)(e / (1 + e));
}

__attribute__((target("avx512f")))
static __m256 sigmoid8_avx512(__m256 z) {
	const __m512d one = _mm512_set1_pd(1), zero = _mm512_setzero_pd();
	__m512d x = _mm512_cvtps_pd(z);
	// max returns its second operand for NaN, so t stays finite; NaN is
	// put back at the end.
	__m512d t = _mm512_max_pd(_mm512_sub_pd(zero, _mm512_abs_pd(x)), _mm512_set1_pd(sigmoid_floor));
	__m512d k = _mm512_roundscale_pd(_mm512_add_pd(_mm512_mul_pd(t, _mm512_set1_pd(log2_e)), _mm512_set1_pd(0.5)),
		_MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	__m512d r = _mm512_sub_pd(_mm512_sub_pd(t, _mm512_mul_pd(k, _mm512_set1_pd(ln2_hi))),
		_mm512_mul_pd(k, _mm512_set1_pd(ln2_lo)));
	__m512d p = _mm512_set1_pd(expm1_coeffs[10]);
	for (int i = 9; i >= 0; i--) {
		p = _mm512_add_pd(_mm512_set1_pd(expm1_coeffs[i]), _mm512_mul_pd(r, p));
	}
	__m512d y = _mm512_add_pd(one, _mm512_add_pd(r, _mm512_mul_pd(_mm512_mul_pd(r, r), p)));
	// scalef multiplies by 2^k exactly, since the product is normal.
	__m512d e = _mm512_scalef_pd(y, k);
	__m512d den = _mm512_add_pd(one, e);
	__m512d s = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, zero, _CMP_GE_OQ),
		_mm512_div_pd(e, den), _mm512_div_pd(one, den));
	s = _mm512_mask_mov_pd(s, _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), x);
	return _mm512_cvtpd_ps(s);
}

__attribute__((target("avx2")))
static __m128 sigmoid4_avx2(__m128 z) {
	const __m256d one = _mm256_set1_pd(1), zero = _mm256_setzero_pd();
	__m256d x = _mm256_cvtps_pd(z);
	__m256d t = _mm256_max_pd(_mm256_sub_pd(zero, _mm256_andnot_pd(_mm256_set1_pd(-0.0), x)),
		_mm256_set1_pd(sigmoid_floor));
	__m256d k = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(t, _mm256_set1_pd(log2_e)), _mm256_set1_pd(0.5)));
	__m256d r = _mm256_sub_pd(_mm256_sub_pd(t, _mm256_mul_pd(k, _mm256_set1_pd(ln2_hi))),
		_mm256_mul_pd(k, _mm256_set1_pd(ln2_lo)));
	__m256d p = _mm256_set1_pd(expm1_coeffs[10]);
	for (int i = 9; i >= 0; i--) {
		p = _mm256_add_pd(_mm256_set1_pd(expm1_coeffs[i]), _mm256_mul_pd(r, p));
	}
	__m256d y = _mm256_add_pd(one, _mm256_add_pd(r, _mm256_mul_pd(_mm256_mul_pd(r, r), p)));
	__m256i bits = _mm256_slli_epi64(
		_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k)), _mm256_set1_epi64x(1023)), 52);
	__m256d e = _mm256_mul_pd(y, _mm256_castsi256_pd(bits));
	__m256d den = _mm256_add_pd(one, e);
	__m256d s = _mm256_blendv_pd(_mm256_div_pd(e, den), _mm256_div_pd(one, den),
		_mm256_cmp_pd(x, zero, _CMP_GE_OQ));
	s = _mm256_blendv_pd(s, x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
	return _mm256_cvtpd_ps(s);
}

// sigmoid_rows_* set z[r][j] = sigmoid(z[r][j] + b[j]) for rows rows of
// units values.
__attribute__((target("avx512f")))
static void sigmoid_rows_avx512(float *z, const float *b, ptrdiff_t rows, ptrdiff_t units) {
	for (ptrdiff_t r = 0; r < rows; r++) {
		float *row = z + r * units;
		ptrdiff_t j = 0;
		for (; j + 8 <= units; j += 8) {
			__m256 v = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(b + j));
			_mm256_storeu_ps(row + j, sigmoid8_avx512(v));
		}
		for (; j < units; j++) {
			row[j] = sigmoid_scalar(row[j] + b[j]);
		}
	}
}

__attribute__((target("avx2")))
static void sigmoid_rows_avx2(float *z, const float *b, ptrdiff_t rows, ptrdiff_t units) {
	for (ptrdiff_t r = 0; r < rows; r++) {
		float *row = z + r * units;
		ptrdiff_t j = 0;
		for (; j + 4 <= units; j += 4) {
			__m128 v = _mm_add_ps(_mm_loadu_ps(row + j), _mm_loadu_ps(b + j));
			_mm_storeu_ps(row + j, sigmoid4_avx2(v));
		}
		for (; j < units; j++) {
			row[j] = sigmoid_scalar(row[j] + b[j]);
		}
	}
}

static void sigmoid_rows(float *z, const float *b, ptrdiff_t rows, ptrdiff_t units) {
	if (use_avx512()) {
		sigmoid_rows_avx512(z, b, rows, units);
		return;
	}
	if (use_avx2()) {
		sigmoid_rows_avx2(z, b, rows, units);
		return;
	}
	for (ptrdiff_t r = 0; r < rows; r++) {
		for (ptrdiff_t j = 0; j < units; j++) {
			z[r * units + j] = sigmoid_scalar(z[r * units + j] + b[j]);
		}
	}
}

// The loops below have no square root or exponential, so the compiler
// vectorizes them for the baseline instruction set by itself.

// relu_rows mirrors the ReLU case of activateRowsGo.
static void relu_rows(float *restrict z, const float *restrict b, ptrdiff_t rows, ptrdiff_t units) {
	for (ptrdiff_t r = 0; r < rows; r++) {
		float *restrict row = z + r * units;
		for (ptrdiff_t j = 0; j < units; j++) {
			float v = row[j] + b[j];
			row[j] = v < 0 ? 0.0f : v;
		}
	}
}

// bias_rows mirrors the Identity case of activateRowsGo.
static void bias_rows(float *restrict z, const float *restrict b, ptrdiff_t rows, ptrdiff_t units) {
	for (ptrdiff_t r = 0; r < rows; r++) {
		float *restrict row = z + r * units;
		for (ptrdiff_t j = 0; j < units; j++) {
			row[j] += b[j];
		}
	}
}

// sigmoid_derivative and relu_derivative mirror mulDerivativeGo.
static void sigmoid_derivative(float *restrict dy, const float *restrict y, ptrdiff_t n) {
	for (ptrdiff_t i = 0; i < n; i++) {
		dy[i] *= y[i] * (1 - y[i]);
	}
}

static void relu_derivative(float *restrict dy, const float *restrict y, ptrdiff_t n) {
	for (ptrdiff_t i = 0; i < n; i++) {
		dy[i] = y[i] > 0 ? dy[i] : 0.0f;
	}
}

// det_exp mirrors detExp in detmath.go.
static double det_exp(double x) {
	if (x != x) {
		return x;
	}
	if (x > 709.782712893384) {
		return INFINITY;
	}
	if (x < -745.1332191019412) {
		return 0;
	}
	double k = floor(x * log2_e + 0.5);
	double r = (x - k * ln2_hi) - k * ln2_lo;
	double p = expm1_coeffs[10];
	for (int i = 9; i >= 0; i--) {
		p = expm1_coeffs[i] + r * p;
	}
	double y = 1 + (r + (r * r) * p);
	int e = (int)k;
	if (e > 1023) {
		return (y * 2) * ldexp(1, e - 1);
	}
	if (e < -1020) {
		return (y * ldexp(1, e + 60)) * ldexp(1, -60);
	}
	return y * ldexp(1, e);
}

// log_coeffs holds 1/(2n+1) for n = 1 to 10, as logCoeffs in detmath.go.
static const double log_coeffs[10] = {
	1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9, 1.0 / 11, 1.0 / 13, 1.0 / 15,
	1.0 / 17, 1.0 / 19, 1.0 / 21,
};

// det_log mirrors detLog in detmath.go.
static double det_log(double x) {
	if (x != x || x < 0) {
		return NAN;
	}
	if (x == 0) {
		return -INFINITY;
	}
	if (isinf(x)) {
		return x;
	}
	int e;
	double f = frexp(x, &e);
	if (f < 0.70710678118654752440084436210484903928483593768847) {
		f *= 2;
		e--;
	}
	double s = (f - 1) / (f + 1);
	double z = s * s;
	double p = log_coeffs[9];
	for (int i = 8; i >= 0; i--) {
		p = log_coeffs[i] + z * p;
	}
	double log_f = 2 * s + (2 * s) * (z * p);
	double k = e;
	return k * ln2_hi + (k * ln2_lo + log_f);
}

typedef struct {
	double loss;
	long long correct;
} xent_result;

// softmax_rows mirrors softmaxRowsGo. The exponentials of a row of up to
// 64 classes are kept from the sum for the gradient, where the Go loop
// computes them again with the same bits. dlogits may be logits.
static xent_result softmax_rows(float *dlogits, const float *logits, const unsigned char *labels,
		ptrdiff_t rows, ptrdiff_t classes, float scale) {
	xent_result res = {0, 0};
	double kept[64];
	for (ptrdiff_t r = 0; r < rows; r++) {
		const float *z = logits + r * classes;
		ptrdiff_t top = 0;
		for (ptrdiff_t j = 1; j < classes; j++) {
			if (z[j] > z[top]) {
				top = j;
			}
		}
		double zmax = z[top], sum = 0;
		for (ptrdiff_t j = 0; j < classes; j++) {
			double e = det_exp((double)z[j] - zmax);
			if (j < 64) {
				kept[j] = e;
			}
			sum += e;
		}
		ptrdiff_t y = labels[r];
		res.loss += ((double)z[top] - (double)z[y]) + det_log(sum);
		if (top == y) {
			res.correct++;
		}
		if (dlogits == NULL) {
			continue;
		}
		float *dz = dlogits + r * classes;
		double s = scale;
		for (ptrdiff_t j = 0; j < classes; j++) {
			double e = j < 64 ? kept[j] : det_exp((double)z[j] - zmax);
			double p = e / sum;
			if (j == y) {
				p -= 1;
			}
			dz[j] = (float)(s * p);
		}
	}
	return res;
}
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// adamUpdate applies one Adam update with the coefficients k, with the
// results of adamUpdateGo. Large updates are split into blocks, one per
// goroutine up to GOMAXPROCS, since every element is updated on its own.
func adamUpdate(params, grad, m, v []float32, k *adamCoeffs) {
	n := len(params)
	p := adamPart{params: params, grad: grad[:n], m: m[:n], v: v[:n], k: *k}
	parts := min(runtime.GOMAXPROCS(0), maxParts, n/adamPartSize)
	if parts < 2 {
		p.run()
		return
	}
	size := (n + parts - 1) / parts
	size = (size + 15) / 16 * 16
	part := func(i int) job {
		return job{isAdam: true, adam: p.slice(i*size, min((i+1)*size, n))}
	}
	fork(part, (n+size-1)/size)
}

// adamPartSize is the fewest parameters of each part of a split Adam
// step. A part of 2^16 parameters streams 1.8 MB through memory, an
// estimated 60 to 120 microseconds at 15 to 30 GB/s, well above the few
// microseconds of handing it over.
const adamPartSize = 1 << 16

// adamPart is an Adam update of a block of parameters.
type adamPart struct {
	params, grad, m, v []float32
	k                  adamCoeffs
}

func (p *adamPart) slice(start, end int) adamPart {
	return adamPart{params: p.params[start:end], grad: p.grad[start:end],
		m: p.m[start:end], v: p.v[start:end], k: p.k}
}

func (p *adamPart) run() {
	n := len(p.params)
	if n == 0 {
		return
	}
	C.adam_update((*C.float)(unsafe.Pointer(&p.params[0])), (*C.float)(unsafe.Pointer(&p.grad[0])),
		(*C.float)(unsafe.Pointer(&p.m[0])), (*C.float)(unsafe.Pointer(&p.v[0])),
		C.ptrdiff_t(n), *(*C.adam_coeffs)(unsafe.Pointer(&p.k)))
}

// activateRows adds the bias b to every row of z and applies a in place,
// with the results of activateRowsGo.
func activateRows(a Activation, z, b []float32) {
	units := len(b)
	rows := len(z) / max(units, 1)
	if rows == 0 || units == 0 {
		return
	}
	zp, bp := (*C.float)(unsafe.Pointer(&z[0])), (*C.float)(unsafe.Pointer(&b[0]))
	switch a {
	case Identity:
		C.bias_rows(zp, bp, C.ptrdiff_t(rows), C.ptrdiff_t(units))
	case ReLU:
		C.relu_rows(zp, bp, C.ptrdiff_t(rows), C.ptrdiff_t(units))
	case Sigmoid:
		C.sigmoid_rows(zp, bp, C.ptrdiff_t(rows), C.ptrdiff_t(units))
	default:
		activateRowsGo(a, z, b)
	}
}

// mulDerivative multiplies dy by the derivative of a at the outputs y,
// with the results of mulDerivativeGo.
func mulDerivative(a Activation, dy, y []float32) {
	if len(dy) == 0 {
		return
	}
	y = y[:len(dy)]
	dp, yp := (*C.float)(unsafe.Pointer(&dy[0])), (*C.float)(unsafe.Pointer(&y[0]))
	switch a {
	case ReLU:
		C.relu_derivative(dp, yp, C.ptrdiff_t(len(dy)))
	case Sigmoid:
		C.sigmoid_derivative(dp, yp, C.ptrdiff_t(len(dy)))
	default:
		mulDerivativeGo(a, dy, y)
	}
}

// setKernelISA caps the instruction set of the kernels, for tests: 2
// allows AVX-512, 1 AVX2 and 0 only the scalar loops. It is not safe to
// call while a kernel runs.
func setKernelISA(isa int) {
	C.set_kernel_isa(C.int(isa))
}

// softmaxRows computes SoftmaxCrossEntropy's results for checked
// arguments, with the results of softmaxRowsGo.
func softmaxRows(dlogits, logits []float32, labels []uint8, classes int, scale float32) (lossSum float64, correct int) {
	if len(labels) == 0 {
		return 0, 0
	}
	var dp *C.float
	if dlogits != nil {
		dp = (*C.float)(unsafe.Pointer(&dlogits[0]))
	}
	res := C.softmax_rows(dp, (*C.float)(unsafe.Pointer(&logits[0])),
		(*C.uchar)(unsafe.Pointer(&labels[0])), C.ptrdiff_t(len(labels)), C.ptrdiff_t(classes), C.float(scale))
	return float64(res.loss), int(res.correct)
}

//go:build openblas && cgo

package nn

// The elementwise loops of a training step in C, with AVX-512 or AVX2
// intrinsics where Go's compiler emits one float at a time. The program
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
	if (__builtin_cpu_supports("avx512f")) {
		done = adam_avx512(p, g, m, v, n, k);
	} else if (__builtin_cpu_supports("avx2")) {
		done = adam_avx2(p, g, m, v, n, k);
	}
	adam_scalar(p + done, g + done, m + done, v + done, n - done, k);
}
*/
import "C"

import "unsafe"

// adamUpdate applies one Adam update with the coefficients k, with the
// results of adamUpdateGo.
func adamUpdate(params, grad, m, v []float32, k *adamCoeffs) {
	n := len(params)
	if n == 0 {
		return
	}
	grad, m, v = grad[:n], m[:n], v[:n]
	C.adam_update((*C.float)(unsafe.Pointer(&params[0])), (*C.float)(unsafe.Pointer(&grad[0])),
		(*C.float)(unsafe.Pointer(&m[0])), (*C.float)(unsafe.Pointer(&v[0])),
		C.ptrdiff_t(n), *(*C.adam_coeffs)(unsafe.Pointer(k)))
}

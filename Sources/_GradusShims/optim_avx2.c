/* Adam / diffGrad element step in AVX2+FMA (see gradus_optim_kernels.h for the contract).
 *
 * The package is built for baseline x86-64 (SSE2, no FMA), where diffGrad's loop is compute-bound: per element
 * it runs the moments, |g_prev − g|, a Cephes exp polynomial, a square root and a division. Here only these
 * functions are compiled for AVX2+FMA (target attributes), 8 lanes, the polynomial and the moments contracted
 * into FMAs; callers check gradus__cpu_has_avx2_fma() first. The arithmetic follows AdamPreconditioner.ElementStep
 * and OptimizerScalar's Float.inverseLogisticOfMagnitude in the same order, except for the FMAs and the two
 * shortcuts of friction_denominator (see there). */
#include "include/gradus_optim_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define GRADUS_AVX2_FMA __attribute__((target("avx2,fma")))
#define GRADUS_INLINE static inline __attribute__((always_inline)) GRADUS_AVX2_FMA
/* Prefetch distance in elements (128 floats = 512 bytes; prefetches never fault past the end). */
#ifndef GRADUS_PREFETCH
#define GRADUS_PREFETCH 128
#endif

int32_t gradus__cpu_has_avx2_fma(void) {
    /* libgcc/compiler-rt check XGETBV (the OS saves YMM state) before reporting AVX features. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* friction_denominator's general path: 1 + e^−|x|, x: 8 lanes. −|x| = n·ln2 + r, |r| ≤ ln2/2,
 * eʳ = 1 + r + r²p(r) with p cubic (a near-minimax fit of degree 5 on [−ln2/2, ln2/2], |error| < 1e−7), 2ⁿ built
 * in the exponent bits: adding 1.5·2²³ + 127 rounds to the integer n + 127, which then sits in the low mantissa
 * bits of k, so k's bits shifted left by 23 are 2ⁿ. Clamped
 * below at −87.33654 (2ⁿ stays normal; σ is 1 to float32 precision there). max(c, y) returns y when y is NaN (MAXPS
 * returns its second operand), as Swift's `y < c ? c : y`.
 * Four operations fewer than the Swift loop (Float.inverseLogisticOfMagnitude, the degree-6 Cephes polynomial), and
 * more accurate, because only 1 + eˣ is needed, never eˣ alone: an error of 1e−7 in eʳ is below an ulp of 1 + eˣ;
 * r = x − n·ln2 takes one FMA (ln2's float32 rounding error times n is below 2.5e−7 relative to eˣ, and eˣ ≤ 2⁻⁴
 * whenever n ≤ −5, so the error in 1 + eˣ stays below 2e−8); 1 + 2ⁿ(1 + q) is fma(2ⁿ, q, 1 + 2ⁿ), q = r + r²p(r);
 * and the exponent bias sits in the rounding constant. Checked on every 5th float32 in ±[0, 200]: 1 + e^−|x| within
 * 0.83 ulp of float64, σ = 1/(1 + e^−|x|) within 1.25 ulp (the Swift loop's σ: 3 ulp). */
GRADUS_INLINE __m256 friction_denominator_full(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f), magic = _mm256_set1_ps(12582912.0f + 127.0f);
    const __m256 y = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));
    const __m256 xc = _mm256_max_ps(_mm256_set1_ps(-87.33654f), y);
    const __m256 k = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504f), magic);
    const __m256 n = _mm256_sub_ps(k, magic);
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147182f), xc);
    __m256 p = _mm256_set1_ps(0.008373688906431198f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.04189878702163696f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.16666467487812042f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.49999141693115234f));
    const __m256 q = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(k), 23));
    return _mm256_fmadd_ps(scale, q, _mm256_add_ps(scale, one));
}

/* 1 + e^−|x|, x: 8 lanes. When every |x| < 1/16 (the usual size of a gradient's change between steps), the Taylor
 * polynomial 2 − t + t²/2 − t³/6 + t⁴/24 of t = |x| in four FMAs: truncation below t⁵/120 < 8e−9 (0.07 ulp), checked
 * on every 7th float32 of ±[0, 1/16): 1 + e^−|x| within 0.58 ulp of float64 and σ within 0.79 ulp (the full path:
 * 0.76 and 0.90 there). Otherwise, or for NaN and ±∞, friction_denominator_full. diffGrad's step on 10M elements at
 * one thread: 21.8 → 19.6 ms (C harness, Zen 1; the polynomial had bound the loop, 17.5 ms without any). */
GRADUS_INLINE __m256 friction_denominator(__m256 x) {
    const __m256 t = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 small = _mm256_cmp_ps(t, _mm256_set1_ps(0.0625f), _CMP_LT_OQ);
    if (_mm256_movemask_ps(small) != 0xFF) return friction_denominator_full(x);
    __m256 p = _mm256_fmadd_ps(t, _mm256_set1_ps(1.0f / 24.0f), _mm256_set1_ps(-1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.0f));
    return _mm256_fmadd_ps(p, t, _mm256_set1_ps(2.0f));
}

/* Whole vectors use plain unaligned loads; the tail (< 8 elements) the same code with masked loads and stores
 * (inactive lanes read as 0 and are never written). */
GRADUS_INLINE __m256 load8(const float *p, __m256i mask, int full) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}
/* Active lanes j < remaining (sign bit set), for a tail of remaining < 8 elements. */
GRADUS_INLINE __m256i tail_mask(int64_t remaining) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)remaining), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
GRADUS_INLINE void store8(float *p, __m256i mask, int full, __m256 x) {
    if (full) _mm256_storeu_ps(p, x); else _mm256_maskstore_ps(p, mask, x);
}

typedef struct {
    __m256 b1, c1, b2, c2, a, eps, s, pre, c, post, pc, ps, th;
} adam_coefficients;

/* SPAM's spike-aware clipping of 8 lanes of g against v before this step (SpikeAwareClipping.clip): g·g > θ·v →
 * √(θ·v) with g's sign (such a g is never ±0 or NaN, so OR-ing in its sign bit is the Swift loop's select). The
 * clipped lanes are counted in *count: −1 per lane per clip, summed at the end; the lanes are 32-bit, enough for
 * 2^31 clips per lane in one call (the executor calls per 4096-element block). Spikes are rare: the square root
 * and the blend run only when a lane clips (vtestps), so the divider keeps its one √ and one ÷ per 8 lanes. */
GRADUS_INLINE __m256 spike_clip(__m256 g, __m256 v_old, __m256 th, __m256i *count) {
    const __m256 limit = _mm256_mul_ps(th, v_old);
    const __m256 spike = _mm256_cmp_ps(_mm256_mul_ps(g, g), limit, _CMP_GT_OQ);
    if (_mm256_testz_ps(spike, spike)) return g;
    *count = _mm256_add_epi32(*count, _mm256_castps_si256(spike));
    const __m256 r = _mm256_or_ps(_mm256_sqrt_ps(limit), _mm256_and_ps(g, _mm256_set1_ps(-0.0f)));
    return _mm256_blendv_ps(g, r, spike);
}

/* Elements [i, i+8) (the active lanes of `mask` when !full). mode 0: write u; 1: θ ← θ + c·u (a = b = 1, where
 * θ·1 and (…)·1 are exact, so skipping them changes no bit, as in Kernels.applyUpdate); 2: θ ← (θ·a + c·u)·b;
 * 3: θ ← (θ·a + c·(u·w))·b. */
GRADUS_INLINE void adam_lanes(const gradus__adam_step_f32_args *args, const adam_coefficients *k, int64_t i,
                              __m256i mask, int full, int friction, int nesterov, int mode, int project, int clip,
                              __m256i *clipped) {
    /* With project, θ is loaded once, here, for the projection and the update (mode != 0 whenever project is
     * set); without, where the update needs it (loading it first made Adam and diffGrad ~5% slower). */
    const __m256 th_early = project ? load8(args->parameters + i, mask, full) : _mm256_setzero_ps();
    __m256 x = load8(args->input + i, mask, full);
    if (project) x = _mm256_mul_ps(k->ps, _mm256_sub_ps(x, _mm256_mul_ps(k->pc, th_early)));
    __m256 g = _mm256_mul_ps(k->s, x);
    /* with clip, v is loaded once, here, for the clipping and the moment; without, where the moment needs it */
    const __m256 v_old = clip ? load8(args->v + i, mask, full) : _mm256_setzero_ps();
    if (clip) g = spike_clip(g, v_old, k->th, clipped);
    __m256 f = _mm256_setzero_ps();
    if (friction) {
        f = friction_denominator(_mm256_sub_ps(load8(args->previous + i, mask, full), g));
        store8(args->previous + i, mask, full, g);
    }
    const __m256 c1g = _mm256_mul_ps(k->c1, g);
    const __m256 mi = _mm256_fmadd_ps(k->b1, load8(args->m + i, mask, full), c1g);
    const __m256 vi = _mm256_fmadd_ps(k->b2, clip ? v_old : load8(args->v + i, mask, full),
                                      _mm256_mul_ps(_mm256_mul_ps(k->c2, g), g));
    store8(args->m + i, mask, full, mi);
    store8(args->v + i, mask, full, vi);
    __m256 den = _mm256_fmadd_ps(_mm256_sqrt_ps(vi), k->a, k->eps);
    if (friction) den = _mm256_mul_ps(den, f);
    const __m256 num = nesterov ? _mm256_fmadd_ps(k->b1, mi, c1g) : mi;
    const __m256 u = _mm256_div_ps(num, den);
    if (mode == 0) {
        store8(args->output + i, mask, full, u);
    } else {
        const __m256 cu = mode == 3 ? _mm256_mul_ps(k->c, _mm256_mul_ps(u, load8(args->weights + i, mask, full)))
                                    : _mm256_mul_ps(k->c, u);
        const __m256 th = project ? th_early : load8(args->parameters + i, mask, full);
        const __m256 updated = mode == 1 ? _mm256_add_ps(th, cu)
                                         : _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(th, k->pre), cu), k->post);
        store8(args->parameters + i, mask, full, updated);
    }
}

GRADUS_INLINE int64_t adam_block(const gradus__adam_step_f32_args *args, int friction, int nesterov, int mode, int project,
                                  int clip) {
    const adam_coefficients k = {
        _mm256_set1_ps(args->beta1), _mm256_set1_ps(args->one_minus_beta1),
        _mm256_set1_ps(args->beta2), _mm256_set1_ps(args->one_minus_beta2),
        _mm256_set1_ps(args->denominator_scale), _mm256_set1_ps(args->epsilon),
        _mm256_set1_ps(args->input_scale), _mm256_set1_ps(args->pre_factor),
        _mm256_set1_ps(args->scale), _mm256_set1_ps(args->post_factor),
        _mm256_set1_ps(args->projection_coefficient), _mm256_set1_ps(args->projection_scale),
        _mm256_set1_ps(args->clip_threshold),
    };
    __m256i clipped = _mm256_setzero_si256();
    const int64_t n = args->count;
    const __m256i none = _mm256_setzero_si256();
    int64_t i = 0;
    /* One cache line of each stream per iteration, prefetched 512 bytes ahead: with the exp polynomial, a square
     * root and a division per lane, the out-of-order window does not reach far enough ahead for the hardware
     * prefetcher alone on 5–6 streams (a C microbenchmark on Zen 1, 10M elements, 1 thread: diffGrad 28.4 → 26.1 ms,
     * Adam 19.2 → 16.5 ms). */
    for (; i + 16 <= n; i += 16) {
        _mm_prefetch((const char *)(args->input + i + GRADUS_PREFETCH), _MM_HINT_T0);
        _mm_prefetch((const char *)(args->m + i + GRADUS_PREFETCH), _MM_HINT_T0);
        _mm_prefetch((const char *)(args->v + i + GRADUS_PREFETCH), _MM_HINT_T0);
        if (friction) _mm_prefetch((const char *)(args->previous + i + GRADUS_PREFETCH), _MM_HINT_T0);
        if (mode != 0) _mm_prefetch((const char *)(args->parameters + i + GRADUS_PREFETCH), _MM_HINT_T0);
        if (mode == 3) _mm_prefetch((const char *)(args->weights + i + GRADUS_PREFETCH), _MM_HINT_T0);
        adam_lanes(args, &k, i, none, 1, friction, nesterov, mode, project, clip, &clipped);
        adam_lanes(args, &k, i + 8, none, 1, friction, nesterov, mode, project, clip, &clipped);
    }
    if (i + 8 <= n) { adam_lanes(args, &k, i, none, 1, friction, nesterov, mode, project, clip, &clipped); i += 8; }
    if (i < n) {
        /* inactive lanes read g = v = 0: 0 > 0 is false, so they never count as clipped */
        const __m256i mask = tail_mask(n - i);
        adam_lanes(args, &k, i, mask, 0, friction, nesterov, mode, project, clip, &clipped);
    }
    if (!clip) return 0;
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, clipped);
    int64_t total = 0;
    for (int j = 0; j < 8; j++) total -= lanes[j];
    return total;
}

/* One straight-line loop per combination of what is given (the flags are constants in each call). */
GRADUS_AVX2_FMA int64_t gradus__adam_step_f32_avx2(const gradus__adam_step_f32_args *args) {
    const int mode = args->parameters == 0 ? 0
                   : args->weights != 0 ? 3
                   : args->pre_factor == 1.0f && args->post_factor == 1.0f ? 1 : 2;
    const int friction = args->previous != 0, nesterov = args->nesterov != 0;
    if (args->project != 0) {
        /* ⊥Grad folded in (⊥AdamW): parameters given, no previous gradient, no weights (the header's contract). */
        switch (nesterov * 4 + mode) {
        case 1: return adam_block(args, 0, 0, 1, 1, 0);
        case 2: return adam_block(args, 0, 0, 2, 1, 0);
        case 5: return adam_block(args, 0, 1, 1, 1, 0);
        default: return adam_block(args, 0, 1, 2, 1, 0);
        }
    }
    if (args->clip != 0) {
        /* SPAM's clipping folded in: no previous gradient, no weights (the header's contract). */
        switch (nesterov * 4 + mode) {
        case 0: return adam_block(args, 0, 0, 0, 0, 1);
        case 1: return adam_block(args, 0, 0, 1, 0, 1);
        case 2: return adam_block(args, 0, 0, 2, 0, 1);
        case 4: return adam_block(args, 0, 1, 0, 0, 1);
        case 5: return adam_block(args, 0, 1, 1, 0, 1);
        default: return adam_block(args, 0, 1, 2, 0, 1);
        }
    }
    switch ((friction * 2 + nesterov) * 4 + mode) {
    case 0: return adam_block(args, 0, 0, 0, 0, 0);
    case 1: return adam_block(args, 0, 0, 1, 0, 0);
    case 2: return adam_block(args, 0, 0, 2, 0, 0);
    case 3: return adam_block(args, 0, 0, 3, 0, 0);
    case 4: return adam_block(args, 0, 1, 0, 0, 0);
    case 5: return adam_block(args, 0, 1, 1, 0, 0);
    case 6: return adam_block(args, 0, 1, 2, 0, 0);
    case 7: return adam_block(args, 0, 1, 3, 0, 0);
    case 8: return adam_block(args, 1, 0, 0, 0, 0);
    case 9: return adam_block(args, 1, 0, 1, 0, 0);
    case 10: return adam_block(args, 1, 0, 2, 0, 0);
    case 11: return adam_block(args, 1, 0, 3, 0, 0);
    case 12: return adam_block(args, 1, 1, 0, 0, 0);
    case 13: return adam_block(args, 1, 1, 1, 0, 0);
    case 14: return adam_block(args, 1, 1, 2, 0, 0);
    default: return adam_block(args, 1, 1, 3, 0, 0);
    }
}

GRADUS_AVX2_FMA void gradus__friction_denominator_f32_avx2(const float *x, float *out, int64_t count) {
    for (int64_t i = 0; i < count; i += 8) {
        const int full = count - i >= 8;
        const __m256i mask = full ? _mm256_set1_epi32(-1) : tail_mask(count - i);
        store8(out + i, mask, 0, friction_denominator(load8(x + i, mask, 0)));
    }
}

/* Four float32 accumulators of 8 lanes per chunk (each lane sums GRADUS_STAT_CHUNK/32 squares, FMA), added in a fixed
 * order, widened to float64 and added to two float64 accumulators of 4 lanes: no float→double conversion per element
 * (the Swift loop widened every element; on Zen 1 that bound the pass, not memory). The partial tail chunk uses the
 * same code with masked loads (inactive lanes read 0). max |x| with MAXPS(|x|, m): NaN lanes leave m unchanged. */
GRADUS_AVX2_FMA void gradus__max_abs_sum_squares_f32_avx2(const float *x, int64_t count, float *max_magnitude,
                                                          double *sum_of_squares) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
    __m256d d0 = _mm256_setzero_pd(), d1 = _mm256_setzero_pd();
    for (int64_t c = 0; c < count; c += GRADUS_STAT_CHUNK) {
        const int64_t end = count - c < GRADUS_STAT_CHUNK ? count : c + GRADUS_STAT_CHUNK;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        int64_t i = c;
        if (end - c == GRADUS_STAT_CHUNK) {
            for (; i < end; i += 32) {
                /* Both cache lines of the next-but-… iteration, 1 KiB ahead: one read stream alone left the core
                 * waiting on memory (C microbenchmark, 10M floats in blocks of 4096, 1 thread: 3.8 → 2.85 ms;
                 * 2 and 4 KiB ahead were slower). */
                _mm_prefetch((const char *)(x + i + 256), _MM_HINT_T0);
                _mm_prefetch((const char *)(x + i + 256 + 16), _MM_HINT_T0);
                const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
                const __m256 e = _mm256_loadu_ps(x + i + 16), f = _mm256_loadu_ps(x + i + 24);
                s0 = _mm256_fmadd_ps(a, a, s0); s1 = _mm256_fmadd_ps(b, b, s1);
                s2 = _mm256_fmadd_ps(e, e, s2); s3 = _mm256_fmadd_ps(f, f, s3);
                m0 = _mm256_max_ps(_mm256_and_ps(a, abs_mask), m0); m1 = _mm256_max_ps(_mm256_and_ps(b, abs_mask), m1);
                m0 = _mm256_max_ps(_mm256_and_ps(e, abs_mask), m0); m1 = _mm256_max_ps(_mm256_and_ps(f, abs_mask), m1);
            }
        } else {
            for (; i < end; i += 8) {
                const __m256i mask = tail_mask(end - i);
                const __m256 a = _mm256_maskload_ps(x + i, mask);
                s0 = _mm256_fmadd_ps(a, a, s0);
                m0 = _mm256_max_ps(_mm256_and_ps(a, abs_mask), m0);
            }
        }
        const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        d0 = _mm256_add_pd(d0, _mm256_cvtps_pd(_mm256_castps256_ps128(s)));
        d1 = _mm256_add_pd(d1, _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1)));
    }
    float mx[8];
    double sd[4];
    _mm256_storeu_ps(mx, _mm256_max_ps(m0, m1));
    _mm256_storeu_pd(sd, _mm256_add_pd(d0, d1));
    float m = 0;
    for (int k = 0; k < 8; k++) m = mx[k] > m ? mx[k] : m;
    *max_magnitude = m;
    *sum_of_squares = (sd[0] + sd[1]) + (sd[2] + sd[3]);
}

/* The 8 lanes of s widened to float64 and added pairwise (lane j + lane j+4): 4 float64 lanes. */
GRADUS_INLINE __m256d widen_pairs(__m256 s) {
    return _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)), _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1)));
}

/* ⊥Grad's dot products of one block: dots[0] += Σ v·u, dots[1] += Σ u·u, dots[2] += Σ v·v. Products summed in float32
 * lanes (FMA, two accumulators per sum) over fixed chunks of GRADUS_DOT_CHUNK elements from v[0], each chunk's
 * sums widened and added in float64 in chunk order: no conversion per element, deterministic for a block. */
GRADUS_AVX2_FMA void gradus__projection_dots_f32_avx2(const float *v, const float *u, int64_t count, double *dots) {
    __m256d dd = _mm256_setzero_pd(), da = _mm256_setzero_pd(), db = _mm256_setzero_pd();
    for (int64_t c = 0; c < count; c += GRADUS_DOT_CHUNK) {
        const int64_t end = count - c < GRADUS_DOT_CHUNK ? count : c + GRADUS_DOT_CHUNK;
        __m256 d0 = _mm256_setzero_ps(), d1 = d0, a0 = d0, a1 = d0, b0 = d0, b1 = d0;
        int64_t i = c;
        if (end - c == GRADUS_DOT_CHUNK) {
            for (; i < end; i += 16) {
                const __m256 x = _mm256_loadu_ps(v + i), y = _mm256_loadu_ps(u + i);
                const __m256 x2 = _mm256_loadu_ps(v + i + 8), y2 = _mm256_loadu_ps(u + i + 8);
                d0 = _mm256_fmadd_ps(x, y, d0); a0 = _mm256_fmadd_ps(y, y, a0); b0 = _mm256_fmadd_ps(x, x, b0);
                d1 = _mm256_fmadd_ps(x2, y2, d1); a1 = _mm256_fmadd_ps(y2, y2, a1); b1 = _mm256_fmadd_ps(x2, x2, b1);
            }
        } else {
            for (; i < end; i += 8) {
                const __m256i mask = tail_mask(end - i);
                const __m256 x = _mm256_maskload_ps(v + i, mask), y = _mm256_maskload_ps(u + i, mask);
                d0 = _mm256_fmadd_ps(x, y, d0); a0 = _mm256_fmadd_ps(y, y, a0); b0 = _mm256_fmadd_ps(x, x, b0);
            }
        }
        const __m256 d = _mm256_add_ps(d0, d1), a = _mm256_add_ps(a0, a1), b = _mm256_add_ps(b0, b1);
        dd = _mm256_add_pd(dd, widen_pairs(d));
        da = _mm256_add_pd(da, widen_pairs(a));
        db = _mm256_add_pd(db, widen_pairs(b));
    }
    double t[4];
    _mm256_storeu_pd(t, dd); dots[0] += (t[0] + t[1]) + (t[2] + t[3]);
    _mm256_storeu_pd(t, da); dots[1] += (t[0] + t[1]) + (t[2] + t[3]);
    _mm256_storeu_pd(t, db); dots[2] += (t[0] + t[1]) + (t[2] + t[3]);
}

#else
/* Not x86: no AVX2 kernel; callers take their portable path. */
int32_t gradus__cpu_has_avx2_fma(void) { return 0; }
int64_t gradus__adam_step_f32_avx2(const gradus__adam_step_f32_args *args) { (void)args; return 0; }
void gradus__friction_denominator_f32_avx2(const float *x, float *out, int64_t count) { (void)x; (void)out; (void)count; }
void gradus__max_abs_sum_squares_f32_avx2(const float *x, int64_t count, float *max_magnitude, double *sum_of_squares) {
    (void)x; (void)count; *max_magnitude = 0; *sum_of_squares = 0;
}
void gradus__projection_dots_f32_avx2(const float *v, const float *u, int64_t count, double *dots) {
    (void)v; (void)u; (void)count; (void)dots;
}
#endif

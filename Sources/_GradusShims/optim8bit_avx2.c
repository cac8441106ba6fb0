/* 8-bit Adam step in AVX2 (see gradus_optim8bit_kernels.h for the contract).
 *
 * The Swift kernel (Blockwise8bitMoments.adamStep) is built for baseline x86-64 (SSE2, 4 lanes); per element it
 * does four table lookups (decode m and v through 256-entry value tables, encode both through the folded 2^18-entry
 * table), a division and a square root. Here, per quantization block (≤ 2048 elements, scratch on the stack):
 * 1. 8 lanes: the 8 codes of m and of v are loaded as two u32 each and the 8 values built from 8 scalar loads with
 *    vinsertps/vinsertf128 (no gather: vgatherdps is ~20 uops on Zen 1); the moments (to the scratch); the block's
 *    absmax as the unsigned max of the |x| bit patterns (a NaN's pattern orders above ∞'s, as the Swift kernel's NaN
 *    path, and for other values the same order as the magnitudes); the update and θ one step behind (the √, ÷, +, ÷
 *    chain of elements i − 8 overlaps the lookups of elements i: the loop was bound by that chain's latency, 5% faster);
 * 2. requantize each moment: the scaled patterns b = bits(x·(1/absmax)) in vector lanes (to the scratch), then
 *    reloaded two per u64 (keys (u32)p >> 14 and p >> 46 by integer shifts), the table entries inserted into vector
 *    lanes, and (F + (b ^ (b >>ₐ 31))) >> 14 packed to bytes, 16 codes per store.
 * √v is multiplied by 1/√(1 − β2^k) (rounded once per step) instead of divided by √(1 − β2^k) as the spec writes it
 * (AdamPreconditioner8bit's deviation note): the loop was bound by the divider (vsqrtps + two vdivps per 8 lanes),
 * and one vdivps less took 9% off the step (C harness, 10M elements, 1 and 2 threads).
 * Measured on Zen 1 and rejected: vgatherdps/vpgatherdd for either lookup (slower), the remaining division
 * replaced by vrcpps with a Newton step (3% slower than the division), one table of (m, v) value pairs keyed by
 * cm | cv << 8 for the decode (512 KiB: cache misses made it 16% slower), a 2^16-entry folded table keyed by the
 * high u16 of each pattern (movzx loads: 20% slower), the division by the bias correction replaced by a reciprocal
 * with two FMA refinements (a longer dependency chain),
 * the update's divisions moved to a second loop, the next block's moments computed in the loop that requantizes the
 * previous one, 128-bit lanes, keys moved to integer registers by vpextrq, and an arithmetic decode (the dynamic map
 * evaluated per lane with vpermps per-decade constants: 2× slower) — all slower.
 * The same float32 operations in the same order as the Swift kernel, without FMA (contraction off), so the two are
 * bit-identical; the last (partial) block's < 8 remaining elements take a scalar loop of the same operations. */
#include "include/gradus_optim8bit_kernels.h"
#include "include/gradus_math.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma clang fp contract(off)

#define A8_AVX2 __attribute__((target("avx2,fma")))
#define A8_INLINE static inline __attribute__((always_inline)) A8_AVX2
#define A8_MAX_BLOCK 2048

/* 4 entries t[x & 255], …, t[x >> 24] of a 256-entry table of 4-byte entries (4 codes in one u32: the byte
 * extraction costs fewer integer operations than from a u64). */
A8_INLINE __m128 lookup4_codes(const float *t, uint32_t x) {
    __m128 r = _mm_load_ss(t + (x & 255));
    r = _mm_insert_ps(r, _mm_load_ss(t + ((x >> 8) & 255)), 0x10);
    r = _mm_insert_ps(r, _mm_load_ss(t + ((x >> 16) & 255)), 0x20);
    return _mm_insert_ps(r, _mm_load_ss(t + (x >> 24)), 0x30);
}

/* 8 entries t[c[0]], …, t[c[7]]. */
A8_INLINE __m256 lookup8_codes(const float *t, const uint8_t *c) {
    uint32_t lo, hi;
    memcpy(&lo, c, 4);
    memcpy(&hi, c + 4, 4);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lookup4_codes(t, lo)), lookup4_codes(t, hi), 1);
}

/* 8 entries of the folded table at the keys of the patterns b[0 ..< 8] (key = b >> 14), the patterns read two per
 * u64: the low one's key is (u32)p >> 14, the high one's p >> 46. */
A8_INLINE __m256i lookup8_keys(const uint32_t *table, const uint32_t *b) {
    const float *t = (const float *)table;
    uint64_t p01, p23, p45, p67;
    memcpy(&p01, b, 8); memcpy(&p23, b + 2, 8); memcpy(&p45, b + 4, 8); memcpy(&p67, b + 6, 8);
    __m128 lo = _mm_load_ss(t + ((uint32_t)p01 >> 14));
    lo = _mm_insert_ps(lo, _mm_load_ss(t + (p01 >> 46)), 0x10);
    lo = _mm_insert_ps(lo, _mm_load_ss(t + ((uint32_t)p23 >> 14)), 0x20);
    lo = _mm_insert_ps(lo, _mm_load_ss(t + (p23 >> 46)), 0x30);
    __m128 hi = _mm_load_ss(t + ((uint32_t)p45 >> 14));
    hi = _mm_insert_ps(hi, _mm_load_ss(t + (p45 >> 46)), 0x10);
    hi = _mm_insert_ps(hi, _mm_load_ss(t + ((uint32_t)p67 >> 14)), 0x20);
    hi = _mm_insert_ps(hi, _mm_load_ss(t + (p67 >> 46)), 0x30);
    return _mm256_castps_si256(_mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1));
}

/* Codes of 8 patterns b (F: their table entries) as 32-bit lanes. No mask to 8 bits before the saturating packs: by
 * construction of the folded table (FastCodebookEncoder.folded), F + (b ^ (b >>ₐ 31)) = E + low' < (r + 2)·2^14 with
 * r + 1 ≤ 255 whenever it is reached, so every code is ≤ 255 (the tests check the encoder on every bucket edge). */
A8_INLINE __m256i codes8(__m256i b, __m256i f) {
    const __m256i w = _mm256_xor_si256(b, _mm256_srai_epi32(b, 31));
    return _mm256_srli_epi32(_mm256_add_epi32(f, w), 14);
}

/* Codes of x[i]·inv, i < n (the folded direct encoder); bits: n elements of scratch (the scaled patterns). */
A8_INLINE void encode_folded(const float *x, int64_t n, float inv, uint8_t *codes, const uint32_t *table, uint32_t *bits) {
    const int64_t n8 = n & ~(int64_t)7, n16 = n & ~(int64_t)15;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps((float *)(bits + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    int64_t i = 0;
    for (; i < n16; i += 16) {
        const __m256i c0 = codes8(_mm256_loadu_si256((const __m256i *)(bits + i)), lookup8_keys(table, bits + i));
        const __m256i c1 = codes8(_mm256_loadu_si256((const __m256i *)(bits + i + 8)), lookup8_keys(table, bits + i + 8));
        /* per 128-bit lane: [c0 lo, c1 lo | c0 hi, c1 hi] as u16, then bytes; gather the two lanes' low halves */
        const __m256i c16 = _mm256_packus_epi32(c0, c1);
        const __m256i c8 = _mm256_packus_epi16(c16, c16);
        const __m256i c = _mm256_permutevar8x32_epi32(c8, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
        _mm_storeu_si128((__m128i *)(codes + i), _mm256_castsi256_si128(c));
    }
    for (; i < n8; i += 8) {
        const __m256i c = codes8(_mm256_loadu_si256((const __m256i *)(bits + i)), lookup8_keys(table, bits + i));
        const __m128i c16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i *)(codes + i), _mm_packus_epi16(c16, c16));
    }
    for (; i < n; i++) {
        const float s = x[i] * inv;
        uint32_t b;
        memcpy(&b, &s, 4);
        const uint32_t w = b ^ (uint32_t)((int32_t)b >> 31);
        codes[i] = (uint8_t)((table[b >> 14] + w) >> 14);
    }
}

typedef struct {
    __m256 b1, c1, b2, c2, rcorr, eps, am, av, pre, scale, post, in;
} a8_coefficients;

/* Moments of elements [i, i+8) of one block: to tm/tv and the running absmax bit patterns. */
A8_INLINE void adam8_moments(const float *values_m, const float *values_v, const a8_coefficients *k, const uint8_t *cm,
                             const uint8_t *cv, const float *g, float *tm, float *tv, __m256i *mx, __m256i *vx,
                             __m256 *mo, __m256 *vo) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256 dm = lookup8_codes(values_m, cm), dv = lookup8_codes(values_v, cv);
    const __m256 gi = _mm256_mul_ps(k->in, _mm256_loadu_ps(g));
    const __m256 m = _mm256_add_ps(_mm256_mul_ps(k->b1, _mm256_mul_ps(dm, k->am)), _mm256_mul_ps(k->c1, gi));
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(k->b2, _mm256_mul_ps(dv, k->av)),
                                   _mm256_mul_ps(_mm256_mul_ps(k->c2, gi), gi));
    _mm256_storeu_ps(tm, m);
    _mm256_storeu_ps(tv, v);
    *mx = _mm256_max_epu32(*mx, _mm256_and_si256(_mm256_castps_si256(m), abs_mask));
    *vx = _mm256_max_epu32(*vx, _mm256_and_si256(_mm256_castps_si256(v), abs_mask));
    *mo = m; *vo = v;
}

/* The update of 8 elements from their moments. form: 0 output u, 1 θ ← θ + c·u, 2 θ ← θ·a + c·u,
 * 3 θ ← (θ·a + c·u)·b. */
A8_INLINE void adam8_update(const a8_coefficients *k, float *t, __m256 m, __m256 v, int form) {
    const __m256 u = _mm256_div_ps(m, _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(v), k->rcorr), k->eps));
    switch (form) {
    case 0: _mm256_storeu_ps(t, u); break;
    case 1: _mm256_storeu_ps(t, _mm256_add_ps(_mm256_loadu_ps(t), _mm256_mul_ps(k->scale, u))); break;
    case 2:
        _mm256_storeu_ps(t, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(t), k->pre), _mm256_mul_ps(k->scale, u)));
        break;
    default:
        _mm256_storeu_ps(t, _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(t), k->pre),
                                                        _mm256_mul_ps(k->scale, u)), k->post));
        break;
    }
}

A8_INLINE uint32_t hmax_epu32(__m256i x) {
    __m128i y = _mm_max_epu32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    y = _mm_max_epu32(y, _mm_shuffle_epi32(y, 0x4E));
    y = _mm_max_epu32(y, _mm_shuffle_epi32(y, 0xB1));
    return (uint32_t)_mm_cvtsi128_si32(y);
}

A8_INLINE void adam8_step(const gradus__adam8bit_step_f32_args *args, int form) {
    const int64_t qbs = args->block_size, count = args->count;
    float *const dst = args->parameters ? args->parameters : args->output;
    const float b1 = args->beta1, c1 = args->one_minus_beta1, b2 = args->beta2, c2 = args->one_minus_beta2;
    const float rcorr = args->inverse_correction2, eps = args->epsilon;
    const float pa = args->pre_factor, sc = args->scale, pb = args->post_factor, insc = args->input_scale;
    const float *const values_m = args->values_m, *const values_v = args->values_v;
    float tm[A8_MAX_BLOCK] __attribute__((aligned(32)));
    float tv[A8_MAX_BLOCK] __attribute__((aligned(32)));
    uint32_t keys[A8_MAX_BLOCK] __attribute__((aligned(32)));
    a8_coefficients k;
    k.b1 = _mm256_set1_ps(b1); k.c1 = _mm256_set1_ps(c1); k.b2 = _mm256_set1_ps(b2); k.c2 = _mm256_set1_ps(c2);
    k.rcorr = _mm256_set1_ps(rcorr); k.eps = _mm256_set1_ps(eps);
    k.pre = _mm256_set1_ps(pa); k.scale = _mm256_set1_ps(sc); k.post = _mm256_set1_ps(pb); k.in = _mm256_set1_ps(insc);
    int64_t blk = 0;
    for (int64_t start = 0; start < count; start += qbs, blk++) {
        const int64_t len = count - start < qbs ? count - start : qbs;
        uint8_t *cm = args->codes_m + start, *cv = args->codes_v + start;
        const float am = args->absmax_m[blk], av = args->absmax_v[blk];
        const float *gs = args->gradient + start;
        float *t = dst + start;
        k.am = _mm256_set1_ps(am); k.av = _mm256_set1_ps(av);
        __m256i mx8 = _mm256_setzero_si256(), vx8 = _mm256_setzero_si256();
        const int64_t n8 = len & ~(int64_t)7;
        int64_t i = 0;
        if (n8 > 0) {
            /* skewed by one step: the divisions of elements i − 8 come first in each iteration, so their long
             * dependency chain (√, ÷, +, ÷) overlaps the lookups of elements i instead of following them */
            __m256 mp, vp;
            adam8_moments(values_m, values_v, &k, cm, cv, gs, tm, tv, &mx8, &vx8, &mp, &vp);
            for (i = 8; i < n8; i += 8) {
                const __m256 m0 = mp, v0 = vp;
                adam8_moments(values_m, values_v, &k, cm + i, cv + i, gs + i, tm + i, tv + i, &mx8, &vx8, &mp, &vp);
                adam8_update(&k, t + i - 8, m0, v0, form);
            }
            adam8_update(&k, t + n8 - 8, mp, vp, form);
            i = n8;
        }
        uint32_t mxb = hmax_epu32(mx8), vxb = hmax_epu32(vx8);
        for (; i < len; i++) {  /* the last (partial) block's tail */
            const float gi = insc * gs[i];
            const float m = b1 * (args->values_m[cm[i]] * am) + c1 * gi;
            const float v = b2 * (args->values_v[cv[i]] * av) + c2 * gi * gi;
            tm[i] = m; tv[i] = v;
            uint32_t mb, vb;
            memcpy(&mb, &m, 4); memcpy(&vb, &v, 4);
            mb &= 0x7FFFFFFFu; vb &= 0x7FFFFFFFu;
            mxb = mb > mxb ? mb : mxb; vxb = vb > vxb ? vb : vxb;
            const float u = m / (gradus_sqrtf(v) * rcorr + eps);
            switch (form) {
            case 0: t[i] = u; break;
            case 1: t[i] = t[i] + sc * u; break;
            case 2: t[i] = t[i] * pa + sc * u; break;
            default: t[i] = (t[i] * pa + sc * u) * pb; break;
            }
        }
        float mx, vx;
        memcpy(&mx, &mxb, 4); memcpy(&vx, &vxb, 4);
        args->absmax_m[blk] = mx; args->absmax_v[blk] = vx;
        if (mx > 0) encode_folded(tm, len, 1 / mx, cm, args->folded_m, keys);
        else memset(cm, args->zero_code_m, (size_t)len);
        if (vx > 0) encode_folded(tv, len, 1 / vx, cv, args->folded_v, keys);
        else memset(cv, args->zero_code_v, (size_t)len);
    }
}

A8_AVX2 void gradus__adam8bit_step_f32_avx2(const gradus__adam8bit_step_f32_args *args) {
    if (!args->parameters) { adam8_step(args, 0); return; }
    const float a = args->pre_factor, b = args->post_factor;
    if (a == 1 && b == 1) adam8_step(args, 1);
    else if (b == 1) adam8_step(args, 2);
    else adam8_step(args, 3);
}

A8_AVX2 void gradus__adam8bit_encode_f32_avx2(const float *x, int64_t count, float inv, uint8_t *codes,
                                              const uint32_t *folded) {
    uint32_t keys[A8_MAX_BLOCK] __attribute__((aligned(32)));
    for (int64_t i = 0; i < count; i += A8_MAX_BLOCK) {
        const int64_t len = count - i < A8_MAX_BLOCK ? count - i : A8_MAX_BLOCK;
        encode_folded(x + i, len, inv, codes + i, folded, keys);
    }
}

#else
void gradus__adam8bit_step_f32_avx2(const gradus__adam8bit_step_f32_args *args) { (void)args; }
void gradus__adam8bit_encode_f32_avx2(const float *x, int64_t count, float inv, uint8_t *codes, const uint32_t *folded) {
    (void)x; (void)count; (void)inv; (void)codes; (void)folded;
}
#endif

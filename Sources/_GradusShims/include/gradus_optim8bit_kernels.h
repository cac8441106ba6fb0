/* 8-bit Adam step kernel in C with AVX2 (optim8bit_avx2.c). Internal: not part of the public header.
 *
 * Only the kernel is compiled for AVX2 (function target attribute, no global flags): call it only when
 * gradus__cpu_has_avx2_fma() returned 1. Swift's Blockwise8bitMoments.adamStep does that dispatch
 * (AdamStepKernel; GRADUS_NO_AVX2=1 forces its Swift loop). */
#ifndef GRADUS_OPTIM8BIT_KERNELS_H
#define GRADUS_OPTIM8BIT_KERNELS_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One 8-bit Adam step (bitsandbytes Adam8bit, spec lowbit.md §4.3) over `count` elements that start on a
 * quantization-block boundary, per block of `block_size` (≤ 2048) elements, the last one possibly partial:
 *   g = input_scale·gradient[i]                 (one multiplication: exact when input_scale is 1)
 *   m = β1·(values_m[codes_m[i]]·absmax_m[b]) + c1·g
 *   v = β2·(values_v[codes_v[i]]·absmax_v[b]) + (c2·g)·g
 *   u = m / (√v · inverse_correction2 + ε)      (inverse_correction2 = 1/√(1 − β2^k), see below)
 *   parameters == NULL: output[i] = u
 *   else θ[i] ← θ[i] + scale·u                      (pre_factor = post_factor = 1)
 *            θ[i] ← θ[i]·pre_factor + scale·u         (post_factor = 1)
 *            θ[i] ← (θ[i]·pre_factor + scale·u)·post_factor
 *   absmax_m[b] = max |m| over the block as bit patterns (a NaN orders above ∞), likewise absmax_v[b];
 *   codes: zero_code_* when that absmax is not > 0, else with x = m·(1/absmax), b = bits(x):
 *          (folded[b >> 14] + (b ^ (b >>ₐ 31))) >> 14 (FastCodebookEncoder.foldedOffsets, 2^18 entries).
 * Float32 multiplications, additions, divisions and square roots in that order, no FMA: bit-identical to
 * Blockwise8bitMoments.adamStep's Swift loop. codes_*, absmax_*: at the first element / block of the call.
 * No allocation (scratch on the stack). */
typedef struct gradus__adam8bit_step_f32_args {
    uint8_t *codes_m;
    uint8_t *codes_v;
    float *absmax_m;
    float *absmax_v;
    const float *values_m;      /* 256 */
    const float *values_v;      /* 256 */
    const uint32_t *folded_m;   /* 2^18 */
    const uint32_t *folded_v;   /* 2^18 */
    const float *gradient;
    float *output;
    float *parameters;
    int64_t count;
    int64_t block_size;
    float beta1, one_minus_beta1, beta2, one_minus_beta2, inverse_correction2, epsilon;
    float pre_factor, scale, post_factor, input_scale;
    uint8_t zero_code_m, zero_code_v;
} gradus__adam8bit_step_f32_args;

/* Requires gradus__cpu_has_avx2_fma() and block_size in 1 ... 2048. */
__attribute__((visibility("hidden"))) void gradus__adam8bit_step_f32_avx2(const gradus__adam8bit_step_f32_args *args);

/* The kernel's encoder alone (for tests): codes[i] = (folded[b >> 14] + (b ^ (b >>ₐ 31))) >> 14, b = bits(x[i]·inv),
 * i < count. Requires gradus__cpu_has_avx2_fma(); any count ≥ 0 (8 lanes, then a scalar tail). */
__attribute__((visibility("hidden"))) void gradus__adam8bit_encode_f32_avx2(const float *x, int64_t count, float inv,
                                                                            uint8_t *codes, const uint32_t *folded);

#ifdef __cplusplus
}
#endif
#endif

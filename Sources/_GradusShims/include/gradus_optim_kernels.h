/* Optimizer step kernels in C with AVX2+FMA (optim_avx2.c). Internal: not part of the public header.
 *
 * Only the kernel functions are compiled for AVX2+FMA (function target attributes, no global flags), so the
 * library still runs on baseline x86-64: call a kernel only when gradus__cpu_has_avx2_fma() returned 1.
 * Swift's AdamPreconditioner does that dispatch for Float (GRADUS_NO_AVX2=1 forces its Swift loops). */
#ifndef GRADUS_OPTIM_KERNELS_H
#define GRADUS_OPTIM_KERNELS_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this CPU (and the OS, for the YMM state) supports AVX2 and FMA; 0 otherwise and on non-x86 builds. */
__attribute__((visibility("hidden"))) int32_t gradus__cpu_has_avx2_fma(void);

/* One block of Adam's element step (AdamPreconditioner.ElementStep), float32, in one pass:
 *   g = input_scale·input[i], or with project != 0 (⊥Grad folded in; needs parameters, and previous and
 *   weights NULL):
 *   g = input_scale·(projection_scale·(input[i] − projection_coefficient·θ[i])), θ[i] before this step's update
 *       (products and the difference rounded separately, as Projection.removeComponent, so the folded step
 *       equals the projection loop followed by this kernel bit for bit)
 *   with clip != 0 (SPAM's SpikeAwareClipping folded in; previous, weights NULL and project 0): with
 *   limit = clip_threshold·v[i] (v before this step), g·g > limit → g = √limit with g's sign (counted)
 *   with previous (diffGrad): f = 1 + e^−|previous[i] − g|, previous[i] ← g; without: f = 1
 *   m[i] ← β1·m[i] + c1·g,  v[i] ← β2·v[i] + c2·g·g
 *   u = num / ((√v[i]·denominator_scale + ε)·f),  num = m[i], or β1·m[i] + c1·g when nesterov
 *   parameters == NULL: output[i] = u (input may alias output)
 *   else: θ[i] ← (θ[i]·pre_factor + scale·u)·post_factor, u times weights[i] when weights != NULL
 *         (multiplications and additions in that order without FMA, as Kernels.applyUpdate, so the fused
 *         and unfused paths agree bit for bit).
 * m, v, previous, input, weights, parameters, output: `count` elements each, any alignment. */
typedef struct gradus__adam_step_f32_args {
    float *m;
    float *v;
    float *previous;
    const float *input;
    const float *weights;
    float *parameters;
    float *output;
    int64_t count;
    float beta1, one_minus_beta1, beta2, one_minus_beta2, denominator_scale, epsilon;
    float input_scale, pre_factor, scale, post_factor;
    int32_t nesterov;
    /* ⊥Grad's projection (OrthogonalProjection), applied to the input when project != 0; 0 leaves the step as
     * without these fields (Adam/diffGrad unchanged bit for bit). */
    int32_t project;
    float projection_coefficient, projection_scale;
    /* SPAM's spike-aware clipping, applied to g when clip != 0 (0 leaves the step unchanged bit for bit). */
    int32_t clip;
    float clip_threshold;
} gradus__adam_step_f32_args;

/* Stable-SPAM's input statistics of one block in one pass over x: *max_magnitude = max |x[i]| (NaNs ignored, 0 when
 * count is 0) and *sum_of_squares = Σ x[i]², the squares summed in float32 lanes (FMA) over fixed chunks of
 * GRADUS_STAT_CHUNK elements from x[0], each chunk's sum then added in float64 in chunk order: deterministic for a
 * given block, whatever the thread count. Requires gradus__cpu_has_avx2_fma(). */
#define GRADUS_STAT_CHUNK 256
__attribute__((visibility("hidden"))) void gradus__max_abs_sum_squares_f32_avx2(const float *x, int64_t count,
                                                                                 float *max_magnitude,
                                                                                 double *sum_of_squares);

/* Requires gradus__cpu_has_avx2_fma(). No allocation; 8 lanes, the tail with masked loads and stores.
 * Returns the number of entries clipped (0 unless clip != 0). */
__attribute__((visibility("hidden"))) int64_t gradus__adam_step_f32_avx2(const gradus__adam_step_f32_args *args);

/* out[i] = 1 + e^−|x[i]| with the kernel's polynomial (for tests). Requires gradus__cpu_has_avx2_fma(). */
__attribute__((visibility("hidden"))) void gradus__friction_denominator_f32_avx2(const float *x, float *out, int64_t count);

/* ⊥Grad's statistics of one block, added to dots: [Σ v·u, Σ u·u, Σ v·v] (v: gradient, u: weights), the products
 * summed in float32 lanes (FMA) over fixed chunks of GRADUS_DOT_CHUNK elements from v[0], the chunk sums in float64
 * in chunk order (deterministic for a block). Requires gradus__cpu_has_avx2_fma(). */
#define GRADUS_DOT_CHUNK 128
__attribute__((visibility("hidden"))) void gradus__projection_dots_f32_avx2(const float *v, const float *u, int64_t count,
                                                                            double *dots);

#ifdef __cplusplus
}
#endif
#endif

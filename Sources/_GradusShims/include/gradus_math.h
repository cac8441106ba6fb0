/* clang-only math helpers for Swift kernels. NOT part of the public header.
 * Float.squareRoot() keeps errno semantics on Linux and blocks vectorisation; these do not. */
#ifndef GRADUS_MATH_H
#define GRADUS_MATH_H
typedef float gradus_f32x16 __attribute__((ext_vector_type(16)));
typedef double gradus_f64x8 __attribute__((ext_vector_type(8)));
static inline __attribute__((always_inline)) float gradus_sqrtf(float x) { return __builtin_elementwise_sqrt(x); }
static inline __attribute__((always_inline)) double gradus_sqrt(double x) { return __builtin_elementwise_sqrt(x); }
static inline __attribute__((always_inline)) gradus_f32x16 gradus_sqrt16(gradus_f32x16 x) { return __builtin_elementwise_sqrt(x); }
static inline __attribute__((always_inline)) gradus_f64x8 gradus_sqrt8d(gradus_f64x8 x) { return __builtin_elementwise_sqrt(x); }
#endif

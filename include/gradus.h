/*
 * gradus.h — the public C interface of Gradus (a CPU training library).
 * (Being written: see issue 3. Sections: version, status/errors, context, tensors, autodiff,
 * layers, losses, data, checkpoints, optimizers.)
 */
#ifndef GRADUS_H
#define GRADUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GRADUS_VERSION_MAJOR 0
#define GRADUS_VERSION_MINOR 1
#define GRADUS_VERSION_PATCH 0
#define GRADUS_ABI_VERSION 0

/* ---- Status codes: pinned values, append-only. ---- */
typedef int32_t gradus_status;
#define GRADUS_STATUS_OK               0
#define GRADUS_STATUS_INVALID_ARGUMENT 1
#define GRADUS_STATUS_SHAPE_MISMATCH   2
#define GRADUS_STATUS_DTYPE_MISMATCH   3
#define GRADUS_STATUS_OUT_OF_MEMORY    4
#define GRADUS_STATUS_IO_ERROR         5
#define GRADUS_STATUS_FORMAT_ERROR     6
#define GRADUS_STATUS_UNSUPPORTED      7
#define GRADUS_STATUS_INVALID_HANDLE   8
#define GRADUS_STATUS_INVALID_STATE    9
#define GRADUS_STATUS_NOT_FOUND        10
#define GRADUS_STATUS_INTERNAL         11

/* Data types. */
typedef int32_t gradus_dtype;
#define GRADUS_DTYPE_FLOAT32 0
#define GRADUS_DTYPE_FLOAT64 1

#ifdef __cplusplus
}
#endif
#endif /* GRADUS_H */

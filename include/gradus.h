/*
 * gradus.h — the public C interface of Gradus, a CPU training library with a Swift core.
 *
 * This is the one public header: C99 and C++ clean, opaque handles only, every status value pinned.
 *
 * Worked example: one SGD step of a 2-layer MLP (bindings/c/examples/train_mlp.c is the full program).
 *
 *     #include <gradus.h>
 *     #include <stdio.h>
 *
 *     #define CHECK(call) if ((call) != GRADUS_STATUS_OK) { \
 *         fprintf(stderr, "%s\n", gradus_last_error_message()); return 1; }
 *
 *     int main(void) {
 *         gradus_layer_options layers[3];
 *         gradus_model model; gradus_dataset data; gradus_tensor x, logits, loss, p, g;
 *         int32_t labels[32];
 *         size_t i, n;
 *         if (gradus_abi_version() != GRADUS_ABI_VERSION) return 1;        // header and library agree
 *         gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);      // options structs: init first
 *         layers[0].in_features = 2; layers[0].out_features = 16;
 *         gradus_layer_options_init(&layers[1], GRADUS_LAYER_RELU);
 *         gradus_layer_options_init(&layers[2], GRADUS_LAYER_LINEAR);
 *         layers[2].in_features = 16; layers[2].out_features = 2;
 *         CHECK(gradus_model_create(layers, 3, GRADUS_DTYPE_FLOAT32, 42, &model));
 *         CHECK(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_TWO_MOONS, 256, 7, &data));
 *         CHECK(gradus_dataset_batch(data, 0, 32, &x, labels));           // x: (32, 2) float32
 *         CHECK(gradus_model_forward(model, x, &logits));                 // logits: (32, 2)
 *         CHECK(gradus_loss_cross_entropy(logits, labels, 32, GRADUS_REDUCTION_MEAN, &loss));
 *         CHECK(gradus_tensor_backward(loss));                            // fills every parameter's grad
 *         CHECK(gradus_model_parameter_count(model, &n));
 *         for (i = 0; i < n; i++) {                                       // SGD: p -= 0.1 * grad
 *             CHECK(gradus_model_parameter_get(model, i, &p));
 *             CHECK(gradus_tensor_grad(p, &g));
 *             CHECK(gradus_tensor_axpy(p, -0.1, g));
 *             gradus_tensor_destroy(g); gradus_tensor_destroy(p);
 *         }
 *         gradus_tensor_destroy(loss); gradus_tensor_destroy(logits); gradus_tensor_destroy(x);
 *         gradus_dataset_destroy(data); gradus_model_destroy(model);      // *_destroy(NULL) is a no-op
 *         return 0;
 *     }
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *  - Functions that can fail return a gradus_status; GRADUS_STATUS_OK is 0. On failure the calling thread's
 *    message slot (gradus_last_error_message) says why. Results come back through `out` pointers, which are
 *    set to a defined value (NULL / 0) before any validation, so a failed call never leaves garbage there.
 *  - Whatever a *_create* function returns, the caller frees with the matching *_destroy; *_destroy(NULL) is a
 *    no-op. Handle arguments are borrowed: the library retains what it must keep.
 *  - NULL, stale, foreign and double-freed handles are detected (a live-handle registry) and reported as
 *    GRADUS_STATUS_INVALID_HANDLE; no input makes the library abort the process.
 *  - Options structs begin with `size_t struct_size` and are filled with defaults by *_options_init, a macro
 *    that passes the caller's sizeof to *_options_init_sized. Structs only grow by appending fields, and the
 *    library writes and reads at most struct_size bytes, so programs built against older headers keep working
 *    with newer libraries (the fields they lack keep their defaults). Pass a pointer to the struct itself. The
 *    sized call accepts options_size from the struct's first published layout up to 65536.
 *  - Thread-safety: functions without a handle argument may be called from any thread at any time.
 *    A handle may be used by one thread at a time; distinct handles may be used concurrently.
 */
#ifndef GRADUS_H
#define GRADUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================================== */
/* Version                                                                                                  */
/* ======================================================================================================== */

#define GRADUS_VERSION_MAJOR 0
#define GRADUS_VERSION_MINOR 2
#define GRADUS_VERSION_PATCH 0
#define GRADUS_VERSION_STRING "0.2.0"
/* Bumped on any incompatible change of this header; the library's SONAME is libgradus.so.<ABI>. */
#define GRADUS_ABI_VERSION 0

/* Version of the loaded library (compare with the macros above). Thread-safe; cannot fail. */
int32_t gradus_version_major(void);
int32_t gradus_version_minor(void);
int32_t gradus_version_patch(void);
/* "MAJOR.MINOR.PATCH"; a static string owned by the library (never free it). Thread-safe; cannot fail. */
const char *gradus_version_string(void);
/* The library's GRADUS_ABI_VERSION. A program built against another ABI must not use the library.
 * Thread-safe; cannot fail. */
int32_t gradus_abi_version(void);

/* ======================================================================================================== */
/* Status and errors                                                                                        */
/* ======================================================================================================== */

/* Status codes: pinned values, append-only. Not a C enum so that the width is fixed. */
typedef int32_t gradus_status;
#define GRADUS_STATUS_OK               0
#define GRADUS_STATUS_INVALID_ARGUMENT 1  /* NULL pointer, out-of-range enum/count, bad option value */
#define GRADUS_STATUS_SHAPE_MISMATCH   2  /* shapes that do not fit the operation */
#define GRADUS_STATUS_DTYPE_MISMATCH   3  /* dtypes that do not fit the operation */
#define GRADUS_STATUS_OUT_OF_MEMORY    4  /* allocation failed or a size overflowed */
#define GRADUS_STATUS_IO_ERROR         5  /* a file could not be opened, read or written */
#define GRADUS_STATUS_FORMAT_ERROR     6  /* a file or string is not in the expected format */
#define GRADUS_STATUS_UNSUPPORTED      7  /* valid request this build or platform cannot do */
#define GRADUS_STATUS_INVALID_HANDLE   8  /* NULL, stale, foreign or already destroyed handle */
#define GRADUS_STATUS_INVALID_STATE    9  /* call out of order (e.g. backward without a tape) */
#define GRADUS_STATUS_NOT_FOUND        10 /* a name (parameter, layer, file entry) does not exist */
#define GRADUS_STATUS_INTERNAL         11 /* a bug in Gradus; please report it */

/* The name of a status ("GRADUS_STATUS_OK", ...), or "GRADUS_STATUS_UNKNOWN" for values not listed above.
 * Static string owned by the library. Thread-safe; cannot fail. */
const char *gradus_status_string(gradus_status status);

/* The message of the last failed call made by the calling thread ("" if none). Per-thread storage owned by
 * the library, valid until the thread's next gradus call; copy it to keep it. Thread-safe; cannot fail. */
const char *gradus_last_error_message(void);

/* Empties the calling thread's message slot. Thread-safe; cannot fail. */
void gradus_clear_last_error(void);

/* Data types. Pinned values, append-only. */
typedef int32_t gradus_dtype;
#define GRADUS_DTYPE_FLOAT32 0
#define GRADUS_DTYPE_FLOAT64 1

/* Size of one element of `dtype` in bytes, or 0 for an unknown dtype. Thread-safe; cannot fail. */
size_t gradus_dtype_size(gradus_dtype dtype);

/* ======================================================================================================== */
/* Context and threading                                                                                    */
/* ======================================================================================================== */
/*
 * Gradus runs parallel kernels on one process-wide pool of worker threads, configured from the environment on
 * first use (GRADUS_NUM_THREADS, GRADUS_NUMA, GRADUS_CPUS, GRADUS_PIN, GRADUS_WAIT, GRADUS_SPIN_US,
 * GRADUS_BLAS_THREADS, GRADUS_VERBOSE_AFFINITY) or explicitly with gradus_context_configure, which wins.
 * Workers stay within the CPU affinity mask the process inherited (taskset, numactl, mpirun are respected);
 * the caller's own thread is worker 0 and is never pinned. While the pool runs parallel work, BLAS runs
 * single-threaded.
 */

/* NUMA placement of the workers (after ggml's --numa). Pinned values, append-only. */
typedef int32_t gradus_numa_policy;
#define GRADUS_NUMA_POLICY_AUTO       0 /* distribute over a multi-node mask, isolate in one node, else off */
#define GRADUS_NUMA_POLICY_DISABLED   1 /* no NUMA work: threads numbered over the inherited mask */
#define GRADUS_NUMA_POLICY_DISTRIBUTE 2 /* thread i on the (i mod n)-th node, on its next allowed CPU */
#define GRADUS_NUMA_POLICY_ISOLATE    3 /* every thread on the node of the configuring thread's CPU */
#define GRADUS_NUMA_POLICY_INHERIT    4 /* threads take the inherited mask CPU by CPU (ggml's numactl) */

/* Whether workers are pinned to their planned CPU. Pinned values, append-only. */
typedef int32_t gradus_pin_mode;
#define GRADUS_PIN_MODE_AUTO   0 /* pin for NUMA-aware placement, explicit CPUs or spinning waits */
#define GRADUS_PIN_MODE_NEVER  1
#define GRADUS_PIN_MODE_ALWAYS 2

/* How idle workers wait for work. Pinned values, append-only. */
typedef int32_t gradus_wait_policy;
#define GRADUS_WAIT_POLICY_AUTO   0 /* hybrid; sleep when oversubscribed or BLAS is multi-threaded */
#define GRADUS_WAIT_POLICY_SLEEP  1 /* futex sleep at once */
#define GRADUS_WAIT_POLICY_HYBRID 2 /* spin spin_us microseconds, then sleep */
#define GRADUS_WAIT_POLICY_SPIN   3 /* spin up to one second, then sleep */

#define GRADUS_MAX_THREADS 4096

typedef struct gradus_context_options {
    size_t struct_size;             /* sizeof(gradus_context_options); set by gradus_context_options_init */
    int32_t num_threads;            /* workers incl. the caller, 0..GRADUS_MAX_THREADS; 0 = one per CPU of
                                       the inherited mask (default) */
    gradus_numa_policy numa_policy; /* default GRADUS_NUMA_POLICY_AUTO */
    gradus_pin_mode pin_mode;       /* default GRADUS_PIN_MODE_AUTO */
    gradus_wait_policy wait_policy; /* default GRADUS_WAIT_POLICY_AUTO */
    int32_t spin_us;                /* spin before sleeping for hybrid waits, 0..1000000; default 50 */
    int32_t blas_threads;           /* BLAS threads while the pool is idle, 0..GRADUS_MAX_THREADS; 0 = 1 */
    const int32_t *cpus;            /* explicit CPUs, taken by the threads in order; each must lie in the
                                       inherited mask. Borrowed for the call only. NULL = the policy decides */
    size_t cpu_count;               /* entries in cpus (0 when cpus is NULL), at most 8192 */
    int32_t verbose;                /* nonzero: print the plan and warnings to stderr; default 0 */
} gradus_context_options;

/* Fills *options with the defaults (and struct_size); the environment is not read. Thread-safe. Called as
 * gradus_context_options_init(&o) (the macro passes sizeof; see "Options structs" above). Returns OK;
 * INVALID_ARGUMENT (NULL options, options_size out of range). */
gradus_status gradus_context_options_init_sized(gradus_context_options *options, size_t options_size);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_context_options_init(gradus_context_options *options);
#define gradus_context_options_init(options) gradus_context_options_init_sized((options), sizeof *(options))

/* Replaces the runtime's configuration: stops the workers, plans again, starts new ones, applies the BLAS
 * thread count. Waits for parallel work in flight; call it between training steps. Thread-safe.
 * Returns OK; INVALID_ARGUMENT for a NULL options, a struct_size smaller than the first version of the struct,
 * an out-of-range count, an unknown enum value, cpus NULL with cpu_count > 0, or a CPU outside the inherited
 * mask (the previous configuration then stays); INTERNAL when worker threads cannot be created (the pool then
 * runs on the caller's thread only). */
gradus_status gradus_context_configure(const gradus_context_options *options);

/* Sets the pool's number of threads (the caller's thread included; 0 = one per CPU of the inherited mask),
 * keeping the other options in force. Thread-safe.
 * Returns OK; INVALID_ARGUMENT outside 0..GRADUS_MAX_THREADS; INTERNAL as for gradus_context_configure. */
gradus_status gradus_context_set_num_threads(int32_t num_threads);

/* The pool's current number of threads (>= 1) in *out. Thread-safe.
 * Returns OK or INVALID_ARGUMENT (out is NULL). */
gradus_status gradus_context_num_threads(int32_t *out);

/* Writes a JSON object describing the topology and the thread plan in force:
 *   {"threads":2,"policy":"disabled","requested_policy":"auto","wait":"hybrid","blas_threads":1,
 *    "allowed_cpus":"0-1","plan":[{"thread":0,"cpu":0,"node":0,"pinned":false},...],
 *    "topology":[{"node":0,"cpus":"0-1"}],"warnings":[],...}
 * into buffer (always NUL-terminated when capacity > 0, truncated if needed) and its full length without the
 * NUL into *out_length, snprintf-style: call with (NULL, 0, &n) to learn the size. Thread-safe.
 * Returns OK; INVALID_ARGUMENT when out_length is NULL, or buffer is NULL with capacity > 0. */
gradus_status gradus_context_describe(char *buffer, size_t capacity, size_t *out_length);

/* ======================================================================================================== */
/* Tensors                                                                                                  */
/* ======================================================================================================== */
/*
 * A gradus_tensor is an N-d array (rank 0..GRADUS_MAX_RANK) of float32 or float64 in row-major order.
 * Every operation returns a NEW handle through `out` (the caller destroys it); inputs are borrowed. Results
 * may share memory with their inputs (reshape, transpose) and keep it alive. A tensor may be used by one
 * thread at a time; tensors of separate graphs may be used from separate threads.
 * Shapes are int64_t arrays of `ndim` entries, each >= 0; `shape` may be NULL when ndim is 0 (a scalar).
 */
typedef struct gradus_tensor_s *gradus_tensor;

#define GRADUS_MAX_RANK 8

/* Called exactly once with (data, user_data) when the library no longer needs memory lent to
 * gradus_tensor_wrap, from whichever thread drops the last reference. */
typedef void (*gradus_deleter)(void *data, void *user_data);

/* Creates a tensor holding a copy of `data` (prod(shape) elements of dtype, contiguous).
 * Returns OK; INVALID_ARGUMENT (NULL data with elements, NULL out, bad ndim, negative dim, unknown dtype);
 * OUT_OF_MEMORY when the size overflows. */
gradus_status gradus_tensor_create_copy(const void *data, const int64_t *shape, int32_t ndim, gradus_dtype dtype,
                                        gradus_tensor *out);

/* Creates a tensor filled with `value`. Statuses as gradus_tensor_create_copy. */
gradus_status gradus_tensor_create_full(const int64_t *shape, int32_t ndim, gradus_dtype dtype, double value,
                                        gradus_tensor *out);

/* Wraps caller memory without copying (contiguous, suitably aligned for dtype). The library reads and writes
 * it in place until the last tensor using it is gone, then calls deleter(data, user_data) (deleter may be
 * NULL when the caller keeps the memory alive longer than every tensor). If the call fails the deleter is
 * NOT called. Statuses as gradus_tensor_create_copy. */
gradus_status gradus_tensor_wrap(void *data, const int64_t *shape, int32_t ndim, gradus_dtype dtype,
                                 gradus_deleter deleter, void *user_data, gradus_tensor *out);

/* Releases the handle (the memory goes when no other tensor, gradient or graph uses it). NULL is a no-op.
 * Returns OK, or INVALID_HANDLE for a handle that is not live (e.g. destroyed twice). */
gradus_status gradus_tensor_destroy(gradus_tensor tensor);

/* Rank in *out. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (out NULL). */
gradus_status gradus_tensor_ndim(gradus_tensor tensor, int32_t *out);
/* Copies the shape into shape[0..ndim) (capacity entries available; GRADUS_MAX_RANK always suffices) and the
 * rank into *out_ndim. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (NULL pointers, capacity too small). */
gradus_status gradus_tensor_shape(gradus_tensor tensor, int64_t *shape, int32_t capacity, int32_t *out_ndim);
/* Element type in *out. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_dtype(gradus_tensor tensor, gradus_dtype *out);
/* Number of elements in *out. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_numel(gradus_tensor tensor, int64_t *out);
/* Copies the elements (row-major, the tensor's dtype) into dst, which holds `capacity` bytes.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (dst NULL with elements), SHAPE_MISMATCH (capacity too small). */
gradus_status gradus_tensor_copy_to(gradus_tensor tensor, void *dst, size_t capacity);
/* Overwrites the elements from src (row-major, `capacity` bytes, the tensor's dtype); no gradient is
 * recorded. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, SHAPE_MISMATCH (capacity too small). */
gradus_status gradus_tensor_copy_from(gradus_tensor tensor, const void *src, size_t capacity);

/* Element-wise unary operations. Pinned values, append-only. */
typedef int32_t gradus_unary_op;
#define GRADUS_UNARY_OP_NEG     0
#define GRADUS_UNARY_OP_EXP     1
#define GRADUS_UNARY_OP_LOG     2
#define GRADUS_UNARY_OP_SQRT    3
#define GRADUS_UNARY_OP_ABS     4
#define GRADUS_UNARY_OP_SQUARE  5
#define GRADUS_UNARY_OP_RELU    6
#define GRADUS_UNARY_OP_SIGMOID 7
#define GRADUS_UNARY_OP_TANH    8
#define GRADUS_UNARY_OP_GELU    9
#define GRADUS_UNARY_OP_SILU    10
#define GRADUS_UNARY_OP_SIN     11
#define GRADUS_UNARY_OP_COS     12

/* Element-wise binary operations with NumPy broadcasting. Pinned values, append-only. */
typedef int32_t gradus_binary_op;
#define GRADUS_BINARY_OP_ADD     0
#define GRADUS_BINARY_OP_SUB     1
#define GRADUS_BINARY_OP_MUL     2
#define GRADUS_BINARY_OP_DIV     3
#define GRADUS_BINARY_OP_MAXIMUM 4
#define GRADUS_BINARY_OP_MINIMUM 5
#define GRADUS_BINARY_OP_POW     6

/* out = op(x). Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (unknown op, out NULL). */
gradus_status gradus_tensor_unary(gradus_unary_op op, gradus_tensor x, gradus_tensor *out);
/* out = op(a, b), broadcasting. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, SHAPE_MISMATCH (shapes do not
 * broadcast), DTYPE_MISMATCH (float32 with float64). */
gradus_status gradus_tensor_binary(gradus_binary_op op, gradus_tensor a, gradus_tensor b, gradus_tensor *out);
/* out = scale * x + shift. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_affine(gradus_tensor x, double scale, double shift, gradus_tensor *out);
/* Matrix product (batched over leading dimensions, 1-d operands as in NumPy). Returns OK, INVALID_HANDLE,
 * INVALID_ARGUMENT, SHAPE_MISMATCH, DTYPE_MISMATCH. */
gradus_status gradus_tensor_matmul(gradus_tensor a, gradus_tensor b, gradus_tensor *out);
/* Sum / mean over `axes` (naxes entries, negative counts from the end; axes NULL and naxes 0 = all), keeping
 * reduced dimensions as size 1 when keepdims != 0. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (axis out of
 * range, repeated, NULL axes with naxes > 0). */
gradus_status gradus_tensor_sum(gradus_tensor x, const int32_t *axes, int32_t naxes, int32_t keepdims,
                                gradus_tensor *out);
gradus_status gradus_tensor_mean(gradus_tensor x, const int32_t *axes, int32_t naxes, int32_t keepdims,
                                 gradus_tensor *out);
/* (Log-)softmax along `axis`; log != 0 gives log-softmax. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_softmax(gradus_tensor x, int32_t axis, int32_t log, gradus_tensor *out);
/* A view with a new shape (one entry may be -1). Returns OK, INVALID_HANDLE, INVALID_ARGUMENT,
 * SHAPE_MISMATCH (element count differs). */
gradus_status gradus_tensor_reshape(gradus_tensor x, const int64_t *shape, int32_t ndim, gradus_tensor *out);
/* Swaps axes a and b (negative counts from the end). Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_transpose(gradus_tensor x, int32_t a, int32_t b, gradus_tensor *out);
/* Index of the largest element along the last axis, for each row: out[i] for i < rows, where rows is the
 * product of the other dimensions (count entries available). Returns OK, INVALID_HANDLE, INVALID_ARGUMENT,
 * SHAPE_MISMATCH (count too small, or rank 0). */
gradus_status gradus_tensor_argmax(gradus_tensor x, int64_t *out, size_t count);
/* In place: y += alpha * x (same shape and dtype), never recorded for autodiff — the building block of
 * hand-written optimizers (SGD: gradus_tensor_axpy(param, -lr, grad)). Returns OK, INVALID_HANDLE,
 * SHAPE_MISMATCH, DTYPE_MISMATCH. */
gradus_status gradus_tensor_axpy(gradus_tensor y, double alpha, gradus_tensor x);

/* ======================================================================================================== */
/* Autodiff                                                                                                 */
/* ======================================================================================================== */
/*
 * Define-by-run: operations on tensors that require gradients record a graph; gradus_tensor_backward runs it
 * in reverse and accumulates into each leaf's gradient. Recording is per thread (gradus_no_grad_*).
 * A tape collects the handles created on a thread between gradus_tape_begin and gradus_tape_end, so a
 * training step can free all of its intermediates with one gradus_tape_reset.
 */
typedef struct gradus_tape_s *gradus_tape;

/* Marks x as a leaf that needs gradients (flag != 0) or not. Returns OK, INVALID_HANDLE. */
gradus_status gradus_tensor_set_requires_grad(gradus_tensor x, int32_t flag);
/* 1 in *out when x requires gradients, else 0. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_requires_grad(gradus_tensor x, int32_t *out);
/* Backpropagates from a one-element tensor (seed 1): adds d(loss)/d(leaf) into every leaf's gradient.
 * Returns OK, INVALID_HANDLE, SHAPE_MISMATCH (more than one element), INVALID_STATE (nothing requires grad). */
gradus_status gradus_tensor_backward(gradus_tensor loss);
/* A new handle to x's accumulated gradient in *out, or NULL (and OK) when it has none.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_tensor_grad(gradus_tensor x, gradus_tensor *out);
/* Replaces x's gradient with grad (same shape and dtype), or clears it when grad is NULL.
 * Returns OK, INVALID_HANDLE, SHAPE_MISMATCH, DTYPE_MISMATCH. */
gradus_status gradus_tensor_set_grad(gradus_tensor x, gradus_tensor grad);
/* A new handle sharing x's values but cut from the graph (requires no gradient). Returns OK, INVALID_HANDLE. */
gradus_status gradus_tensor_detach(gradus_tensor x, gradus_tensor *out);

/* Turns recording off on the calling thread until the matching gradus_no_grad_end (scopes nest).
 * Cannot fail. */
void gradus_no_grad_begin(void);
/* Ends the innermost no-grad scope of the calling thread. Returns OK, INVALID_STATE (no open scope). */
gradus_status gradus_no_grad_end(void);
/* 1 in *out when the calling thread records operations, else 0. Returns OK, INVALID_ARGUMENT. */
gradus_status gradus_grad_is_enabled(int32_t *out);

/* Creates an empty tape. Returns OK, INVALID_ARGUMENT (out NULL). */
gradus_status gradus_tape_create(gradus_tape *out);
/* Destroys the tape (it does not destroy the handles it holds: call gradus_tape_reset first). NULL is a no-op.
 * Returns OK, INVALID_HANDLE, INVALID_STATE (the tape is active on another thread). */
gradus_status gradus_tape_destroy(gradus_tape tape);
/* From now on, every tensor handle this thread creates is also recorded on the tape (one tape per thread
 * at a time). Returns OK, INVALID_HANDLE, INVALID_STATE (another tape is active on this thread). */
gradus_status gradus_tape_begin(gradus_tape tape);
/* Stops recording on this thread. Returns OK, INVALID_HANDLE, INVALID_STATE (the tape is not active here). */
gradus_status gradus_tape_end(gradus_tape tape);
/* Destroys every recorded handle that is still live (the step's intermediates) and empties the tape; handles
 * the caller already destroyed are skipped. The tape stays active if it was. Returns OK, INVALID_HANDLE. */
gradus_status gradus_tape_reset(gradus_tape tape);

/* ======================================================================================================== */
/* Layers and models                                                                                        */
/* ======================================================================================================== */
typedef struct gradus_model_s *gradus_model;

/* Layer kinds. Pinned values, append-only. */
typedef int32_t gradus_layer_kind;
#define GRADUS_LAYER_LINEAR     0 /* in_features -> out_features, bias unless bias == 0 */
#define GRADUS_LAYER_RELU       1
#define GRADUS_LAYER_GELU       2
#define GRADUS_LAYER_SILU       3
#define GRADUS_LAYER_TANH       4
#define GRADUS_LAYER_SIGMOID    5
#define GRADUS_LAYER_DROPOUT    6 /* probability p */
#define GRADUS_LAYER_FLATTEN    7 /* (N, ...) -> (N, prod(...)) */
#define GRADUS_LAYER_LAYER_NORM 8 /* over the last dimension, in_features wide; eps */
#define GRADUS_LAYER_BATCH_NORM 9 /* BatchNorm1d over in_features channels, input (N, C) or (N, C, L): biased batch
                                     statistics in training, running statistics (momentum, unbiased variance) in
                                     evaluation; eps, momentum (since 0.2.0) */
#define GRADUS_LAYER_GHOST_BATCH_NORM 10 /* Ghost BatchNorm (Hoffer et al. 2017): in training the batch is cut into
                                     max(1, N div ghost_batch_size) consecutive chunks of ceil(N / chunks) rows (the
                                     last may be shorter), each normalised with its own statistics, the running
                                     statistics updated once per chunk; evaluation as BATCH_NORM (since 0.2.0) */

typedef struct gradus_layer_options {
    size_t struct_size;      /* set by gradus_layer_options_init */
    gradus_layer_kind kind;  /* GRADUS_LAYER_* */
    int64_t in_features;     /* LINEAR, LAYER_NORM, BATCH_NORM, GHOST_BATCH_NORM (channels) */
    int64_t out_features;    /* LINEAR */
    int32_t bias;            /* LINEAR: nonzero adds a bias (default 1) */
    double p;                /* DROPOUT: drop probability in [0, 1) (default 0.5) */
    /* Since 0.2.0 (a 0.1.x caller's smaller struct_size leaves these at their defaults). */
    double eps;              /* LAYER_NORM and the batch norms: finite, >= 0 (default 1e-5) */
    double momentum;         /* batch norms: running-statistics momentum in [0, 1] (default 0.1) */
    int64_t ghost_batch_size; /* GHOST_BATCH_NORM: samples per ghost batch, 1..2^31 (default 128) */
} gradus_layer_options;

/* Fills *options with the defaults for `kind`. Thread-safe. Called as gradus_layer_options_init(&o, kind) (the
 * macro passes sizeof; see "Options structs" above). Returns OK; INVALID_ARGUMENT (NULL options, options_size out
 * of range). */
gradus_status gradus_layer_options_init_sized(gradus_layer_options *options, size_t options_size,
    gradus_layer_kind kind);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_layer_options_init(gradus_layer_options *options, gradus_layer_kind kind);
#define gradus_layer_options_init(options, kind) gradus_layer_options_init_sized((options), sizeof *(options), (kind))

/* Builds a sequential model from `count` layer specs; parameters are initialised (Kaiming-uniform, like
 * PyTorch) from `seed`, in dtype. Parameter names are "<layer index>.weight", "<layer index>.bias", ...
 * Every element's struct_size must be the same layout this library knows (the array is read at that stride).
 * Returns OK; INVALID_ARGUMENT (NULL specs/out, count 0 or > 4096, unknown kind, bad feature counts or p,
 * a struct_size of another layout or differing between elements, unknown dtype). */
gradus_status gradus_model_create(const gradus_layer_options *layers, size_t count, gradus_dtype dtype,
                                  uint64_t seed, gradus_model *out);
/* Destroys the model; parameter handles obtained from it stay valid. NULL is a no-op.
 * Returns OK, INVALID_HANDLE. */
gradus_status gradus_model_destroy(gradus_model model);
/* out = model(x). Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, SHAPE_MISMATCH, DTYPE_MISMATCH. */
gradus_status gradus_model_forward(gradus_model model, gradus_tensor x, gradus_tensor *out);
/* Training (training != 0: dropout active) or evaluation mode. Returns OK, INVALID_HANDLE. */
gradus_status gradus_model_set_training(gradus_model model, int32_t training);
/* Number of parameter tensors in *out. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_model_parameter_count(gradus_model model, size_t *out);
/* Name of parameter `index`, snprintf-style as gradus_context_describe. Returns OK, INVALID_HANDLE,
 * INVALID_ARGUMENT (index out of range, NULL out_length, NULL buffer with capacity). */
gradus_status gradus_model_parameter_name(gradus_model model, size_t index, char *buffer, size_t capacity,
                                          size_t *out_length);
/* A new handle to parameter `index` (shares its values: updating it updates the model).
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (index out of range, out NULL). */
gradus_status gradus_model_parameter_get(gradus_model model, size_t index, gradus_tensor *out);
/* Like gradus_model_parameter_get, by name. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, NOT_FOUND. */
gradus_status gradus_model_parameter_find(gradus_model model, const char *name, gradus_tensor *out);
/* Clears every parameter's gradient. Returns OK, INVALID_HANDLE. */
gradus_status gradus_model_zero_grad(gradus_model model);

/* ======================================================================================================== */
/* Losses                                                                                                   */
/* ======================================================================================================== */

/* How per-example losses are reduced. Pinned values, append-only. */
typedef int32_t gradus_reduction;
#define GRADUS_REDUCTION_MEAN 0
#define GRADUS_REDUCTION_SUM  1
#define GRADUS_REDUCTION_NONE 2

/* Cross-entropy of logits (N, C) against N integer labels in 0..C-1, through a stable log-softmax.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (NULL labels, label out of range, unknown reduction),
 * SHAPE_MISMATCH (count != N, logits not 2-d). */
gradus_status gradus_loss_cross_entropy(gradus_tensor logits, const int32_t *labels, size_t count,
                                        gradus_reduction reduction, gradus_tensor *out);
/* Mean squared error; same shapes. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, SHAPE_MISMATCH. */
gradus_status gradus_loss_mse(gradus_tensor prediction, gradus_tensor target, gradus_reduction reduction,
                              gradus_tensor *out);
/* Binary cross-entropy on logits (stable); same shapes, targets in [0, 1].
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, SHAPE_MISMATCH. */
gradus_status gradus_loss_bce_with_logits(gradus_tensor logits, gradus_tensor target, gradus_reduction reduction,
                                          gradus_tensor *out);
/* StableMax cross-entropy (Prieto et al., "Grokking at the Edge of Numerical Stability"; spec optimizers §5.1) of
 * logits (N, C) against N labels in 0..C-1: -log(s(x_y) / sum_j s(x_j)) with s(x) = x + 1 for x >= 0 and 1/(1 - x)
 * below. Probabilities decay like 1/|x| instead of exponentially, so no row collapses to a loss of exactly 0.
 * `dtype` is the dtype of the computation and of *out: GRADUS_DTYPE_FLOAT64 as the official code (it casts the
 * logits), or the logits' own dtype; the gradient reaches the logits in their dtype.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (NULL labels, label out of range, unknown reduction or dtype),
 * SHAPE_MISMATCH (count != N, logits not 2-d). */
gradus_status gradus_loss_stablemax_cross_entropy(gradus_tensor logits, const int32_t *labels, size_t count,
                                                  gradus_reduction reduction, gradus_dtype dtype, gradus_tensor *out);
/* z-loss (PaLM; Wortsman et al. 2023, spec optimizers §8): coefficient * mean over rows of (log sum_j e^{x_j})^2 for
 * logits (N, C), a scalar to add to the cross-entropy (the paper uses coefficient 1e-4).
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (coefficient negative or not finite), SHAPE_MISMATCH (not 2-d). */
gradus_status gradus_loss_z_loss(gradus_tensor logits, double coefficient, gradus_tensor *out);
/* Fraction of rows of logits (N, C) whose arg-max equals the label, in *out.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, SHAPE_MISMATCH. */
gradus_status gradus_accuracy(gradus_tensor logits, const int32_t *labels, size_t count, double *out);

/* ======================================================================================================== */
/* Data                                                                                                     */
/* ======================================================================================================== */
/* A dataset is an immutable table of float32 samples (each of sample shape) with int32 class labels. */
typedef struct gradus_dataset_s *gradus_dataset;

typedef int32_t gradus_split;
#define GRADUS_SPLIT_TRAIN 0
#define GRADUS_SPLIT_TEST  1

/* Synthetic classification sets. Pinned values, append-only. */
typedef int32_t gradus_synthetic;
#define GRADUS_SYNTHETIC_TWO_MOONS 0 /* 2-d, 2 classes */
#define GRADUS_SYNTHETIC_SPIRALS   1 /* 2-d, 2 classes */
#define GRADUS_SYNTHETIC_XOR       2 /* 2-d, 2 classes */
#define GRADUS_SYNTHETIC_MIXTURE   3 /* 2-d, 3 classes (Gaussian mixture) */

/* Loads Fashion-MNIST from the IDX files (plain or .gz) in `directory` (NULL: the Debian dataset path),
 * images scaled to [0, 1], flattened to 784 features. limit > 0 keeps the first `limit` samples.
 * Returns OK; INVALID_ARGUMENT (out NULL, unknown split, negative limit); NOT_FOUND (files absent);
 * FORMAT_ERROR (malformed files); IO_ERROR. */
gradus_status gradus_dataset_load_fashion_mnist(const char *directory, gradus_split split, int64_t limit,
                                                gradus_dataset *out);
/* Generates `count` samples (1..10^7) of a synthetic set, reproducibly from `seed`.
 * Returns OK, INVALID_ARGUMENT (unknown kind, bad count, out NULL). */
gradus_status gradus_dataset_create_synthetic(gradus_synthetic kind, int64_t count, uint64_t seed,
                                              gradus_dataset *out);
/* NULL is a no-op. Returns OK, INVALID_HANDLE. */
gradus_status gradus_dataset_destroy(gradus_dataset dataset);
/* Number of samples, features per sample and classes. Return OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_dataset_count(gradus_dataset dataset, int64_t *out);
gradus_status gradus_dataset_sample_size(gradus_dataset dataset, int64_t *out);
gradus_status gradus_dataset_class_count(gradus_dataset dataset, int32_t *out);
/* Samples start..start+count-1 of the order in force (see gradus_dataset_shuffle): a new float32 tensor
 * (count, sample_size) in *features and the labels in labels[0..count). The range is clipped to the end.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (NULL pointers, start out of range, count <= 0). */
gradus_status gradus_dataset_batch(gradus_dataset dataset, int64_t start, int64_t count, gradus_tensor *features,
                                   int32_t *labels);
/* Re-orders the samples with a permutation drawn from `seed` (call it once per epoch with a new seed).
 * Returns OK, INVALID_HANDLE. */
gradus_status gradus_dataset_shuffle(gradus_dataset dataset, uint64_t seed);

/* ======================================================================================================== */
/* Checkpoints                                                                                              */
/* ======================================================================================================== */
/* Checkpoints are safetensors files: one entry per parameter (and buffer) name, readable by PyTorch and
 * numpy tools. */

/* Writes the model's parameters to `path` atomically (a temporary file renamed over the target).
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (path NULL), IO_ERROR. */
gradus_status gradus_model_save(gradus_model model, const char *path);
/* Reads parameters from `path` into the model; names and shapes must match exactly.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT, IO_ERROR/NOT_FOUND (unreadable file), FORMAT_ERROR,
 * SHAPE_MISMATCH (a stored shape differs), NOT_FOUND (missing or unexpected name). */
gradus_status gradus_model_load(gradus_model model, const char *path);

/* ======================================================================================================== */
/* Optimizers                                                                                               */
/* ======================================================================================================== */
/*
 * An optimizer updates a fixed list of parameter tensors (all float32 or all float64, contiguous) in place
 * from their accumulated gradients (gradus_tensor_backward). It keeps its own state (moments, accumulators,
 * step counters); the parameters are retained, so they may be destroyed by the caller. Every optimizer of
 * the library's catalog is available (the same names and bounds as `gradus train --optimizer`), with an
 * optional learning-rate schedule evaluated inside the step. An optimizer handle may be used by one thread
 * at a time.
 *
 *     gradus_optimizer_options o;
 *     gradus_optimizer opt;
 *     gradus_hparam keys[] = { GRADUS_HPARAM_WEIGHT_DECAY };  double values[] = { 0.05 };
 *     gradus_optimizer_options_init(&o);
 *     o.lr = 1e-3; o.schedule = GRADUS_SCHEDULE_WARMUP_COSINE; o.warmup_steps = 100; o.total_steps = 1000;
 *     o.hparam_keys = keys; o.hparam_values = values; o.hparam_count = 1;
 *     gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAMW, model, &o, &opt);
 *     for (...) { forward; loss; gradus_optimizer_zero_grad(opt); gradus_tensor_backward(loss);
 *                 gradus_optimizer_step(opt); }
 *     gradus_optimizer_destroy(opt);
 */
typedef struct gradus_optimizer_s *gradus_optimizer;

/* Optimizer kinds (catalog name in quotes). Pinned values, append-only. */
typedef int32_t gradus_optimizer_kind;
#define GRADUS_OPTIMIZER_SGD                 0  /* "sgd": momentum, dampening, weight_decay, nesterov */
#define GRADUS_OPTIMIZER_ADAM                1  /* "adam": beta1, beta2, eps, weight_decay (L2) */
#define GRADUS_OPTIMIZER_ADAMW               2  /* "adamw": beta1, beta2, eps, weight_decay (decoupled, 0.01) */
#define GRADUS_OPTIMIZER_ADAGRAD             3  /* "adagrad": lr_decay, weight_decay, initial_accumulator, eps */
#define GRADUS_OPTIMIZER_ADAGRADNORM         4  /* "adagradnorm": b0 */
#define GRADUS_OPTIMIZER_ADAGRADNORM_ROWWISE 5  /* "adagradnorm-rowwise": lr_decay, initial_accumulator */
#define GRADUS_OPTIMIZER_DIFFGRAD            6  /* "diffgrad": beta1, beta2, eps, weight_decay */
#define GRADUS_OPTIMIZER_ADAMP               7  /* "adamp": beta1, beta2, eps, weight_decay, delta, wd_ratio, nesterov */
#define GRADUS_OPTIMIZER_SGDP                8  /* "sgdp": momentum, dampening, weight_decay, nesterov, eps, delta,
                                                   wd_ratio */
#define GRADUS_OPTIMIZER_SPAM                9  /* "spam": beta1, beta2, eps, weight_decay, warmup_steps, threshold,
                                                   interval */
#define GRADUS_OPTIMIZER_STABLE_SPAM         10 /* "stable-spam": beta1, beta2, eps, weight_decay, gamma1, gamma2,
                                                   gamma3, total_steps, reset_interval */
#define GRADUS_OPTIMIZER_ORTHOGRAD_SGD       11 /* "orthograd-sgd": momentum, weight_decay, nesterov */
#define GRADUS_OPTIMIZER_ORTHOGRAD_ADAM      12 /* "orthograd-adam": beta1, beta2, eps, weight_decay */
#define GRADUS_OPTIMIZER_PERP_ADAMW          13 /* "perp-adamw": beta1, beta2, eps, weight_decay (0.01) */
/* 8-bit optimizers (bitsandbytes): both Adam moments stored blockwise in 8 bits (dynamic maps, absmax per 256
 * elements); tensors with fewer than min_8bit_size elements keep float moments. Weight decay is decoupled. */
#define GRADUS_OPTIMIZER_ADAM8BIT            14 /* "adam8bit": beta1, beta2, eps, weight_decay, min_8bit_size */
#define GRADUS_OPTIMIZER_ADAMW8BIT           15 /* "adamw8bit": beta1, beta2, eps, weight_decay (0.01),
                                                   min_8bit_size */
#define GRADUS_OPTIMIZER_STABLE_SPAM_8BIT    16 /* "stable-spam-8bit": as "stable-spam", plus min_8bit_size */

/* Hyperparameters by key. Pinned values, append-only. Bounds are checked: every value must be finite;
 * "[0,1)" and ">= 0" below are enforced, integers must be whole numbers. The first six may also be changed
 * on a live optimizer (gradus_optimizer_set_hparam); the others shape the optimizer and are fixed at creation. */
typedef int32_t gradus_hparam;
#define GRADUS_HPARAM_LR                  0  /* >= 0; with a schedule: the peak rate */
#define GRADUS_HPARAM_WEIGHT_DECAY        1  /* >= 0 */
#define GRADUS_HPARAM_BETA1               2  /* [0,1), default 0.9 */
#define GRADUS_HPARAM_BETA2               3  /* [0,1), default 0.999 */
#define GRADUS_HPARAM_EPS                 4  /* >= 0 */
#define GRADUS_HPARAM_MOMENTUM            5  /* [0,1), SGD family, default 0 */
#define GRADUS_HPARAM_DAMPENING           6  /* [0,1), default 0 */
#define GRADUS_HPARAM_NESTEROV            7  /* 0 or 1, default 0 */
#define GRADUS_HPARAM_LR_DECAY            8  /* >= 0 (AdaGrad) */
#define GRADUS_HPARAM_INITIAL_ACCUMULATOR 9  /* >= 0 (AdaGrad) */
#define GRADUS_HPARAM_B0                  10 /* >= 0 (AdaGradNorm), default 0.1 */
#define GRADUS_HPARAM_DELTA               11 /* >= 0 (AdamP/SGDP), default 0.1 */
#define GRADUS_HPARAM_WD_RATIO            12 /* >= 0 (AdamP/SGDP), default 0.1 */
#define GRADUS_HPARAM_WARMUP_STEPS        13 /* integer 1..2^31 (SPAM), default 150 */
#define GRADUS_HPARAM_THRESHOLD           14 /* >= 0 (SPAM spike threshold), default 5000 */
#define GRADUS_HPARAM_INTERVAL            15 /* integer 1..2^31 (SPAM momentum reset), default 500 */
#define GRADUS_HPARAM_GAMMA1              16 /* [0,1) (Stable-SPAM), default 0.7 */
#define GRADUS_HPARAM_GAMMA2              17 /* [0,1) (Stable-SPAM), default 0.9 */
#define GRADUS_HPARAM_GAMMA3              18 /* [0,1) (Stable-SPAM), default 0.999 */
#define GRADUS_HPARAM_TOTAL_STEPS         19 /* integer 1..2^31 (Stable-SPAM), default: unset */
#define GRADUS_HPARAM_RESET_INTERVAL      20 /* integer 1..2^31 (Stable-SPAM), default 1000 */
#define GRADUS_HPARAM_MIN_8BIT_SIZE       21 /* integer 0..2^31 (8-bit kinds), default 4096 */

/* Learning-rate schedules lr(t), t = 0, 1, ... the update index (torch.optim.lr_scheduler shapes).
 * Pinned values, append-only. */
typedef int32_t gradus_schedule_kind;
#define GRADUS_SCHEDULE_CONSTANT      0 /* lr */
#define GRADUS_SCHEDULE_STEP          1 /* lr * gamma^floor(t / step_size) (StepLR) */
#define GRADUS_SCHEDULE_LINEAR        2 /* lr * max(0, 1 - t / total_steps) */
#define GRADUS_SCHEDULE_WARMUP_LINEAR 3 /* lr * t / warmup_steps, then linear decay to 0 at total_steps */
#define GRADUS_SCHEDULE_COSINE        4 /* min_lr + (lr - min_lr)(1 + cos(pi t / total_steps)) / 2 */
#define GRADUS_SCHEDULE_WARMUP_COSINE 5 /* lr * t / warmup_steps, then cosine decay to 0 at total_steps */
#define GRADUS_SCHEDULE_PIECEWISE     6 /* lr * multipliers[min(t, multiplier_count - 1)]: any per-step shape, e.g.
                                           one from gradus_schedule_refine (since 0.1.1) */

typedef struct gradus_optimizer_options {
    size_t struct_size;              /* sizeof(gradus_optimizer_options); set by gradus_optimizer_options_init */
    double lr;                       /* learning rate (peak of the schedule), >= 0; default 1e-3 */
    gradus_schedule_kind schedule;   /* default GRADUS_SCHEDULE_CONSTANT */
    int64_t warmup_steps;            /* WARMUP_*: 0..total_steps; default 0 */
    int64_t total_steps;             /* LINEAR, WARMUP_*, COSINE: > 0; default 1 */
    int64_t step_size;               /* STEP: > 0; default 1000 */
    double gamma;                    /* STEP: decay factor, finite; default 0.1 */
    double min_lr;                   /* COSINE: the final rate, finite; default 0 */
    const gradus_hparam *hparam_keys;   /* hparam_count keys (borrowed for the call); NULL when the count is 0 */
    const double *hparam_values;        /* their values; a key the kind does not list is INVALID_ARGUMENT */
    size_t hparam_count;                /* at most 64; later entries win over earlier ones */
    /* Since 0.1.1 (a caller built against 0.1.0 passes the smaller struct_size, and these keep their defaults; a
     * 0.1.1 program must be rebuilt with this header to set them: its unsized init call fills the 0.1.0 layout). */
    const double *multipliers;       /* PIECEWISE: multiplier_count finite values, copied at creation; default NULL */
    size_t multiplier_count;         /* PIECEWISE: 1..2^28; default 0 */
} gradus_optimizer_options;

/* Fills *options with the defaults. Thread-safe. Called as gradus_optimizer_options_init(&o) (the macro passes
 * sizeof; see "Options structs" above). Returns OK; INVALID_ARGUMENT (NULL options, options_size out of range). */
gradus_status gradus_optimizer_options_init_sized(gradus_optimizer_options *options, size_t options_size);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_optimizer_options_init(gradus_optimizer_options *options);
#define gradus_optimizer_options_init(options) gradus_optimizer_options_init_sized((options), sizeof *(options))

/* Schedule refinement (Defazio et al., "When, Why and How Much?", optimizers spec §6.1): from the gradient norms
 * g[0..count) logged in a previous run of the same setup, the learning-rate multipliers out[0..count) for a new run:
 * a running median of width 2*floor(floor(tau*count)/2) + 1 (right edge reflected), weights median^-power,
 * out[t] proportional to w[t] * sum_{q>t} w[q], normalised to a maximum of 1 (out[count-1] = 0). Use l2 norms with
 * power 2 for SGD-type optimizers, l1 norms with power 1 for Adam-type; tau 0.1 as the paper. Pass out as the
 * multipliers of a GRADUS_SCHEDULE_PIECEWISE schedule (lr is then the peak). out may be g.
 * Runs in O(n log n) for n = count + 2*width values. Thread-safe. Returns OK; INVALID_ARGUMENT (g or out NULL,
 * count < 2, count + 2*width above 2^26, a norm not finite and > 0, power not finite and > 0 or so large that
 * |power * ln(median)| exceeds 1e300, tau negative or not finite). */
gradus_status gradus_schedule_refine(const double *g, size_t count, double power, double tau, double *out);

/* Creates an optimizer of `kind` over params[0..count) (1..2^20 tensors, all float32 or all float64,
 * contiguous, no storage twice). The handles are borrowed; the optimizer retains the tensors. options may be
 * NULL (the defaults). Returns OK; INVALID_ARGUMENT (out/params NULL, count 0 or too large, unknown kind,
 * schedule or key, a hyperparameter out of bounds or not finite, a key the kind does not have, bad
 * struct_size, a non-contiguous or repeated parameter); INVALID_HANDLE (a parameter handle);
 * DTYPE_MISMATCH (mixed dtypes). */
gradus_status gradus_optimizer_create(gradus_optimizer_kind kind, const gradus_tensor *params, size_t count,
                                      const gradus_optimizer_options *options, gradus_optimizer *out);
/* Like gradus_optimizer_create over every parameter of `model`, in gradus_model_parameter_get order.
 * Returns as gradus_optimizer_create, and INVALID_HANDLE for the model. */
gradus_status gradus_optimizer_create_for_model(gradus_optimizer_kind kind, gradus_model model,
                                                const gradus_optimizer_options *options, gradus_optimizer *out);
/* Destroys the optimizer and its state (the parameters stay). NULL is a no-op. Returns OK, INVALID_HANDLE. */
gradus_status gradus_optimizer_destroy(gradus_optimizer optimizer);
/* One update of every parameter from its current gradient (a parameter without a gradient gets a zero
 * gradient). Never recorded for autodiff. Returns OK, INVALID_HANDLE, SHAPE_MISMATCH/DTYPE_MISMATCH (a
 * gradient replaced by gradus_tensor_set_grad with another shape or dtype). */
gradus_status gradus_optimizer_step(gradus_optimizer optimizer);
/* Clears the gradient of every parameter. Returns OK, INVALID_HANDLE. */
gradus_status gradus_optimizer_zero_grad(gradus_optimizer optimizer);
/* Changes a hyperparameter from the next step on (GRADUS_HPARAM_LR sets the schedule's peak).
 * Returns OK; INVALID_HANDLE; INVALID_ARGUMENT (unknown key, value not finite or out of bounds, or a key
 * this optimizer does not have: e.g. MOMENTUM on an SGD created with momentum 0, or WEIGHT_DECAY on one
 * created with weight_decay 0 — give such values at creation); UNSUPPORTED (a key fixed at creation,
 * GRADUS_HPARAM_DAMPENING and up). */
gradus_status gradus_optimizer_set_hparam(gradus_optimizer optimizer, gradus_hparam key, double value);
/* The current value of a hyperparameter a live optimizer can change (GRADUS_HPARAM_LR ... GRADUS_HPARAM_MOMENTUM;
 * for LR: the schedule's peak, as set by gradus_optimizer_set_hparam) in *out (0 on failure).
 * Returns OK; INVALID_HANDLE; INVALID_ARGUMENT (out NULL, unknown key, or a key this optimizer does not have);
 * UNSUPPORTED (a key fixed at creation, GRADUS_HPARAM_DAMPENING and up). */
gradus_status gradus_optimizer_get_hparam(gradus_optimizer optimizer, gradus_hparam key, double *out);
/* The learning rate the next step will use (the schedule at the current step) in *out.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (out NULL). */
gradus_status gradus_optimizer_get_lr(gradus_optimizer optimizer, double *out);
/* Number of steps taken (restored by the state loaders) in *out. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT. */
gradus_status gradus_optimizer_step_count(gradus_optimizer optimizer, int64_t *out);

/* The state as named float64 tensors: "step", "state.<i>.step" and the per-parameter fields
 * "state.<i>.<field>" (e.g. "state.0.exp_avg", shaped like parameter i), shared fields "group.0.<field>".
 * gradus_optimizer_state_count gives the number of entries (it changes only when the optimizer is rebuilt);
 * entry `index` has the name from gradus_optimizer_state_name (snprintf-style as gradus_context_describe) and
 * a new tensor holding a copy of its values from gradus_optimizer_state_get.
 * Return OK, INVALID_HANDLE, INVALID_ARGUMENT (NULL pointers, index out of range). */
gradus_status gradus_optimizer_state_count(gradus_optimizer optimizer, size_t *out);
gradus_status gradus_optimizer_state_name(gradus_optimizer optimizer, size_t index, char *buffer, size_t capacity,
                                          size_t *out_length);
gradus_status gradus_optimizer_state_get(gradus_optimizer optimizer, size_t index, gradus_tensor *out);
/* Replaces the whole state from `count` named tensors (float32 or float64), e.g. those read with the three
 * functions above from an optimizer of the same kind over parameters of the same shapes. Nothing changes
 * unless every check passes. Returns OK; INVALID_HANDLE; INVALID_ARGUMENT (NULL arrays with count > 0, a NULL
 * name, a step counter that is not a whole number in 0..2^53); NOT_FOUND (a missing or unexpected name);
 * SHAPE_MISMATCH (an entry with the wrong number of elements). */
gradus_status gradus_optimizer_load_state(gradus_optimizer optimizer, const char *const *names,
                                          const gradus_tensor *tensors, size_t count);
/* Writes the state to a safetensors file atomically: entries named "optimizer." + the state name, stored as
 * F64, metadata "gradus.optimizer" = the catalog name. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (path NULL
 * or empty), IO_ERROR. */
gradus_status gradus_optimizer_save(gradus_optimizer optimizer, const char *path);
/* Reads a state written by gradus_optimizer_save (the "optimizer." entries; other entries are ignored).
 * Returns as gradus_optimizer_load_state, and IO_ERROR/NOT_FOUND (unreadable file), FORMAT_ERROR. */
gradus_status gradus_optimizer_load(gradus_optimizer optimizer, const char *path);

/* ======================================================================================================== */
/* Low-bit training                                                                                         */
/* ======================================================================================================== */
/*
 * Fake quantization for quantization-aware training: the forward pass rounds weights (and optionally layer
 * inputs) to a low-bit grid and back, the backward runs the configured estimator (straight-through, clipped,
 * ReSTE), and the optimizer keeps updating full-precision master weights. gradus_model_quantize switches every
 * Linear layer of a model at once; parameter handles, names, checkpoints and optimizers stay valid.
 */

/* Number formats. Pinned values, append-only. */
typedef int32_t gradus_quant_format;
#define GRADUS_QUANT_FORMAT_INT      0 /* uniform integer grid, bits 1..8 (1: binary sign, symmetric only) */
#define GRADUS_QUANT_FORMAT_FP4_E2M1 1 /* OCP E2M1 elements, float scale absmax/6 per group; bits 4 */
#define GRADUS_QUANT_FORMAT_MXFP4    2 /* OCP MXFP4: E2M1 + power-of-two scale per block; bits 4, PER_GROUP */
#define GRADUS_QUANT_FORMAT_NF4      3 /* bitsandbytes NF4 codebook, absmax per block; bits 4 */
#define GRADUS_QUANT_FORMAT_BNB_FP4  4 /* bitsandbytes FP4 codebook, absmax per block; bits 4 */

/* Which elements share a scale. Pinned values, append-only. */
typedef int32_t gradus_quant_granularity;
#define GRADUS_QUANT_PER_TENSOR  0
#define GRADUS_QUANT_PER_CHANNEL 1 /* one scale per index along channel_axis (0: a weight's output rows) */
#define GRADUS_QUANT_PER_GROUP   2 /* one scale per group_size consecutive elements (row-major) */

/* The backward of the rounding. Pinned values, append-only. */
typedef int32_t gradus_quant_estimator;
#define GRADUS_QUANT_ESTIMATOR_STE         0 /* the gradient passes unchanged */
#define GRADUS_QUANT_ESTIMATOR_CLIPPED_STE 1 /* passes where |x| <= clip, else 0 */
#define GRADUS_QUANT_ESTIMATOR_RESTE       2 /* ReSTE(o, t): derivative of sign(z)|z|^(1/o), 0 beyond t */

typedef struct gradus_quant_options {
    size_t struct_size;                   /* sizeof(gradus_quant_options); set by gradus_quant_options_init */
    int32_t bits;                         /* default 8 */
    gradus_quant_format format;           /* default GRADUS_QUANT_FORMAT_INT */
    int32_t symmetric;                    /* nonzero: symmetric grid (default 1); the 4-bit formats need it */
    gradus_quant_granularity granularity; /* default GRADUS_QUANT_PER_TENSOR */
    int32_t channel_axis;                 /* PER_CHANNEL: the axis (negative counts from the end); default 0 */
    int64_t group_size;                   /* PER_GROUP: > 0, must divide the element count; default 128 */
    int32_t stochastic_rounding;          /* nonzero: stochastic rounding (INT only) from seed; default 0 */
    uint64_t seed;                        /* default 0 */
    gradus_quant_estimator estimator;     /* default GRADUS_QUANT_ESTIMATOR_STE */
    double clip;                          /* CLIPPED_STE: finite, > 0; default 1 */
    double reste_o;                       /* RESTE: finite, >= 1; default 1 */
    double reste_t;                       /* RESTE: finite, > 0; default 1.5 */
} gradus_quant_options;

/* Fills *options with the defaults (INT8, symmetric, per tensor, round to nearest even, STE). Thread-safe. Called
 * as gradus_quant_options_init(&o) (the macro passes sizeof; see "Options structs" above). Returns OK;
 * INVALID_ARGUMENT (NULL options, options_size out of range). */
gradus_status gradus_quant_options_init_sized(gradus_quant_options *options, size_t options_size);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_quant_options_init(gradus_quant_options *options);
#define gradus_quant_options_init(options) gradus_quant_options_init_sized((options), sizeof *(options))

/* out = dequant(quant(x)) per options, recorded for autodiff with the configured estimator as its backward.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (NULL options/out, bad struct_size, unknown enum value, bits
 * the format does not allow, MXFP4 not per group, stochastic rounding outside INT, a group size that does not
 * divide x's element count, a channel axis out of range, estimator parameters out of range or not finite). */
gradus_status gradus_tensor_fake_quantize(gradus_tensor x, const gradus_quant_options *options, gradus_tensor *out);

/* Quantizes every Linear layer of `model` for training: its weight with `weights`, its input with
 * `activations` (either may be NULL: left in full precision; not both). Layers already quantized get the new
 * configuration. The weight configuration is checked against every layer first (the model is unchanged on
 * failure); an activation group size that does not divide a batch's element count fails at
 * gradus_model_forward. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (both NULL, and as
 * gradus_tensor_fake_quantize; the message names the layer). */
gradus_status gradus_model_quantize(gradus_model model, const gradus_quant_options *weights,
                                    const gradus_quant_options *activations);
/* Returns every quantized layer to full precision (the parameters keep their current values).
 * Returns OK, INVALID_HANDLE. */
gradus_status gradus_model_dequantize(gradus_model model);
/* Number of quantized layers of the model in *out. Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (out NULL). */
gradus_status gradus_model_quantized_layer_count(gradus_model model, size_t *out);

/* ======================================================================================================== */
/* Diffusion                                                                                                */
/* ======================================================================================================== */
/*
 * Class-conditional diffusion (DDPM, DDIM, flow matching) with classifier-free guidance (CFG), CFG-rescale and
 * adaptive projected guidance (APG), as diffusers does it. A noise schedule handle fixes the forward process
 * (betas, what the model predicts, timestep spacing). A denoiser IS a gradus_model: parameters, optimizers
 * (gradus_optimizer_create_for_model), gradus_model_save/load, set_training and zero_grad work on it;
 * gradus_model_forward does not (it needs timesteps and labels: gradus_model_denoise). Each denoiser has
 * num_classes real classes plus the "null" label num_classes: trained with label dropout, one model gives the
 * conditional and the unconditional prediction, and samplers get both from one batched forward per step.
 *
 *     gradus_noise_schedule_options so;  gradus_denoiser_options dn;  gradus_sample_options sa;
 *     gradus_noise_schedule sched;  gradus_model model;  gradus_optimizer opt;  gradus_tensor samples;
 *     gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_COSINE);
 *     gradus_noise_schedule_create(&so, &sched);
 *     gradus_denoiser_options_init(&dn, GRADUS_DENOISER_MLP);  dn.data_dim = 2;  dn.num_classes = 4;
 *     gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT32, 0, &model);
 *     gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAM, model, NULL, &opt);
 *     gradus_diffusion_train(model, sched, opt, x, labels, n, NULL, NULL);     // x: (n, 2), labels in 0..3
 *     gradus_sample_options_init(&sa, GRADUS_GUIDANCE_APG);  sa.scale = 10;
 *     gradus_diffusion_sample(model, sched, &sa, wanted, 64, &samples);       // samples: (64, 2) float32
 *     gradus_image_grid_save(samples, wanted, 64, NULL, "samples.png");
 */
typedef struct gradus_noise_schedule_s *gradus_noise_schedule;

/* Beta schedules. Pinned values, append-only. */
typedef int32_t gradus_noise_schedule_kind;
#define GRADUS_NOISE_SCHEDULE_LINEAR        0 /* DDPM: beta evenly spaced from beta_start to beta_end */
#define GRADUS_NOISE_SCHEDULE_SCALED_LINEAR 1 /* Stable Diffusion: sqrt(beta) evenly spaced, squared */
#define GRADUS_NOISE_SCHEDULE_COSINE        2 /* Nichol & Dhariwal (squaredcos_cap_v2), beta capped at max_beta */

/* How N sampling timesteps are picked from the T training steps (diffusers timestep_spacing).
 * Pinned values, append-only. */
typedef int32_t gradus_timestep_spacing;
#define GRADUS_TIMESTEP_SPACING_LEADING  0 /* k * (T div N) + steps_offset, k = N-1 ... 0 */
#define GRADUS_TIMESTEP_SPACING_TRAILING 1 /* round(T - k T / N) - 1, k = 0 ... N-1 (starts at T - 1) */
#define GRADUS_TIMESTEP_SPACING_LINSPACE 2 /* round(linspace(0, T - 1, N)), reversed */

/* What the denoiser predicts (diffusers prediction_type). Pinned values, append-only. */
typedef int32_t gradus_prediction;
#define GRADUS_PREDICTION_EPSILON 0 /* the noise */
#define GRADUS_PREDICTION_V       1 /* v = sqrt(abar) eps - sqrt(1 - abar) x0 */
#define GRADUS_PREDICTION_SAMPLE  2 /* x0 */
#define GRADUS_PREDICTION_FLOW    3 /* rectified flow: x_s = s eps + (1 - s) x0, velocity eps - x0, model timestep
                                       s * train_steps; the betas are not used */

typedef struct gradus_noise_schedule_options {
    size_t struct_size;                /* sizeof(gradus_noise_schedule_options); set by the init function */
    gradus_noise_schedule_kind kind;   /* set by the init function */
    int32_t train_steps;               /* T, 2..100000; default 1000 */
    double beta_start;                 /* LINEAR, SCALED_LINEAR: in [0, 1]; default 1e-4 (LINEAR), 0.00085 */
    double beta_end;                   /* LINEAR, SCALED_LINEAR: in [0, 1]; default 0.02 (LINEAR), 0.012 */
    double max_beta;                   /* COSINE: the cap, in (0, 1]; default 0.999 */
    int32_t zero_terminal_snr;         /* nonzero: rescale to zero terminal SNR (Lin et al.); needs a V or SAMPLE
                                          prediction (epsilon is undefined at the last step); default 0 */
    gradus_timestep_spacing spacing;   /* default LEADING */
    int32_t steps_offset;              /* LEADING: added to every timestep, 0..train_steps-1; default 0 */
    gradus_prediction prediction;      /* default EPSILON */
    double flow_shift;                 /* FLOW: timestep shift k of the Euler sigmas (SD3: 3), finite, > 0;
                                          default 1 */
} gradus_noise_schedule_options;

/* Fills *options with the defaults for `kind` (an unknown kind is kept and rejected by create). Thread-safe. Called
 * as gradus_noise_schedule_options_init(&o, kind) (the macro passes sizeof; see "Options structs" above). Returns
 * OK; INVALID_ARGUMENT (NULL options, options_size out of range). */
gradus_status gradus_noise_schedule_options_init_sized(gradus_noise_schedule_options *options, size_t options_size,
    gradus_noise_schedule_kind kind);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_noise_schedule_options_init(gradus_noise_schedule_options *options, gradus_noise_schedule_kind kind);
#define gradus_noise_schedule_options_init(options, kind) \
    gradus_noise_schedule_options_init_sized((options), sizeof *(options), (kind))
/* Builds a schedule. Returns OK; INVALID_ARGUMENT (NULL options/out, bad struct_size, unknown enum value, a
 * value outside the bounds above or not finite, zero terminal SNR with EPSILON or FLOW). */
gradus_status gradus_noise_schedule_create(const gradus_noise_schedule_options *options, gradus_noise_schedule *out);
/* NULL is a no-op. Returns OK, INVALID_HANDLE. */
gradus_status gradus_noise_schedule_destroy(gradus_noise_schedule schedule);
/* The cumulative products abar_t, t = 0..T-1, as a new float64 tensor (T) in *out.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (out NULL). */
gradus_status gradus_noise_schedule_alphas_cumprod(gradus_noise_schedule schedule, gradus_tensor *out);
/* The model timesteps of an N-step sampling chain, noisiest first, in timesteps[0..N) (capacity entries
 * available): the spaced integer timesteps, or for FLOW the continuous sigma_i * T of the Euler chain.
 * Returns OK, INVALID_HANDLE, INVALID_ARGUMENT (timesteps NULL, steps outside 1..T), SHAPE_MISMATCH
 * (capacity < steps). */
gradus_status gradus_noise_schedule_timesteps(gradus_noise_schedule schedule, int32_t steps, double *timesteps,
                                              size_t capacity);

/* Denoiser architectures. Pinned values, append-only. */
typedef int32_t gradus_denoiser_kind;
#define GRADUS_DENOISER_MLP  0 /* points (B, data_dim): time and class embedding added to `depth` SiLU layers */
#define GRADUS_DENOISER_CONV 1 /* images (B, channels, height, width), even sizes: a one-level U-Net */

typedef struct gradus_denoiser_options {
    size_t struct_size;        /* sizeof(gradus_denoiser_options); set by gradus_denoiser_options_init */
    gradus_denoiser_kind kind; /* set by the init function */
    int32_t num_classes;       /* real classes, 1..65536 (label num_classes is the null label); default 10 */
    int64_t data_dim;          /* MLP: features per sample, 1..65536; default 2 */
    int64_t hidden;            /* MLP: width, 1..65536; default 128 */
    int32_t depth;             /* MLP: hidden layers + 1, 1..256; default 3 */
    int64_t channels;          /* CONV: 1..1024; default 1 */
    int64_t height;            /* CONV: even, 2..4096; default 28 */
    int64_t width;             /* CONV: even, 2..4096; default 28 */
    int64_t base_width;        /* CONV: channels of the first level, 1..4096; default 16 */
} gradus_denoiser_options;

/* Fills *options with the defaults for `kind`. Thread-safe. Called as gradus_denoiser_options_init(&o, kind) (the
 * macro passes sizeof; see "Options structs" above). Returns OK; INVALID_ARGUMENT (NULL options, options_size out
 * of range). */
gradus_status gradus_denoiser_options_init_sized(gradus_denoiser_options *options, size_t options_size,
    gradus_denoiser_kind kind);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_denoiser_options_init(gradus_denoiser_options *options, gradus_denoiser_kind kind);
#define gradus_denoiser_options_init(options, kind) \
    gradus_denoiser_options_init_sized((options), sizeof *(options), (kind))
/* Builds a denoiser with parameters initialised from `seed` in dtype, as a new gradus_model. Parameter names are
 * the layers' ("conditioning.time1.weight", "input.weight", "conv_in.weight", ...).
 * Returns OK; INVALID_ARGUMENT (NULL options/out, bad struct_size, unknown kind or dtype, a size outside the bounds
 * above, an odd CONV height/width); OUT_OF_MEMORY (more than 2^31 parameters). */
gradus_status gradus_model_create_denoiser(const gradus_denoiser_options *options, gradus_dtype dtype, uint64_t seed,
                                           gradus_model *out);
/* The denoiser's prediction for x (B, sample shape...) in the model's dtype, one timestep (finite, in training
 * steps: 0..T-1, or s * T for FLOW) and one label (0..num_classes; num_classes = unconditional) per row:
 * count == B. Recorded for autodiff (a custom loss can be backpropagated). Returns OK; INVALID_HANDLE;
 * INVALID_ARGUMENT (NULL pointers, the model is not a denoiser, a label out of range, a non-finite timestep);
 * SHAPE_MISMATCH (x's shape, count != B); DTYPE_MISMATCH. */
gradus_status gradus_model_denoise(gradus_model model, gradus_tensor x, const double *timesteps, const int32_t *labels,
                                   size_t count, gradus_tensor *out);

typedef struct gradus_diffusion_train_options {
    size_t struct_size;      /* sizeof(gradus_diffusion_train_options); set by the init function */
    int64_t steps;           /* optimizer steps, 0..2^31; default 100 */
    int64_t batch_size;      /* rows drawn (uniformly, with replacement) per step, 1..2^20; 0 = every row in
                                order; default 128 */
    double label_dropout;    /* probability of replacing a label by the null label, [0, 1]; default 0.1 */
    uint64_t seed;           /* batches, timesteps, noise and dropout are drawn from it; default 0 */
} gradus_diffusion_train_options;

/* Fills *options with the defaults. Thread-safe. Called as gradus_diffusion_train_options_init(&o) (the macro
 * passes sizeof; see "Options structs" above). Returns OK; INVALID_ARGUMENT (NULL options, options_size out of
 * range). */
gradus_status gradus_diffusion_train_options_init_sized(gradus_diffusion_train_options *options, size_t options_size);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_diffusion_train_options_init(gradus_diffusion_train_options *options);
#define gradus_diffusion_train_options_init(options) \
    gradus_diffusion_train_options_init_sized((options), sizeof *(options))
/* Trains a denoiser: each step draws a batch of (x, labels), drops labels to the null label with probability
 * label_dropout, noises the batch at random timesteps of the schedule (or flow times), and takes one optimizer
 * step on the plain MSE against the schedule's target (the model's gradients are cleared before each backward).
 * x is (count, sample shape...) float32 or float64 data (e.g. images scaled to [-1, 1]); labels has count
 * entries in 0..num_classes-1. The optimizer must update parameters of this model (any subset, e.g. from
 * gradus_optimizer_create_for_model). options may be NULL (the defaults). losses may be NULL, else it receives
 * the loss of every step (steps entries). Runs with gradient recording on, whatever the thread's no-grad state.
 * Same handles, data and seed give the same parameters. Returns OK; INVALID_HANDLE; INVALID_ARGUMENT (NULL
 * labels, bad struct_size or option, a label out of range, count 0, the model is not a denoiser, an optimizer
 * parameter that is not the model's); SHAPE_MISMATCH (x's shape); DTYPE_MISMATCH (optimizer and model). On
 * failure after some steps the parameters keep the steps taken. */
gradus_status gradus_diffusion_train(gradus_model model, gradus_noise_schedule schedule, gradus_optimizer optimizer,
                                     gradus_tensor x, const int32_t *labels, size_t count,
                                     const gradus_diffusion_train_options *options, double *losses);

/* Samplers. Pinned values, append-only. */
typedef int32_t gradus_sampler_kind;
#define GRADUS_SAMPLER_DDPM       0 /* ancestral sampling (fixed_small variance) */
#define GRADUS_SAMPLER_DDIM       1 /* DDIM with eta (0: deterministic, 1: DDPM's posterior variance) */
#define GRADUS_SAMPLER_FLOW_EULER 2 /* Euler on the velocity over shifted sigmas; needs GRADUS_PREDICTION_FLOW */

/* How the conditional (c) and unconditional (u) predictions are combined. Pinned values, append-only. */
typedef int32_t gradus_guidance_kind;
#define GRADUS_GUIDANCE_NONE        0 /* c only (guidance off; the batched forward still computes u) */
#define GRADUS_GUIDANCE_CFG         1 /* classifier-free guidance: u + scale (c - u) */
#define GRADUS_GUIDANCE_CFG_RESCALE 2 /* CFG, then Lin et al.'s rescale towards c's std by guidance_rescale */
#define GRADUS_GUIDANCE_APG         3 /* adaptive projected guidance (Sadat et al.): momentum, norm threshold,
                                         the part of c - u parallel to c weighted by apg_eta */

/* Base of the guided prediction. Pinned values, append-only. */
typedef int32_t gradus_guidance_formulation;
#define GRADUS_GUIDANCE_FORMULATION_DIFFUSERS 0 /* u + scale * delta (guidance off at scale 1) */
#define GRADUS_GUIDANCE_FORMULATION_ORIGINAL  1 /* c + scale * delta (guidance off at scale 0; APG paper:
                                                   scale = w - 1) */

/* Where guidance runs. Pinned values, append-only. */
typedef int32_t gradus_guidance_space;
#define GRADUS_GUIDANCE_SPACE_MODEL_OUTPUT 0 /* on the model outputs (diffusers pipelines) */
#define GRADUS_GUIDANCE_SPACE_X0           1 /* on the x0 estimates, converted back (APG's paper); not for FLOW */

typedef struct gradus_sample_options {
    size_t struct_size;                       /* sizeof(gradus_sample_options); set by the init function */
    gradus_sampler_kind sampler;              /* default DDIM (FLOW_EULER for FLOW schedules: set it) */
    int32_t steps;                            /* 1..train_steps; default 50 */
    double eta;                               /* DDIM: finite, >= 0; default 0 */
    gradus_guidance_kind guidance;            /* set by the init function */
    double scale;                             /* guidance scale, finite; default 7.5 */
    gradus_guidance_formulation formulation;  /* default DIFFUSERS */
    double guidance_rescale;                  /* phi in [0, 1]: CFG_RESCALE (default 0.7) and, after the
                                                 projection, APG (default 0) */
    double apg_eta;                           /* APG: weight of the parallel part, finite; default 1 (diffusers;
                                                 the paper recommends 0) */
    double apg_norm_threshold;                /* APG: r, finite, >= 0 (0 disables); default 15 */
    double apg_momentum;                      /* APG: beta, finite (0: none, the default; the paper uses -0.5) */
    const int32_t *apg_norm_dims;             /* APG: axes of the norms and the projection (1..rank-1, negative
                                                 counts from the end); NULL = every non-batch axis (default).
                                                 Borrowed for the call only */
    size_t apg_norm_dim_count;                /* entries in apg_norm_dims, at most 8 */
    gradus_guidance_space space;              /* default MODEL_OUTPUT */
    uint64_t seed;                            /* the initial noise and every step's noise; default 0 */
} gradus_sample_options;

/* Fills *options with the defaults for the guidance kind. Thread-safe. Called as gradus_sample_options_init(&o,
 * guidance) (the macro passes sizeof; see "Options structs" above). Returns OK; INVALID_ARGUMENT (NULL options,
 * options_size out of range). */
gradus_status gradus_sample_options_init_sized(gradus_sample_options *options, size_t options_size,
    gradus_guidance_kind guidance);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_sample_options_init(gradus_sample_options *options, gradus_guidance_kind guidance);
#define gradus_sample_options_init(options, guidance) \
    gradus_sample_options_init_sized((options), sizeof *(options), (guidance))
/* Draws count samples, one per label (0..num_classes-1, or num_classes for an unconditional sample), from the
 * denoiser under the schedule: a new float32 tensor (count, sample shape...) in *out (sampling runs in float32;
 * the model runs in its dtype, without recording). options may be NULL (DDIM, CFG at 7.5). The same arguments
 * give the same samples. Returns OK; INVALID_HANDLE; INVALID_ARGUMENT (NULL labels/out, count outside
 * 1..2^20, a label out of range, bad struct_size, unknown enum value, an option outside its bounds or not
 * finite, a repeated or out-of-range norm axis, FLOW_EULER without a FLOW schedule or the other samplers with
 * one, X0 space with FLOW, the model is not a denoiser); OUT_OF_MEMORY (the samples would not fit). */
gradus_status gradus_diffusion_sample(gradus_model model, gradus_noise_schedule schedule,
                                      const gradus_sample_options *options, const int32_t *labels, size_t count,
                                      gradus_tensor *out);

typedef struct gradus_image_grid_options {
    size_t struct_size;   /* sizeof(gradus_image_grid_options); set by gradus_image_grid_options_init */
    int32_t columns;      /* images: tiles per row, 1..4096; default 8 */
    double value_min;     /* images: the value drawn black (lower values clip), finite; default -1 */
    double value_max;     /* images: the value drawn white, finite, > value_min; default 1 */
    int32_t padding;      /* images: pixels around tiles, 0..64; default 2 */
    int32_t upscale;      /* integer enlargement of the picture, 1..16; default 1 */
    int32_t plot_size;    /* points: side of the scatter plot in pixels, 8..4096; default 256 */
    double plot_extent;   /* points: the plot covers [-extent, extent]^2, finite, > 0; default 4 */
} gradus_image_grid_options;

/* Fills *options with the defaults. Thread-safe. Called as gradus_image_grid_options_init(&o) (the macro passes
 * sizeof; see "Options structs" above). Returns OK; INVALID_ARGUMENT (NULL options, options_size out of range). */
gradus_status gradus_image_grid_options_init_sized(gradus_image_grid_options *options, size_t options_size);
/* The 0.1.0 entry point, without a size: fills the first published layout only; NULL is a no-op. */
void gradus_image_grid_options_init(gradus_image_grid_options *options);
#define gradus_image_grid_options_init(options) gradus_image_grid_options_init_sized((options), sizeof *(options))
/* Writes samples as a PNG: images (N, C, H, W) with C = 1 (gray) or 3 (RGB) as a grid of tiles, or 2-D points
 * (N, 2) as a scatter plot coloured by label (labels may be NULL: black; else count == N, labels >= 0).
 * options may be NULL (the defaults). The file is replaced. Returns OK; INVALID_HANDLE; INVALID_ARGUMENT (path
 * NULL or empty, bad options, a negative label); SHAPE_MISMATCH (another shape, count != N);
 * OUT_OF_MEMORY (a picture above 2^28 pixels); IO_ERROR. */
gradus_status gradus_image_grid_save(gradus_tensor samples, const int32_t *labels, size_t count,
                                     const gradus_image_grid_options *options, const char *path);

/* ======================================================================================================== */
/* Testing                                                                                                  */
/* ======================================================================================================== */

/* DELIBERATELY UNGUARDED, for tests only: returns element `index` of a fixed 4-element table WITHOUT
 * validating `index`. Any index outside 0..3 makes the Swift runtime trap and KILLS THE PROCESS (SIGILL).
 * It exists so tests can prove that an unchecked path really is fatal, which is why every other function
 * validates its input first. Never call it with caller-controlled input. */
int32_t gradus_testing_unguarded_lookup(int32_t index);

#ifdef __cplusplus
}
#endif
#endif /* GRADUS_H */

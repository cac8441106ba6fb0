/*
 * gradus.h — the public C interface of Gradus, a CPU training library with a Swift core.
 *
 * This is the one public header: C99 and C++ clean, opaque handles only, every status value pinned.
 *
 * Worked example (error handling and the runtime; the same pattern holds for every section):
 *
 *     #include <gradus.h>
 *     #include <stdio.h>
 *
 *     int main(void) {
 *         gradus_context_options opts;
 *         char plan[4096];
 *         size_t needed = 0;
 *         if (gradus_abi_version() != GRADUS_ABI_VERSION) return 1;       // header and library agree
 *         gradus_context_options_init(&opts);                             // defaults first
 *         opts.num_threads = 2;
 *         if (gradus_context_configure(&opts) != GRADUS_STATUS_OK) {      // every call returns a status
 *             fprintf(stderr, "gradus: %s\n", gradus_last_error_message());
 *             return 1;
 *         }
 *         gradus_context_describe(plan, sizeof plan, &needed);            // JSON: topology, thread plan
 *         printf("gradus %s: %s\n", gradus_version_string(), plan);
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
 *  - Options structs begin with `size_t struct_size` and are filled with defaults by *_options_init.
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
#define GRADUS_VERSION_MINOR 1
#define GRADUS_VERSION_PATCH 0
#define GRADUS_VERSION_STRING "0.1.0"
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

/* Fills *options with the defaults (and struct_size); the environment is not read. Does nothing when options
 * is NULL. Thread-safe; cannot fail. */
void gradus_context_options_init(gradus_context_options *options);

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

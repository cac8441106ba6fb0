/* Internal C helpers for Gradus. Not API: the underscore says so.
 * Swift sees the public header through this module too. */
#ifndef _GRADUS_SHIMS_H
#define _GRADUS_SHIMS_H
#include "../../../include/gradus.h"
#include "gradus_math.h"
#include "gradus_optim_kernels.h"
#include "gradus_optim8bit_kernels.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-thread last-error slot behind gradus_last_error_message(). Hidden from the .so's exports. */
__attribute__((visibility("hidden"))) void gradus__set_error(const char *message);
__attribute__((visibility("hidden"))) const char *gradus__get_error(void);
__attribute__((visibility("hidden"))) void gradus__clear_error(void);

/* Pin the calling thread to one CPU (CPU_SET is a macro Swift cannot import). 0 on success, else errno. */
__attribute__((visibility("hidden"))) int gradus__pin_current_thread(int cpu);
/* Pin the calling thread to a set of CPUs. */
__attribute__((visibility("hidden"))) int gradus__pin_current_thread_set(const int *cpus, int count);
/* Fill `cpus` (capacity `capacity`) with the CPUs in the calling thread's affinity mask; returns the count or -errno. */
__attribute__((visibility("hidden"))) int gradus__current_affinity(int *cpus, int capacity);
/* CPU the calling thread runs on now, or -1. */
__attribute__((visibility("hidden"))) int gradus__current_cpu(void);

/* CPUs in the affinity mask of the process's main thread (pid), the mask taskset/numactl/cgroups gave us. */
__attribute__((visibility("hidden"))) int gradus__process_affinity(int *cpus, int capacity);

/* ---- ThreadPool wait/wake (pool_sync.c). Opaque: the atomics stay on the C side. ---- */
typedef struct gradus__sync gradus__sync;
/* Shared state for a pool with `workers` threads (the caller counts as worker 0). NULL on failure. */
__attribute__((visibility("hidden"))) gradus__sync *gradus__sync_create(int32_t workers);
__attribute__((visibility("hidden"))) void gradus__sync_destroy(gradus__sync *sync);
/* Worker side: wait until worker's sequence differs from `last` (spin up to spin_ns, then futex); returns it. */
__attribute__((visibility("hidden"))) uint32_t gradus__sync_worker_wait(gradus__sync *sync, int32_t worker, uint32_t last, int64_t spin_ns);
/* Worker side: report the current job finished (after dropping every reference to the job's closure). */
__attribute__((visibility("hidden"))) void gradus__sync_worker_done(gradus__sync *sync);
/* Caller side: arm the countdown, hand a job to one worker, wait for the countdown (spin, then futex). */
__attribute__((visibility("hidden"))) void gradus__sync_begin(gradus__sync *sync, int32_t pending);
__attribute__((visibility("hidden"))) void gradus__sync_signal(gradus__sync *sync, int32_t worker);
__attribute__((visibility("hidden"))) void gradus__sync_join(gradus__sync *sync, int64_t spin_ns);
/* Ask spinning workers to go to sleep now (before handing the cores to a multi-threaded BLAS). */
__attribute__((visibility("hidden"))) void gradus__sync_park(gradus__sync *sync);
__attribute__((visibility("hidden"))) int32_t gradus__sync_pending(gradus__sync *sync);

/* ---- NUMA and memory (numa_shim.c) ---- */
/* libnuma's numa_error/numa_warn are overridden: messages are kept, printed only when verbose. */
__attribute__((visibility("hidden"))) void gradus__numa_set_verbose(int verbose);
__attribute__((visibility("hidden"))) uint64_t gradus__numa_error_count(void);
__attribute__((visibility("hidden"))) const char *gradus__numa_last_error(void);
/* NUMA node of the page holding `address` (move_pages query): >= 0 node, -2 (-ENOENT) not faulted in yet, else -errno. */
__attribute__((visibility("hidden"))) int gradus__node_of_address(const void *address);
/* Anonymous mapping of `bytes` (page-rounded) whose base is `alignment`-aligned; MADV_HUGEPAGE if asked. NULL on failure. */
__attribute__((visibility("hidden"))) void *gradus__map_aligned(size_t bytes, size_t alignment, int hugepages);
__attribute__((visibility("hidden"))) void gradus__unmap(void *address, size_t bytes);
__attribute__((visibility("hidden"))) int gradus__page_size(void);

#ifdef __cplusplus
}
#endif
#endif

/* Internal C helpers for Gradus. Not API: the underscore says so.
 * Swift sees the public header through this module too. */
#ifndef _GRADUS_SHIMS_H
#define _GRADUS_SHIMS_H
#include "../../../include/gradus.h"
#include "gradus_math.h"

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

#ifdef __cplusplus
}
#endif
#endif

/* libnuma error hooks, page placement queries and aligned mappings for GradusRuntime.
 *
 * libnuma reports errors through the weak symbols numa_error()/numa_warn(), whose defaults print to
 * stderr (e.g. "mbind: Invalid argument" from numa_alloc_onnode on a node that does not exist, which
 * then silently returns memory on the local node). Defining them here keeps libnuma quiet unless
 * verbose affinity output was asked for; the last message is kept for callers and tests.
 * Note for the shipped .so: the version script must export numa_error and numa_warn, or the
 * definitions become local and libnuma's defaults win again. */
#define _GNU_SOURCE
#include "_GradusShims.h"
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic int gradus_numa_verbose = 0;
static _Atomic uint64_t gradus_numa_error_count = 0;
static _Thread_local char gradus_numa_last[256];

void gradus__numa_set_verbose(int verbose) { atomic_store(&gradus_numa_verbose, verbose ? 1 : 0); }
uint64_t gradus__numa_error_count(void) { return atomic_load(&gradus_numa_error_count); }
const char *gradus__numa_last_error(void) { return gradus_numa_last; }

/* Overrides of libnuma's weak hooks (prototypes from <numa.h>; not included here to keep this file free of
 * the libnuma headers, which are only needed by the Swift side). */
void numa_error(char *where);
void numa_warn(int number, char *format, ...);

void numa_error(char *where) {
    int err = errno;
    atomic_fetch_add(&gradus_numa_error_count, 1);
    snprintf(gradus_numa_last, sizeof gradus_numa_last, "%s: %s", where ? where : "libnuma", strerror(err));
    if (atomic_load(&gradus_numa_verbose)) fprintf(stderr, "gradus: libnuma error: %s\n", gradus_numa_last);
}

void numa_warn(int number, char *format, ...) {
    (void)number;
    atomic_fetch_add(&gradus_numa_error_count, 1);
    va_list ap;
    va_start(ap, format);
    vsnprintf(gradus_numa_last, sizeof gradus_numa_last, format ? format : "libnuma warning", ap);
    va_end(ap);
    if (atomic_load(&gradus_numa_verbose)) fprintf(stderr, "gradus: libnuma warning: %s\n", gradus_numa_last);
}

int gradus__node_of_address(const void *address) {
    void *pages[1] = { (void *)address };
    int status[1] = { -1 };
    if (syscall(SYS_move_pages, 0, 1UL, pages, NULL, status, 0) != 0) return -errno;
    return status[0];
}

void *gradus__map_aligned(size_t bytes, size_t alignment, int hugepages) {
    if (bytes == 0 || alignment == 0 || (alignment & (alignment - 1)) != 0) return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (alignment < page) alignment = page;
    bytes = (bytes + page - 1) & ~(page - 1);
    if (bytes > SIZE_MAX - alignment) return NULL;
    size_t span = bytes + alignment;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *base = (char *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
    size_t head = (size_t)(base - raw), tail = span - head - bytes;
    if (head) munmap(raw, head);
    if (tail) munmap(base + bytes, tail);
#ifdef MADV_HUGEPAGE
    if (hugepages) madvise(base, bytes, MADV_HUGEPAGE);
#else
    (void)hugepages;
#endif
    return base;
}

void gradus__unmap(void *address, size_t bytes) {
    if (!address || bytes == 0) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap(address, (bytes + page - 1) & ~(page - 1));
}

int gradus__page_size(void) { return (int)sysconf(_SC_PAGESIZE); }


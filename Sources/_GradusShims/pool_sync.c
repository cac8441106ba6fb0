/* Wait/wake primitives behind GradusRuntime's ThreadPool.
 *
 * Each worker owns one cache line holding its job sequence number; the caller bumps it to hand the worker
 * a job and the worker spins on its own line (no sharing), then sleeps on a futex. Completion is one shared
 * countdown. Dekker-style seq_cst pairs (sleeping flag vs. sequence / pending) make lost wake-ups impossible:
 * a sleeper publishes `sleeping = 1` and re-checks, a waker publishes the new value and re-checks `sleeping`. */
#define _GNU_SOURCE
#include "_GradusShims.h"
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GRADUS_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define GRADUS_RELAX() __asm__ __volatile__("yield")
#else
#define GRADUS_RELAX() do { } while (0)
#endif

typedef struct {
    _Atomic uint32_t seq;       /* bumped by the caller once per job handed to this worker */
    _Atomic uint32_t sleeping;  /* 1 while the worker is (about to be) in futex_wait on seq */
    char pad[64 - 2 * sizeof(uint32_t)];
} gradus__slot;

struct gradus__sync {
    _Atomic int32_t pending;          /* workers still running the current job */
    _Atomic uint32_t caller_sleeping; /* 1 while the caller is (about to be) in futex_wait on pending */
    char pad0[64 - 2 * sizeof(uint32_t)];
    _Atomic uint32_t park_epoch;      /* bumped by gradus__sync_park: spinning workers go to sleep now */
    char pad1[64 - sizeof(uint32_t)];
    int32_t workers;
    char pad2[64 - sizeof(int32_t)];
    gradus__slot slots[];             /* index 0 unused (the caller's own slice) */
};

static long futex_wait(_Atomic uint32_t *addr, uint32_t expected) {
    return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}
static long futex_wake(_Atomic uint32_t *addr, int n) {
    return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

gradus__sync *gradus__sync_create(int32_t workers) {
    if (workers < 1) workers = 1;
    size_t bytes = sizeof(gradus__sync) + (size_t)workers * sizeof(gradus__slot);
    bytes = (bytes + 63) & ~(size_t)63;
    gradus__sync *s = aligned_alloc(64, bytes);
    if (!s) return NULL;
    memset(s, 0, bytes);
    s->workers = workers;
    return s;
}

void gradus__sync_destroy(gradus__sync *s) { free(s); }

uint32_t gradus__sync_worker_wait(gradus__sync *s, int32_t worker, uint32_t last, int64_t spin_ns) {
    gradus__slot *slot = &s->slots[worker];
    uint32_t v = atomic_load_explicit(&slot->seq, memory_order_acquire);
    if (v != last) return v;
    if (spin_ns > 0) {
        uint32_t epoch = atomic_load_explicit(&s->park_epoch, memory_order_relaxed);
        int64_t deadline = now_ns() + spin_ns;
        for (;;) {
            for (int i = 0; i < 64; i++) {
                GRADUS_RELAX();
                v = atomic_load_explicit(&slot->seq, memory_order_acquire);
                if (v != last) return v;
            }
            if (atomic_load_explicit(&s->park_epoch, memory_order_relaxed) != epoch) break;
            if (now_ns() >= deadline) break;
        }
    }
    for (;;) {
        atomic_store_explicit(&slot->sleeping, 1, memory_order_seq_cst);
        v = atomic_load_explicit(&slot->seq, memory_order_seq_cst);
        if (v != last) break;
        futex_wait(&slot->seq, last);
        v = atomic_load_explicit(&slot->seq, memory_order_acquire);
        if (v != last) break;
    }
    atomic_store_explicit(&slot->sleeping, 0, memory_order_relaxed);
    return v;
}

void gradus__sync_begin(gradus__sync *s, int32_t pending) {
    atomic_store_explicit(&s->pending, pending, memory_order_relaxed);
}

void gradus__sync_signal(gradus__sync *s, int32_t worker) {
    gradus__slot *slot = &s->slots[worker];
    atomic_fetch_add_explicit(&slot->seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&slot->sleeping, memory_order_seq_cst)) futex_wake(&slot->seq, 1);
}

void gradus__sync_worker_done(gradus__sync *s) {
    if (atomic_fetch_sub_explicit(&s->pending, 1, memory_order_seq_cst) == 1) {
        if (atomic_load_explicit(&s->caller_sleeping, memory_order_seq_cst))
            futex_wake((_Atomic uint32_t *)&s->pending, 1);
    }
}

void gradus__sync_join(gradus__sync *s, int64_t spin_ns) {
    if (atomic_load_explicit(&s->pending, memory_order_acquire) == 0) return;
    if (spin_ns > 0) {
        int64_t deadline = now_ns() + spin_ns;
        for (;;) {
            for (int i = 0; i < 64; i++) {
                GRADUS_RELAX();
                if (atomic_load_explicit(&s->pending, memory_order_acquire) == 0) return;
            }
            if (now_ns() >= deadline) break;
        }
    }
    atomic_store_explicit(&s->caller_sleeping, 1, memory_order_seq_cst);
    for (;;) {
        int32_t p = atomic_load_explicit(&s->pending, memory_order_seq_cst);
        if (p == 0) break;
        futex_wait((_Atomic uint32_t *)&s->pending, (uint32_t)p);
    }
    atomic_store_explicit(&s->caller_sleeping, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
}

void gradus__sync_park(gradus__sync *s) {
    atomic_fetch_add_explicit(&s->park_epoch, 1, memory_order_relaxed);
}

int32_t gradus__sync_pending(gradus__sync *s) {
    return atomic_load_explicit(&s->pending, memory_order_acquire);
}

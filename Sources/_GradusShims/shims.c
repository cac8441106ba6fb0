#define _GNU_SOURCE
#include "_GradusShims.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char gradus_error_slot[1024];

void gradus__set_error(const char *message) {
    if (!message) { gradus_error_slot[0] = 0; return; }
    strncpy(gradus_error_slot, message, sizeof gradus_error_slot - 1);
    gradus_error_slot[sizeof gradus_error_slot - 1] = 0;
}
const char *gradus__get_error(void) { return gradus_error_slot; }
void gradus__clear_error(void) { gradus_error_slot[0] = 0; }

int gradus__pin_current_thread(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return EINVAL;
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
int gradus__pin_current_thread_set(const int *cpus, int count) {
    if (!cpus || count <= 0) return EINVAL;
    cpu_set_t set; CPU_ZERO(&set);
    for (int i = 0; i < count; i++) { if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL; CPU_SET(cpus[i], &set); }
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
int gradus__current_affinity(int *cpus, int capacity) {
    cpu_set_t set; CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &set)) { if (cpus && n < capacity) cpus[n] = c; n++; }
    return n;
}
int gradus__current_cpu(void) { return sched_getcpu(); }
int gradus__process_affinity(int *cpus, int capacity) {
    cpu_set_t set; CPU_ZERO(&set);
    if (sched_getaffinity(getpid(), sizeof set, &set) != 0) return -errno;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &set)) { if (cpus && n < capacity) cpus[n] = c; n++; }
    return n;
}

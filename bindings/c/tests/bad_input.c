/* C99 bad-input test: wrong calls, each must return its documented status (with a message) and none may
 * crash the process. Grows with every section of gradus.h; must stay at 50 calls or more. */
#include <limits.h>
#include <stdlib.h>
#include "check.h"

#define INVALID GRADUS_STATUS_INVALID_ARGUMENT

static void bad_context(void) {
    gradus_context_options o;
    int32_t bad_counts[] = { -1, -2, -100, 4097, 100000, INT32_MIN, INT32_MAX };
    int32_t bad_enums[] = { -1, 5, 99, INT32_MIN, INT32_MAX };
    int32_t bad_spin[] = { -1, 1000001, INT32_MIN, INT32_MAX };
    size_t bad_sizes[] = { 0, 1, sizeof(size_t), sizeof o - 1, (size_t)1 << 20, (size_t)-1 };
    int32_t cpus_bad[] = { -1 }, cpus_huge[] = { 8192 }, cpus_absent[] = { 8191 };
    size_t n, i;
    char buf[8];
    int32_t threads;

    EXPECT_STATUS(gradus_context_configure(NULL), INVALID);
    for (i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        gradus_context_options_init(&o);
        o.struct_size = bad_sizes[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    }
    for (i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        gradus_context_options_init(&o);
        o.num_threads = bad_counts[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
        gradus_context_options_init(&o);
        o.blas_threads = bad_counts[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
        EXPECT_STATUS(gradus_context_set_num_threads(bad_counts[i]), INVALID);
    }
    for (i = 0; i < sizeof bad_enums / sizeof bad_enums[0]; i++) {
        gradus_context_options_init(&o);
        o.numa_policy = bad_enums[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
        gradus_context_options_init(&o);
        o.pin_mode = bad_enums[i] == 5 ? 3 : bad_enums[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
        gradus_context_options_init(&o);
        o.wait_policy = bad_enums[i] == 5 ? 4 : bad_enums[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    }
    for (i = 0; i < sizeof bad_spin / sizeof bad_spin[0]; i++) {
        gradus_context_options_init(&o);
        o.spin_us = bad_spin[i];
        EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    }
    /* CPU lists: NULL with a count, a count without a list, out-of-range and absent CPUs, absurd counts */
    gradus_context_options_init(&o);
    o.cpu_count = 3;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    gradus_context_options_init(&o);
    o.cpus = cpus_bad;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID); /* cpu_count 0 with a list */
    o.cpu_count = 1;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    o.cpus = cpus_huge;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    o.cpus = cpus_absent; /* valid id, but not in this machine's inherited mask */
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    o.cpu_count = (size_t)-1;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    o.cpu_count = 100000;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);

    /* a failed configure must not change the configuration in force */
    EXPECT_OK(gradus_context_set_num_threads(1));
    gradus_context_options_init(&o);
    o.num_threads = -5;
    EXPECT_STATUS(gradus_context_configure(&o), INVALID);
    EXPECT_OK(gradus_context_num_threads(&threads));
    EXPECT(threads == 1);

    EXPECT_STATUS(gradus_context_num_threads(NULL), INVALID);
    EXPECT_STATUS(gradus_context_describe(NULL, 0, NULL), INVALID);
    EXPECT_STATUS(gradus_context_describe(NULL, 16, &n), INVALID);
    EXPECT_STATUS(gradus_context_describe(buf, sizeof buf, NULL), INVALID);
    EXPECT_STATUS(gradus_context_describe(buf, (size_t)-1 / 2 + 1, &n), INVALID); /* capacity > SIZE_MAX/2 */
    /* truncation is not an error: NUL-terminated, full length reported */
    EXPECT_OK(gradus_context_describe(buf, sizeof buf, &n));
    EXPECT(n > sizeof buf && buf[sizeof buf - 1] == '\0' && strlen(buf) == sizeof buf - 1);
    gradus_context_options_init(NULL); /* documented no-op */
}

static void bad_errors(void) {
    int32_t bad[] = { -1, 12, 100, INT32_MIN, INT32_MAX };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check_count++;
        if (strcmp(gradus_status_string(bad[i]), "GRADUS_STATUS_UNKNOWN") != 0) {
            check_failures++;
            fprintf(stderr, "gradus_status_string(%d) = %s\n", (int)bad[i], gradus_status_string(bad[i]));
        }
        EXPECT(gradus_dtype_size(bad[i]) == 0);
    }
}

int main(void) {
    bad_context();
    bad_errors();
    EXPECT(check_count >= 50);
    return check_report("bad_input");
}

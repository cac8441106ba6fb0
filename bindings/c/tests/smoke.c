/* C99 smoke test: calls every function of gradus.h at least once with valid input.
 * Tests/abi/abi.py fails when a function of the header is not called here. */
#include <stdlib.h>
#include "check.h"

static void test_version(void) {
    char expect[32];
    EXPECT(gradus_version_major() == GRADUS_VERSION_MAJOR);
    EXPECT(gradus_version_minor() == GRADUS_VERSION_MINOR);
    EXPECT(gradus_version_patch() == GRADUS_VERSION_PATCH);
    EXPECT(gradus_abi_version() == GRADUS_ABI_VERSION);
    EXPECT(strcmp(gradus_version_string(), GRADUS_VERSION_STRING) == 0);
    sprintf(expect, "%d.%d.%d", GRADUS_VERSION_MAJOR, GRADUS_VERSION_MINOR, GRADUS_VERSION_PATCH);
    EXPECT(strcmp(gradus_version_string(), expect) == 0);
}

static void test_errors(void) {
    EXPECT(strcmp(gradus_status_string(GRADUS_STATUS_OK), "GRADUS_STATUS_OK") == 0);
    EXPECT(strcmp(gradus_status_string(GRADUS_STATUS_INTERNAL), "GRADUS_STATUS_INTERNAL") == 0);
    EXPECT(strcmp(gradus_status_string(GRADUS_STATUS_INVALID_HANDLE), "GRADUS_STATUS_INVALID_HANDLE") == 0);
    EXPECT(gradus_context_num_threads(NULL) == GRADUS_STATUS_INVALID_ARGUMENT);
    EXPECT(strlen(gradus_last_error_message()) > 0);
    gradus_clear_last_error();
    EXPECT(strcmp(gradus_last_error_message(), "") == 0);
    EXPECT(gradus_dtype_size(GRADUS_DTYPE_FLOAT32) == 4);
    EXPECT(gradus_dtype_size(GRADUS_DTYPE_FLOAT64) == 8);
}

static void test_context(void) {
    gradus_context_options opts;
    int32_t n = 0, cpus[1] = { -1 };
    size_t len = 0, len2 = 0;
    char *text;
    gradus_context_options_init(&opts);
    EXPECT(opts.struct_size == sizeof opts);
    EXPECT(opts.num_threads == 0 && opts.numa_policy == GRADUS_NUMA_POLICY_AUTO);
    EXPECT(opts.pin_mode == GRADUS_PIN_MODE_AUTO && opts.wait_policy == GRADUS_WAIT_POLICY_AUTO);
    EXPECT(opts.spin_us == 50 && opts.blas_threads == 0 && opts.cpus == NULL && opts.cpu_count == 0);
    opts.num_threads = 2;
    opts.wait_policy = GRADUS_WAIT_POLICY_SLEEP;
    EXPECT_OK(gradus_context_configure(&opts));
    EXPECT_OK(gradus_context_num_threads(&n));
    EXPECT(n == 2);
    EXPECT_OK(gradus_context_set_num_threads(1));
    EXPECT_OK(gradus_context_num_threads(&n));
    EXPECT(n == 1);
    EXPECT_OK(gradus_context_set_num_threads(0));
    EXPECT_OK(gradus_context_num_threads(&n));
    EXPECT(n >= 1);
    EXPECT_OK(gradus_context_describe(NULL, 0, &len));
    EXPECT(len > 10);
    text = (char *)malloc(len + 1);
    EXPECT_OK(gradus_context_describe(text, len + 1, &len2));
    EXPECT(len2 == len && text[len] == '\0' && text[0] == '{' && strstr(text, "\"plan\"") != NULL);
    printf("topology and plan: %s\n", text);
    /* explicit CPU list: the first CPU of the plan in force, which lies in the inherited mask */
    {
        const char *c = strstr(text, "\"cpu\":");
        if (c) cpus[0] = (int32_t)atoi(c + 6);
    }
    free(text);
    EXPECT(cpus[0] >= 0);
    gradus_context_options_init(&opts);
    opts.num_threads = 1;
    opts.cpus = cpus;
    opts.cpu_count = 1;
    opts.numa_policy = GRADUS_NUMA_POLICY_DISABLED;
    opts.pin_mode = GRADUS_PIN_MODE_NEVER;
    EXPECT_OK(gradus_context_configure(&opts));
    gradus_context_options_init(&opts);
    EXPECT_OK(gradus_context_configure(&opts));
}

static void test_testing(void) {
    EXPECT(gradus_testing_unguarded_lookup(2) == 30); /* in range: safe; out of range would kill us */
}

int main(void) {
    test_version();
    test_errors();
    test_context();
    test_testing();
    return check_report("smoke");
}

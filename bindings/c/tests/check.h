/* Tiny assertion helpers shared by the C tests (C99, no framework). */
#ifndef GRADUS_C_TEST_CHECK_H
#define GRADUS_C_TEST_CHECK_H
#include <stdio.h>
#include <string.h>
#include "gradus.h"

static int check_failures = 0;
static int check_count = 0;

/* EXPECT(cond): records a failure with the line when cond is false. */
#define EXPECT(cond) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)

/* EXPECT_STATUS(call, status): the call returns `status`; a failure status must come with a message. */
#define EXPECT_STATUS(call, want) do { gradus_status got_ = (call); check_count++; \
    if (got_ != (want)) { check_failures++; \
        fprintf(stderr, "%s:%d: %s returned %s, want %s (message: %s)\n", __FILE__, __LINE__, #call, \
                gradus_status_string(got_), gradus_status_string(want), gradus_last_error_message()); } \
    else if ((want) != GRADUS_STATUS_OK && gradus_last_error_message()[0] == '\0') { check_failures++; \
        fprintf(stderr, "%s:%d: %s failed without a message\n", __FILE__, __LINE__, #call); } } while (0)

#define EXPECT_OK(call) EXPECT_STATUS(call, GRADUS_STATUS_OK)

static int check_report(const char *name) {
    printf("%s: %d checks, %d failures\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}
#endif

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

#define HANDLE GRADUS_STATUS_INVALID_HANDLE
#define SHAPE GRADUS_STATUS_SHAPE_MISMATCH
#define DTYPE GRADUS_STATUS_DTYPE_MISMATCH

static void bad_tensors(void) {
    float v[6] = { 1, 2, 3, 4, 5, 6 };
    double dv[6] = { 0 };
    int64_t s23[2] = { 2, 3 }, s32[2] = { 3, 2 }, neg[2] = { 2, -3 }, huge[2] = { INT64_MAX, 2 }, s6[1] = { 6 };
    int64_t s9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, s5[1] = { 5 }, two_inferred[2] = { -1, -1 }, shape[2], idx[1];
    int32_t axes_bad[1] = { 2 }, axes_rep[2] = { 0, 0 }, nd = 0;
    gradus_tensor a = NULL, b = NULL, d = NULL, stale = NULL, out = (gradus_tensor)0x1;
    gradus_tensor garbage = (gradus_tensor)(uintptr_t)0xdeadbeef0ULL;
    gradus_model as_model;
    EXPECT_OK(gradus_tensor_create_copy(v, s23, 2, GRADUS_DTYPE_FLOAT32, &a));
    EXPECT_OK(gradus_tensor_create_copy(v, s32, 2, GRADUS_DTYPE_FLOAT32, &b));
    EXPECT_OK(gradus_tensor_create_copy(dv, s23, 2, GRADUS_DTYPE_FLOAT64, &d));
    EXPECT_OK(gradus_tensor_create_copy(v, s6, 1, GRADUS_DTYPE_FLOAT32, &stale));
    EXPECT_OK(gradus_tensor_destroy(stale));

    /* creation */
    EXPECT_STATUS(gradus_tensor_create_copy(NULL, s23, 2, GRADUS_DTYPE_FLOAT32, &out), INVALID);
    EXPECT(out == NULL); /* *out is set to NULL before validation */
    EXPECT_STATUS(gradus_tensor_create_copy(v, NULL, 2, GRADUS_DTYPE_FLOAT32, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, s23, 2, GRADUS_DTYPE_FLOAT32, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, s23, 2, 2, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, s23, 2, -1, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, s23, -1, GRADUS_DTYPE_FLOAT32, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, s9, 9, GRADUS_DTYPE_FLOAT32, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, neg, 2, GRADUS_DTYPE_FLOAT32, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_create_copy(v, huge, 2, GRADUS_DTYPE_FLOAT32, &out), GRADUS_STATUS_OUT_OF_MEMORY);
    EXPECT_STATUS(gradus_tensor_create_full(huge, 2, GRADUS_DTYPE_FLOAT64, 0, &out), GRADUS_STATUS_OUT_OF_MEMORY);
    EXPECT_STATUS(gradus_tensor_wrap(NULL, s23, 2, GRADUS_DTYPE_FLOAT32, NULL, NULL, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_wrap((char *)v + 1, s23, 2, GRADUS_DTYPE_FLOAT32, NULL, NULL, &out), INVALID);

    /* handles: NULL, garbage, stale, double free, wrong kind */
    EXPECT_STATUS(gradus_tensor_ndim(NULL, &nd), HANDLE);
    EXPECT_STATUS(gradus_tensor_ndim(garbage, &nd), HANDLE);
    EXPECT_STATUS(gradus_tensor_ndim(stale, &nd), HANDLE);
    EXPECT_STATUS(gradus_tensor_destroy(stale), HANDLE);
    EXPECT_STATUS(gradus_tensor_destroy(garbage), HANDLE);
    EXPECT_OK(gradus_tensor_destroy(NULL));
    as_model = (gradus_model)(void *)a;
    EXPECT_STATUS(gradus_model_destroy(as_model), HANDLE);
    EXPECT_STATUS(gradus_tensor_binary(GRADUS_BINARY_OP_ADD, a, stale, &out), HANDLE);
    EXPECT_STATUS(gradus_tensor_backward(garbage), HANDLE);

    /* queries */
    EXPECT_STATUS(gradus_tensor_ndim(a, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_shape(a, shape, 1, &nd), INVALID);
    EXPECT_STATUS(gradus_tensor_shape(a, NULL, 2, &nd), INVALID);
    EXPECT_STATUS(gradus_tensor_shape(a, shape, 2, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_dtype(a, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_numel(a, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_copy_to(a, v, 4), SHAPE);
    EXPECT_STATUS(gradus_tensor_copy_to(a, NULL, 24), INVALID);
    EXPECT_STATUS(gradus_tensor_copy_from(a, v, 23), SHAPE);
    EXPECT_STATUS(gradus_tensor_copy_from(a, NULL, 24), INVALID);

    /* operations */
    EXPECT_STATUS(gradus_tensor_unary(-1, a, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_unary(13, a, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_unary(GRADUS_UNARY_OP_EXP, a, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_binary(7, a, a, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_binary(GRADUS_BINARY_OP_ADD, a, b, &out), SHAPE);
    EXPECT_STATUS(gradus_tensor_binary(GRADUS_BINARY_OP_MUL, a, d, &out), DTYPE);
    EXPECT_STATUS(gradus_tensor_matmul(a, a, &out), SHAPE);
    EXPECT_STATUS(gradus_tensor_matmul(a, d, &out), DTYPE);
    {   /* a result larger than memory is refused, not attempted: (2^19, 1) + (1, 2^19) needs 1 TiB */
        gradus_tensor col = NULL, row = NULL;
        int64_t cs[2] = { (int64_t)1 << 19, 1 }, rs[2] = { 1, (int64_t)1 << 19 };
        EXPECT_OK(gradus_tensor_create_full(cs, 2, GRADUS_DTYPE_FLOAT32, 1, &col));
        EXPECT_OK(gradus_tensor_create_full(rs, 2, GRADUS_DTYPE_FLOAT32, 1, &row));
        EXPECT_STATUS(gradus_tensor_binary(GRADUS_BINARY_OP_ADD, col, row, &out), GRADUS_STATUS_OUT_OF_MEMORY);
        EXPECT_STATUS(gradus_tensor_matmul(col, row, &out), GRADUS_STATUS_OUT_OF_MEMORY);
        gradus_tensor_destroy(row); gradus_tensor_destroy(col);
    }
    EXPECT_STATUS(gradus_tensor_sum(a, axes_bad, 1, 0, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_sum(a, axes_rep, 2, 0, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_sum(a, NULL, 1, 0, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_mean(a, axes_bad, -1, 0, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_softmax(a, 5, 0, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_reshape(a, s5, 1, &out), SHAPE);
    EXPECT_STATUS(gradus_tensor_reshape(a, two_inferred, 2, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_reshape(a, neg, 2, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_transpose(a, 0, 2, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_argmax(a, idx, 1), SHAPE);
    EXPECT_STATUS(gradus_tensor_axpy(a, 1.0, b), SHAPE);
    EXPECT_STATUS(gradus_tensor_axpy(a, 1.0, d), DTYPE);

    /* autodiff */
    EXPECT_STATUS(gradus_tensor_backward(a), SHAPE);                 /* 6 elements */
    EXPECT_OK(gradus_tensor_sum(a, NULL, 0, 0, &out));
    EXPECT_STATUS(gradus_tensor_backward(out), GRADUS_STATUS_INVALID_STATE); /* nothing requires grad */
    gradus_tensor_destroy(out);
    EXPECT_STATUS(gradus_tensor_set_grad(a, b), SHAPE);
    EXPECT_STATUS(gradus_tensor_set_grad(a, d), DTYPE);
    EXPECT_STATUS(gradus_tensor_requires_grad(a, NULL), INVALID);
    EXPECT_STATUS(gradus_no_grad_end(), GRADUS_STATUS_INVALID_STATE);
    EXPECT_STATUS(gradus_grad_is_enabled(NULL), INVALID);

    gradus_tensor_destroy(a); gradus_tensor_destroy(b); gradus_tensor_destroy(d);
}

static void bad_tapes_models_data(void) {
    gradus_tape tape = NULL, other = NULL;
    gradus_model model = NULL;
    gradus_dataset ds = NULL;
    gradus_tensor x = NULL, out = NULL, logits = NULL;
    gradus_status st;
    gradus_layer_options l[2];
    int32_t labels[4] = { 0, 1, 5, -1 };
    size_t n = 0;
    double acc;
    char name[4];
    float v[8] = { 0 };
    int64_t s42[2] = { 4, 2 };

    EXPECT_STATUS(gradus_tape_create(NULL), INVALID);
    EXPECT_OK(gradus_tape_create(&tape));
    EXPECT_OK(gradus_tape_create(&other));
    EXPECT_STATUS(gradus_tape_end(tape), GRADUS_STATUS_INVALID_STATE);
    EXPECT_OK(gradus_tape_begin(tape));
    EXPECT_STATUS(gradus_tape_begin(other), GRADUS_STATUS_INVALID_STATE);
    EXPECT_STATUS(gradus_tape_end(other), GRADUS_STATUS_INVALID_STATE);
    EXPECT_OK(gradus_tape_end(tape));
    EXPECT_STATUS(gradus_tape_begin(NULL), HANDLE);
    EXPECT_OK(gradus_tape_destroy(tape));
    EXPECT_STATUS(gradus_tape_destroy(tape), HANDLE);
    EXPECT_STATUS(gradus_tape_reset(tape), HANDLE);
    EXPECT_OK(gradus_tape_destroy(other));

    gradus_layer_options_init(&l[0], GRADUS_LAYER_LINEAR);
    l[0].in_features = 2; l[0].out_features = 3;
    gradus_layer_options_init(&l[1], 99);
    EXPECT_STATUS(gradus_model_create(l, 2, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    EXPECT_STATUS(gradus_model_create(NULL, 1, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    EXPECT_STATUS(gradus_model_create(l, 0, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    EXPECT_STATUS(gradus_model_create(l, 1, 7, 0, &model), INVALID);
    EXPECT_STATUS(gradus_model_create(l, 1, GRADUS_DTYPE_FLOAT32, 0, NULL), INVALID);
    l[0].in_features = 0;
    EXPECT_STATUS(gradus_model_create(l, 1, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    l[0].in_features = 2; l[0].struct_size = 0;
    EXPECT_STATUS(gradus_model_create(l, 1, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    gradus_layer_options_init(&l[1], GRADUS_LAYER_DROPOUT);
    l[1].p = 1.5;
    gradus_layer_options_init(&l[0], GRADUS_LAYER_LINEAR);
    l[0].in_features = 2; l[0].out_features = 3;
    EXPECT_STATUS(gradus_model_create(l, 2, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    EXPECT_OK(gradus_model_create(l, 1, GRADUS_DTYPE_FLOAT32, 0, &model));
    EXPECT_STATUS(gradus_model_parameter_name(model, 2, name, sizeof name, &n), INVALID);
    EXPECT_OK(gradus_model_parameter_name(model, 0, name, sizeof name, &n)); /* truncated, not an error */
    EXPECT(n == 8 && strlen(name) == 3);
    EXPECT_STATUS(gradus_model_parameter_get(model, (size_t)-1, &out), INVALID);
    EXPECT_STATUS(gradus_model_parameter_find(model, "nope", &out), GRADUS_STATUS_NOT_FOUND);
    EXPECT_STATUS(gradus_model_parameter_find(model, NULL, &out), INVALID);
    EXPECT_STATUS(gradus_model_parameter_count(model, NULL), INVALID);
    EXPECT_OK(gradus_tensor_create_copy(v, s42, 2, GRADUS_DTYPE_FLOAT32, &x));
    EXPECT_STATUS(gradus_model_forward(model, NULL, &out), HANDLE);
    EXPECT_STATUS(gradus_model_forward(NULL, x, &out), HANDLE);
    EXPECT_OK(gradus_model_forward(model, x, &logits));
    EXPECT_STATUS(gradus_loss_cross_entropy(logits, labels, 4, GRADUS_REDUCTION_MEAN, &out), INVALID); /* label 5 of 3 */
    EXPECT_STATUS(gradus_model_forward(model, logits, &out), SHAPE); /* 3 features into a 2-feature layer */
    gradus_tensor_destroy(logits);
    EXPECT_STATUS(gradus_loss_cross_entropy(x, labels, 3, GRADUS_REDUCTION_MEAN, &out), SHAPE);
    EXPECT_STATUS(gradus_loss_cross_entropy(x, NULL, 4, GRADUS_REDUCTION_MEAN, &out), INVALID);
    EXPECT_STATUS(gradus_loss_cross_entropy(x, labels, 4, 3, &out), INVALID);
    EXPECT_STATUS(gradus_loss_mse(x, x, -1, &out), INVALID);
    EXPECT_STATUS(gradus_accuracy(x, labels, 2, &acc), SHAPE);
    EXPECT_STATUS(gradus_accuracy(x, labels, 4, NULL), INVALID);
    EXPECT_STATUS(gradus_model_save(model, NULL), INVALID);
    st = gradus_model_save(model, "/nonexistent-dir/x.safetensors");
    EXPECT(st == GRADUS_STATUS_IO_ERROR || st == GRADUS_STATUS_NOT_FOUND);
    st = gradus_model_load(model, "/nonexistent-dir/x.safetensors");
    EXPECT(st == GRADUS_STATUS_IO_ERROR || st == GRADUS_STATUS_NOT_FOUND);
    EXPECT_STATUS(gradus_model_load(model, ""), INVALID);
    gradus_tensor_destroy(x);
    EXPECT_OK(gradus_model_destroy(model));
    EXPECT_STATUS(gradus_model_destroy(model), HANDLE);
    EXPECT_STATUS(gradus_model_zero_grad(model), HANDLE);

    EXPECT_STATUS(gradus_dataset_create_synthetic(9, 10, 0, &ds), INVALID);
    EXPECT_STATUS(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_XOR, 0, 0, &ds), INVALID);
    EXPECT_STATUS(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_XOR, -5, 0, &ds), INVALID);
    EXPECT_STATUS(gradus_dataset_load_fashion_mnist(NULL, 2, 0, &ds), INVALID);
    EXPECT_STATUS(gradus_dataset_load_fashion_mnist(NULL, GRADUS_SPLIT_TEST, -1, &ds), INVALID);
    EXPECT_OK(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_XOR, 10, 0, &ds));
    EXPECT_STATUS(gradus_dataset_batch(ds, 10, 1, &x, labels), INVALID);
    EXPECT_STATUS(gradus_dataset_batch(ds, -1, 1, &x, labels), INVALID);
    EXPECT_STATUS(gradus_dataset_batch(ds, 0, 0, &x, labels), INVALID);
    EXPECT_STATUS(gradus_dataset_batch(ds, 0, 1, &x, NULL), INVALID);
    EXPECT_STATUS(gradus_dataset_count(ds, NULL), INVALID);
    EXPECT_OK(gradus_dataset_destroy(ds));
    EXPECT_STATUS(gradus_dataset_shuffle(ds, 1), HANDLE);
    EXPECT_STATUS(gradus_dataset_destroy(ds), HANDLE);
}

int main(void) {
    bad_context();
    bad_errors();
    bad_tensors();
    bad_tapes_models_data();
    EXPECT(check_count >= 50);
    return check_report("bad_input");
}

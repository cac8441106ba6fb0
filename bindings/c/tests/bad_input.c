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
    (gradus_context_options_init)(NULL); /* the 0.1.0 symbol: a documented no-op */
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
    {   /* batch norm layers: bad eps, momentum, channels, ghost size; one sample in training is an error */
        gradus_layer_options b;
        gradus_model bm = NULL;
        gradus_tensor t = NULL, o = NULL;
        double bad = 0.0;
        float rows[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
        int64_t one[2] = { 1, 3 }, four[2] = { 3, 4 };
        bad = bad / bad;
        gradus_layer_options_init(&b, GRADUS_LAYER_BATCH_NORM);
        b.in_features = 3;
        b.eps = -1;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.eps = bad;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.eps = 1e-5; b.momentum = 1.5;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.momentum = bad;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.momentum = 0.1; b.in_features = 0;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.in_features = 3; b.kind = GRADUS_LAYER_GHOST_BATCH_NORM; b.ghost_batch_size = 0;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.ghost_batch_size = (int64_t)1 << 40;
        EXPECT_STATUS(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm), INVALID);
        b.ghost_batch_size = 2;
        EXPECT_OK(gradus_model_create(&b, 1, GRADUS_DTYPE_FLOAT32, 0, &bm));
        EXPECT_OK(gradus_tensor_create_copy(rows, one, 2, GRADUS_DTYPE_FLOAT32, &t));
        EXPECT_STATUS(gradus_model_forward(bm, t, &o), INVALID);          /* one value per channel in training */
        EXPECT(o == NULL);
        gradus_tensor_destroy(t);
        EXPECT_OK(gradus_tensor_create_copy(rows, four, 2, GRADUS_DTYPE_FLOAT32, &t));
        EXPECT_STATUS(gradus_model_forward(bm, t, &o), GRADUS_STATUS_SHAPE_MISMATCH);  /* 4 channels into 3 */
        gradus_tensor_destroy(t);
        gradus_model_destroy(bm);
    }
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

static void bad_optimizers(void) {
    gradus_tensor w = NULL, w64 = NULL, g = NULL, state = NULL, params[2];
    gradus_optimizer opt = NULL, other = NULL;
    gradus_optimizer_options o;
    gradus_hparam key = GRADUS_HPARAM_BETA1;
    double value = 0.5, nan = 0.0, lr = 0;
    int32_t bad_kinds[] = { -1, 17, 1000, INT32_MIN, INT32_MAX };
    double bad_values[] = { -1.0, 1.0, 1.5, 1e300 };
    int64_t s2[1] = { 2 }, s3[1] = { 3 }, steps = 0;
    gradus_status st;
    size_t n = 0, i, len = 0;
    const char *names[2] = { "step", "state.0.step" };
    const char *path = "gradus_bad_optimizer.safetensors";
    char buf[16];
    nan = nan / nan;

    EXPECT_OK(gradus_tensor_create_full(s2, 1, GRADUS_DTYPE_FLOAT32, 1.0, &w));
    EXPECT_OK(gradus_tensor_create_full(s2, 1, GRADUS_DTYPE_FLOAT64, 1.0, &w64));
    params[0] = w; params[1] = w64;
    gradus_optimizer_options_init(&o);
    /* NULL and wrong arguments of create */
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, NULL), INVALID);
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, NULL, 1, &o, &opt), INVALID);
    EXPECT(opt == NULL);
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 0, &o, &opt), INVALID);
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, (size_t)-1, &o, &opt), INVALID);
    for (i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++) {
        EXPECT_STATUS(gradus_optimizer_create(bad_kinds[i], params, 1, &o, &opt), INVALID);
    }
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 2, &o, &opt), DTYPE); /* mixed dtypes */
    params[1] = w;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 2, &o, &opt), INVALID); /* twice */
    params[1] = (gradus_tensor)(uintptr_t)0x1230;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 2, &o, &opt), HANDLE); /* foreign */
    EXPECT_STATUS(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAM, NULL, &o, &opt), HANDLE);
    /* options: struct_size, learning rate, schedules */
    o.struct_size = 8;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    gradus_optimizer_options_init(&o); o.lr = -0.1;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    o.lr = nan;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    gradus_optimizer_options_init(&o); o.schedule = 7;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    {   /* PIECEWISE multipliers; schedule refinement */
        double m[3] = { 1, 0.5, 0.25 }, g[4] = { 3, 2, 1, 0.5 }, out[4], inf = 1.0 / 0.0;
        o.schedule = GRADUS_SCHEDULE_PIECEWISE;                          /* no multipliers */
        EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
        o.multiplier_count = 3;                                          /* NULL multipliers */
        EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
        o.multipliers = m; o.multiplier_count = (size_t)1 << 40;         /* too many */
        EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
        o.multiplier_count = 3; m[1] = nan;
        EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
        m[1] = -0.5;
        EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
        m[1] = 0.5;
        EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt));
        EXPECT_OK(gradus_optimizer_destroy(opt)); opt = NULL;
        EXPECT_STATUS(gradus_schedule_refine(NULL, 4, 2, 0.1, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, 0.1, NULL), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 1, 2, 0.1, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, (size_t)-1, 2, 0.1, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, inf, 0.1, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, -0.1, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, nan, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, 1e300, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, 2e7, out), INVALID);      /* a window of 8e7: n + 2w > 2^26 */
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 0, 0.1, out), INVALID);
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 1e306, 0.1, out), INVALID);  /* |power * ln 3| > 1e300 */
        g[2] = 0;
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, 0.1, out), INVALID);
        g[2] = nan;
        EXPECT_STATUS(gradus_schedule_refine(g, 4, 2, 0.1, out), INVALID);
        g[2] = 1;
        EXPECT_OK(gradus_schedule_refine(g, 4, 2, 0.1, g));              /* out may be g */
        EXPECT(g[0] > 0 && g[3] == 0);
    }
    gradus_optimizer_options_init(&o);
    o.schedule = GRADUS_SCHEDULE_WARMUP_COSINE; o.warmup_steps = 11; o.total_steps = 10;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    o.warmup_steps = -1;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    o.schedule = GRADUS_SCHEDULE_COSINE; o.total_steps = 0;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    o.schedule = GRADUS_SCHEDULE_STEP; o.step_size = 0;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    o.step_size = 10; o.gamma = nan;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    /* hyperparameters at creation: NULL arrays, unknown keys, keys of another kind, bounds */
    gradus_optimizer_options_init(&o);
    o.hparam_count = 1;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    o.hparam_keys = &key; o.hparam_values = &value; o.hparam_count = 65;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    o.hparam_count = 1;
    key = 22;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    key = -1;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    key = GRADUS_HPARAM_MOMENTUM; /* Adam has betas, not momentum */
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    key = GRADUS_HPARAM_BETA1;
    for (i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        value = bad_values[i];
        EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    }
    value = nan;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &opt), INVALID);
    key = GRADUS_HPARAM_WARMUP_STEPS; value = 1e300; /* would overflow Int */
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SPAM, params, 1, &o, &opt), INVALID);
    value = 2.5;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SPAM, params, 1, &o, &opt), INVALID);
    key = GRADUS_HPARAM_TOTAL_STEPS; value = -3;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_STABLE_SPAM, params, 1, &o, &opt), INVALID);
    key = GRADUS_HPARAM_NESTEROV; value = 2;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, &o, &opt), INVALID);
    key = GRADUS_HPARAM_EPS; value = -1e-8;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAMW, params, 1, &o, &opt), INVALID);
    EXPECT(opt == NULL);

    /* a live optimizer: set_hparam bounds, keys it lacks, keys fixed at creation */
    gradus_optimizer_options_init(&o);
    EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAMW, params, 1, &o, &opt));
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_LR, -1), INVALID);
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_LR, nan), INVALID);
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_BETA2, 1.0), INVALID);
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_EPS, -1), INVALID);
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, 22, 0.1), INVALID);
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, INT32_MIN, 0.1), INVALID);
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_MOMENTUM, 0.5), INVALID); /* AdamW has none */
    EXPECT_STATUS(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_DELTA, 0.5), GRADUS_STATUS_UNSUPPORTED);
    EXPECT_STATUS(gradus_optimizer_get_hparam(opt, GRADUS_HPARAM_BETA1, NULL), INVALID);
    EXPECT_STATUS(gradus_optimizer_get_hparam(opt, 22, &lr), INVALID);
    EXPECT_STATUS(gradus_optimizer_get_hparam(opt, -1, &lr), INVALID);
    EXPECT_STATUS(gradus_optimizer_get_hparam(opt, GRADUS_HPARAM_MOMENTUM, &lr), INVALID);   /* AdamW has none */
    EXPECT_STATUS(gradus_optimizer_get_hparam(opt, GRADUS_HPARAM_DELTA, &lr), GRADUS_STATUS_UNSUPPORTED);
    EXPECT_STATUS(gradus_optimizer_get_hparam(NULL, GRADUS_HPARAM_LR, &lr), HANDLE);
    EXPECT(lr == 0);                                                                     /* reset on failure */
    key = GRADUS_HPARAM_MIN_8BIT_SIZE; value = -1;
    o.hparam_keys = &key; o.hparam_values = &value; o.hparam_count = 1;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM8BIT, params, 1, &o, &other), INVALID);
    value = 0.5;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAMW8BIT, params, 1, &o, &other), INVALID);
    value = 1e300;
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_STABLE_SPAM_8BIT, params, 1, &o, &other), INVALID);
    EXPECT_STATUS(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, params, 1, &o, &other), INVALID); /* not Adam's */
    value = 0;
    EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM8BIT, params, 1, &o, &other));   /* 0: all 8-bit */
    EXPECT_OK(gradus_optimizer_destroy(other));
    gradus_optimizer_options_init(&o);
    EXPECT_STATUS(gradus_optimizer_get_lr(opt, NULL), INVALID);
    EXPECT_OK(gradus_optimizer_get_lr(opt, &lr));
    EXPECT(lr == 1e-3); /* failed calls changed nothing */
    EXPECT_STATUS(gradus_optimizer_step_count(opt, NULL), INVALID);
    EXPECT_STATUS(gradus_optimizer_state_count(opt, NULL), INVALID);
    EXPECT_OK(gradus_optimizer_state_count(opt, &n));
    EXPECT_STATUS(gradus_optimizer_state_name(opt, n, buf, sizeof buf, &len), INVALID);
    EXPECT_STATUS(gradus_optimizer_state_name(opt, 0, NULL, sizeof buf, &len), INVALID);
    EXPECT_STATUS(gradus_optimizer_state_name(opt, 0, buf, sizeof buf, NULL), INVALID);
    EXPECT_STATUS(gradus_optimizer_state_get(opt, n, &state), INVALID);
    EXPECT_STATUS(gradus_optimizer_state_get(opt, 0, NULL), INVALID);
    /* gradients of the wrong shape or dtype */
    EXPECT_OK(gradus_tensor_create_full(s3, 1, GRADUS_DTYPE_FLOAT32, 1.0, &g));
    EXPECT_STATUS(gradus_tensor_set_grad(w, g), SHAPE);
    gradus_tensor_destroy(g);
    /* state loading: missing, unexpected, mis-sized and absurd entries change nothing */
    EXPECT_STATUS(gradus_optimizer_load_state(opt, NULL, NULL, 1), INVALID);
    EXPECT_STATUS(gradus_optimizer_load_state(opt, NULL, NULL, 0), GRADUS_STATUS_NOT_FOUND);
    EXPECT_OK(gradus_tensor_create_full(NULL, 0, GRADUS_DTYPE_FLOAT64, 1e300, &state));
    params[0] = state; params[1] = state;
    EXPECT_STATUS(gradus_optimizer_load_state(opt, names, params, 2), GRADUS_STATUS_NOT_FOUND); /* no moments */
    names[1] = NULL;
    EXPECT_STATUS(gradus_optimizer_load_state(opt, names, params, 2), INVALID);
    gradus_tensor_destroy(state);
    EXPECT_OK(gradus_optimizer_save(opt, path));
    EXPECT_OK(gradus_optimizer_load(opt, path));
    EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_ADAM, &w, 1, NULL, &other));
    EXPECT_STATUS(gradus_optimizer_load(other, path), INVALID); /* an AdamW state into Adam */
    EXPECT_OK(gradus_optimizer_destroy(other));
    params[0] = w64;
    EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 1, NULL, &other));
    EXPECT_STATUS(gradus_optimizer_set_hparam(other, GRADUS_HPARAM_MOMENTUM, 0.9), INVALID); /* created without */
    EXPECT_STATUS(gradus_optimizer_load(other, path), INVALID);
    EXPECT_OK(gradus_optimizer_destroy(other));
    remove(path);
    st = gradus_optimizer_load(opt, path);
    EXPECT(st == GRADUS_STATUS_IO_ERROR || st == GRADUS_STATUS_NOT_FOUND);
    EXPECT_STATUS(gradus_optimizer_load(opt, NULL), INVALID);
    EXPECT_STATUS(gradus_optimizer_save(opt, ""), INVALID);
    EXPECT(gradus_optimizer_save(opt, "/nonexistent-dir/o.safetensors") != GRADUS_STATUS_OK);
    EXPECT_OK(gradus_optimizer_step_count(opt, &steps));
    EXPECT(steps == 0);
    /* NULL, destroyed and foreign handles */
    EXPECT_OK(gradus_optimizer_destroy(opt));
    EXPECT_STATUS(gradus_optimizer_destroy(opt), HANDLE);
    EXPECT_STATUS(gradus_optimizer_step(opt), HANDLE);
    EXPECT_STATUS(gradus_optimizer_step(NULL), HANDLE);
    EXPECT_STATUS(gradus_optimizer_zero_grad(NULL), HANDLE);
    EXPECT_STATUS(gradus_optimizer_set_hparam(NULL, GRADUS_HPARAM_LR, 0.1), HANDLE);
    EXPECT_STATUS(gradus_optimizer_step((gradus_optimizer)w), HANDLE); /* a tensor handle */
    EXPECT_STATUS(gradus_optimizer_save(NULL, path), HANDLE);
    gradus_tensor_destroy(w); gradus_tensor_destroy(w64);
}

static void bad_quant(void) {
    gradus_layer_options layers[1];
    gradus_model model = NULL;
    gradus_tensor x = NULL, out = NULL;
    gradus_quant_options o, ok;
    int64_t s6[1] = { 6 };
    size_t n = 0;
    double nan = 0.0;
    nan = nan / nan;

    EXPECT_OK(gradus_tensor_create_full(s6, 1, GRADUS_DTYPE_FLOAT32, 0.5, &x));
    gradus_quant_options_init(&ok);
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, NULL, &out), INVALID);
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &ok, NULL), INVALID);
    EXPECT_STATUS(gradus_tensor_fake_quantize(NULL, &ok, &out), HANDLE);
#define BAD_QUANT(field, value) do { gradus_quant_options_init(&o); o.field = value; \
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID); EXPECT(out == NULL); } while (0)
    BAD_QUANT(struct_size, 0);
    BAD_QUANT(struct_size, (size_t)-1);
    BAD_QUANT(bits, 0);
    BAD_QUANT(bits, 9);
    BAD_QUANT(bits, -1);
    BAD_QUANT(format, 5);
    BAD_QUANT(format, -1);
    BAD_QUANT(granularity, 3);
    BAD_QUANT(estimator, 3);
    BAD_QUANT(format, GRADUS_QUANT_FORMAT_NF4);           /* NF4 with bits 8 */
    gradus_quant_options_init(&o); o.granularity = GRADUS_QUANT_PER_GROUP; o.group_size = 4;  /* 4 does not divide 6 */
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    o.group_size = -2;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    o.group_size = 0;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.granularity = GRADUS_QUANT_PER_CHANNEL; o.channel_axis = 1;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);                   /* rank 1 */
    o.channel_axis = INT32_MIN;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.bits = 4; o.format = GRADUS_QUANT_FORMAT_MXFP4;  /* MXFP4 per tensor */
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.bits = 4; o.format = GRADUS_QUANT_FORMAT_FP4_E2M1; o.symmetric = 0;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.bits = 1; o.symmetric = 0;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.bits = 4; o.format = GRADUS_QUANT_FORMAT_NF4; o.stochastic_rounding = 1;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.estimator = GRADUS_QUANT_ESTIMATOR_CLIPPED_STE; o.clip = 0;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    o.clip = nan;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    gradus_quant_options_init(&o); o.estimator = GRADUS_QUANT_ESTIMATOR_RESTE; o.reste_o = 0.5;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    o.reste_o = 1.0 / 0.0;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    o.reste_o = 2; o.reste_t = -1;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
    o.reste_t = nan;
    EXPECT_STATUS(gradus_tensor_fake_quantize(x, &o, &out), INVALID);
#undef BAD_QUANT

    gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);
    layers[0].in_features = 6; layers[0].out_features = 3;
    EXPECT_OK(gradus_model_create(layers, 1, GRADUS_DTYPE_FLOAT32, 1, &model));
    EXPECT_STATUS(gradus_model_quantize(model, NULL, NULL), INVALID);
    EXPECT_STATUS(gradus_model_quantize(NULL, &ok, NULL), HANDLE);
    gradus_quant_options_init(&o); o.granularity = GRADUS_QUANT_PER_GROUP; o.group_size = 7; /* 7 does not divide 18 */
    EXPECT_STATUS(gradus_model_quantize(model, &o, NULL), INVALID);
    EXPECT_OK(gradus_model_quantized_layer_count(model, &n));
    EXPECT(n == 0);                                          /* unchanged after the failure */
    o.struct_size = 3;
    EXPECT_STATUS(gradus_model_quantize(model, &ok, &o), INVALID);
    /* an activation group that does not divide the batch: the forward reports it */
    gradus_quant_options_init(&o); o.granularity = GRADUS_QUANT_PER_GROUP; o.group_size = 5;
    EXPECT_OK(gradus_model_quantize(model, NULL, &o));
    EXPECT_OK(gradus_tensor_reshape(x, (const int64_t[]){ 1, 6 }, 2, &out));
    gradus_tensor_destroy(x);
    x = out; out = NULL;
    EXPECT_STATUS(gradus_model_forward(model, x, &out), INVALID);
    EXPECT_STATUS(gradus_model_quantized_layer_count(model, NULL), INVALID);
    EXPECT_OK(gradus_model_destroy(model));
    EXPECT_STATUS(gradus_model_dequantize(model), HANDLE);
    EXPECT_STATUS(gradus_model_quantized_layer_count(model, &n), HANDLE);
    gradus_tensor_destroy(x);
}

static void bad_diffusion(void) {
    gradus_noise_schedule_options so;
    gradus_denoiser_options dn;
    gradus_diffusion_train_options to;
    gradus_sample_options sa;
    gradus_image_grid_options go;
    gradus_quant_options q;
    gradus_noise_schedule sched = NULL, flow = NULL;
    gradus_model model = NULL, mlp = NULL;
    gradus_optimizer opt = NULL, foreign = NULL;
    gradus_layer_options layers[1];
    gradus_tensor x = NULL, x3 = NULL, x64 = NULL, out = NULL, w = NULL;
    int32_t labels[4] = { 0, 1, 0, 1 }, bad_labels[4] = { 0, 1, 2, 1 }, neg_labels[4] = { 0, -1, 0, 1 };
    int32_t dims_bad[1] = { 0 }, dims_rep[2] = { 1, -1 }, bad_enums[] = { -1, 4, 99, INT32_MIN, INT32_MAX };
    double ts[4] = { 1, 2, 3, 4 }, losses[2], nan = 0.0, inf = 1.0 / 0.0;
    const int64_t s42[2] = { 4, 2 }, s43[2] = { 4, 3 }, s4[1] = { 4 }, s4img[4] = { 4, 1, 4, 4 };
    size_t i;
    nan = nan / nan;

    gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_LINEAR);
    EXPECT_STATUS(gradus_noise_schedule_create(NULL, &sched), INVALID);
    EXPECT_STATUS(gradus_noise_schedule_create(&so, NULL), INVALID);
#define BAD_SCHEDULE(field, value) do { gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_LINEAR); \
    so.field = value; EXPECT_STATUS(gradus_noise_schedule_create(&so, &sched), INVALID); EXPECT(sched == NULL); } while (0)
    BAD_SCHEDULE(struct_size, 0);
    BAD_SCHEDULE(struct_size, (size_t)-1);
    BAD_SCHEDULE(train_steps, 1);
    BAD_SCHEDULE(train_steps, 100001);
    BAD_SCHEDULE(train_steps, INT32_MIN);
    BAD_SCHEDULE(beta_start, -0.1);
    BAD_SCHEDULE(beta_end, 1.5);
    BAD_SCHEDULE(beta_end, nan);
    BAD_SCHEDULE(steps_offset, -1);
    BAD_SCHEDULE(steps_offset, 1000);
    BAD_SCHEDULE(flow_shift, 0);
    BAD_SCHEDULE(flow_shift, inf);
    BAD_SCHEDULE(zero_terminal_snr, 1);                     /* with epsilon prediction */
    for (i = 0; i < sizeof bad_enums / sizeof bad_enums[0]; i++) {
        BAD_SCHEDULE(kind, bad_enums[i] == 4 ? 3 : bad_enums[i]);
        BAD_SCHEDULE(spacing, bad_enums[i] == 4 ? 3 : bad_enums[i]);
        BAD_SCHEDULE(prediction, bad_enums[i]);
    }
#undef BAD_SCHEDULE
    gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_COSINE);
    so.max_beta = 0;
    EXPECT_STATUS(gradus_noise_schedule_create(&so, &sched), INVALID);
    gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_LINEAR);
    so.train_steps = 100; so.steps_offset = 99;          /* valid, but leading + offset passes the end */
    EXPECT_OK(gradus_noise_schedule_create(&so, &sched));
    so.prediction = GRADUS_PREDICTION_FLOW;
    EXPECT_OK(gradus_noise_schedule_create(&so, &flow));
    EXPECT_STATUS(gradus_noise_schedule_timesteps(sched, 0, ts, 4), INVALID);
    EXPECT_STATUS(gradus_noise_schedule_timesteps(sched, 101, ts, 4), INVALID);
    EXPECT_STATUS(gradus_noise_schedule_timesteps(sched, 8, ts, 4), SHAPE);
    EXPECT_STATUS(gradus_noise_schedule_timesteps(sched, 4, NULL, 4), INVALID);
    EXPECT_STATUS(gradus_noise_schedule_timesteps(NULL, 4, ts, 4), HANDLE);
    EXPECT_STATUS(gradus_noise_schedule_alphas_cumprod(sched, NULL), INVALID);
    EXPECT_STATUS(gradus_noise_schedule_alphas_cumprod((gradus_noise_schedule)(uintptr_t)0x4560, &out), HANDLE);

    /* denoisers */
    gradus_denoiser_options_init(&dn, GRADUS_DENOISER_MLP);
    EXPECT_STATUS(gradus_model_create_denoiser(NULL, GRADUS_DTYPE_FLOAT32, 0, &model), INVALID);
    EXPECT_STATUS(gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT32, 0, NULL), INVALID);
    EXPECT_STATUS(gradus_model_create_denoiser(&dn, 2, 0, &model), INVALID);
#define BAD_DENOISER(kind_, field, value, want) do { gradus_denoiser_options_init(&dn, kind_); dn.field = value; \
    EXPECT_STATUS(gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT32, 0, &model), want); EXPECT(model == NULL); } while (0)
    BAD_DENOISER(GRADUS_DENOISER_MLP, struct_size, 4, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, kind, 2, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, kind, -1, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, num_classes, 0, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, num_classes, INT32_MIN, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, data_dim, 0, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, hidden, INT64_MAX, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, depth, 0, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_CONV, height, 27, INVALID);   /* odd */
    BAD_DENOISER(GRADUS_DENOISER_CONV, width, -28, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_CONV, channels, 0, INVALID);
    BAD_DENOISER(GRADUS_DENOISER_MLP, hidden, 65536, GRADUS_STATUS_OUT_OF_MEMORY);  /* 2^32 * 3 parameters */
#undef BAD_DENOISER
    gradus_denoiser_options_init(&dn, GRADUS_DENOISER_MLP);
    dn.num_classes = 2; dn.hidden = 8; dn.depth = 1;
    EXPECT_OK(gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT32, 0, &model));
    EXPECT_OK(gradus_tensor_create_full(s42, 2, GRADUS_DTYPE_FLOAT32, 0.5, &x));
    EXPECT_OK(gradus_tensor_create_full(s43, 2, GRADUS_DTYPE_FLOAT32, 0.5, &x3));
    EXPECT_OK(gradus_tensor_create_full(s42, 2, GRADUS_DTYPE_FLOAT64, 0.5, &x64));
    EXPECT_STATUS(gradus_model_denoise(model, x3, ts, labels, 4, &out), SHAPE);     /* 3 features, not 2 */
    EXPECT_STATUS(gradus_model_denoise(model, x, ts, labels, 3, &out), SHAPE);      /* count != B */
    EXPECT_STATUS(gradus_model_denoise(model, x64, ts, labels, 4, &out), DTYPE);
    EXPECT_STATUS(gradus_model_denoise(model, x, NULL, labels, 4, &out), INVALID);
    EXPECT_STATUS(gradus_model_denoise(model, x, ts, neg_labels, 4, &out), INVALID);
    ts[2] = nan;
    EXPECT_STATUS(gradus_model_denoise(model, x, ts, labels, 4, &out), INVALID);
    ts[2] = 3;
    EXPECT_STATUS(gradus_model_denoise(NULL, x, ts, labels, 4, &out), HANDLE);
    EXPECT(out == NULL);
    gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);
    layers[0].in_features = 2; layers[0].out_features = 2;
    EXPECT_OK(gradus_model_create(layers, 1, GRADUS_DTYPE_FLOAT32, 0, &mlp));
    EXPECT_STATUS(gradus_model_denoise(mlp, x, ts, labels, 4, &out), INVALID);      /* not a denoiser */
    gradus_quant_options_init(&q);
    EXPECT_STATUS(gradus_model_quantize(model, &q, NULL), GRADUS_STATUS_UNSUPPORTED);
    EXPECT_STATUS(gradus_model_forward(model, x, &out), GRADUS_STATUS_UNSUPPORTED);

    /* training */
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAM, model, NULL, &opt));
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAM, mlp, NULL, &foreign));
    gradus_diffusion_train_options_init(&to);
    to.steps = 2;
    EXPECT_OK(gradus_diffusion_train(model, sched, opt, x, labels, 4, &to, losses));
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, bad_labels, 4, &to, NULL), INVALID); /* 2 = null */
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, NULL, 4, &to, NULL), INVALID);
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, labels, 3, &to, NULL), SHAPE);
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x3, labels, 4, &to, NULL), SHAPE);
    EXPECT_STATUS(gradus_diffusion_train(model, sched, foreign, x, labels, 4, &to, NULL), INVALID);
    EXPECT_STATUS(gradus_diffusion_train(mlp, sched, foreign, x, labels, 4, &to, NULL), INVALID);
    EXPECT_STATUS(gradus_diffusion_train(model, NULL, opt, x, labels, 4, &to, NULL), HANDLE);
    EXPECT_STATUS(gradus_diffusion_train(model, sched, NULL, x, labels, 4, &to, NULL), HANDLE);
    EXPECT_STATUS(gradus_diffusion_train(model, sched, (gradus_optimizer)model, x, labels, 4, &to, NULL), HANDLE);
    to.label_dropout = 1.5;
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, labels, 4, &to, NULL), INVALID);
    to.label_dropout = nan;
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, labels, 4, &to, NULL), INVALID);
    gradus_diffusion_train_options_init(&to); to.steps = -1;
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, labels, 4, &to, NULL), INVALID);
    gradus_diffusion_train_options_init(&to); to.batch_size = -5;
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, labels, 4, &to, NULL), INVALID);
    to.struct_size = 1;
    EXPECT_STATUS(gradus_diffusion_train(model, sched, opt, x, labels, 4, &to, NULL), INVALID);

    /* sampling */
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_CFG);
    sa.steps = 2; sa.scale = 3;
    EXPECT_STATUS(gradus_diffusion_sample(model, sched, &sa, labels, 4, &out), INVALID); /* offset 99 passes T */
    EXPECT(out == NULL);
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, labels, 4, &out), INVALID);  /* DDIM on FLOW */
#define BAD_SAMPLE(g, field, value) do { gradus_sample_options_init(&sa, g); sa.sampler = GRADUS_SAMPLER_FLOW_EULER; \
    sa.steps = 2; sa.field = value; EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, labels, 4, &out), INVALID); \
    EXPECT(out == NULL); } while (0)
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, struct_size, 0);
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, scale, nan);
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, scale, inf);
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, steps, 0);
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, steps, 101);
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, sampler, GRADUS_SAMPLER_DDIM);          /* DDIM on a FLOW schedule */
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, space, GRADUS_GUIDANCE_SPACE_X0);       /* x0 space with flow */
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG_RESCALE, guidance_rescale, 1.5);
    BAD_SAMPLE(GRADUS_GUIDANCE_APG, apg_norm_threshold, -1);
    BAD_SAMPLE(GRADUS_GUIDANCE_APG, apg_momentum, nan);
    BAD_SAMPLE(GRADUS_GUIDANCE_APG, apg_eta, -inf);
    BAD_SAMPLE(GRADUS_GUIDANCE_APG, apg_norm_dim_count, 1);                 /* NULL dims */
    BAD_SAMPLE(GRADUS_GUIDANCE_CFG, eta, -1);
    for (i = 0; i < sizeof bad_enums / sizeof bad_enums[0]; i++) {
        BAD_SAMPLE(GRADUS_GUIDANCE_CFG, guidance, bad_enums[i]);
        BAD_SAMPLE(GRADUS_GUIDANCE_CFG, formulation, bad_enums[i] == 4 ? 2 : bad_enums[i]);
        BAD_SAMPLE(GRADUS_GUIDANCE_CFG, space, bad_enums[i] == 4 ? 2 : bad_enums[i]);
        BAD_SAMPLE(GRADUS_GUIDANCE_CFG, sampler, bad_enums[i] == 4 ? 3 : bad_enums[i]);
    }
#undef BAD_SAMPLE
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_APG);
    sa.sampler = GRADUS_SAMPLER_FLOW_EULER; sa.steps = 2;
    sa.apg_norm_dims = dims_bad; sa.apg_norm_dim_count = 1;                 /* the batch axis */
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, labels, 4, &out), INVALID);
    sa.apg_norm_dims = dims_rep; sa.apg_norm_dim_count = 2;                 /* axis 1 twice */
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, labels, 4, &out), INVALID);
    sa.apg_norm_dim_count = 0;
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, bad_labels, 0, &out), INVALID);   /* count 0 */
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, neg_labels, 4, &out), INVALID);
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, NULL, 4, &out), INVALID);
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, labels, 4, NULL), INVALID);
    EXPECT_STATUS(gradus_diffusion_sample(model, flow, &sa, labels, (size_t)-1, &out), INVALID);
    EXPECT_STATUS(gradus_diffusion_sample(mlp, flow, &sa, labels, 4, &out), INVALID);
    EXPECT_STATUS(gradus_diffusion_sample(model, NULL, &sa, labels, 4, &out), HANDLE);
    EXPECT_OK(gradus_diffusion_sample(model, flow, &sa, bad_labels, 4, &out));            /* 2: unconditional */
    gradus_tensor_destroy(out); out = NULL;

    /* image grids */
    gradus_image_grid_options_init(&go);
    EXPECT_STATUS(gradus_image_grid_save(x, labels, 4, &go, NULL), INVALID);
    EXPECT_STATUS(gradus_image_grid_save(x, labels, 4, &go, ""), INVALID);
    EXPECT_STATUS(gradus_image_grid_save(NULL, labels, 4, &go, "g.png"), HANDLE);
    EXPECT_STATUS(gradus_image_grid_save(x, labels, 3, &go, "g.png"), SHAPE);      /* 3 labels, 4 points */
    EXPECT_STATUS(gradus_image_grid_save(x, neg_labels, 4, &go, "g.png"), INVALID);
    EXPECT_STATUS(gradus_image_grid_save(x, NULL, 4, &go, "g.png"), INVALID);
    EXPECT_STATUS(gradus_image_grid_save(x3, NULL, 0, &go, "g.png"), SHAPE);       /* (4, 3) */
    EXPECT_OK(gradus_tensor_create_full(s4, 1, GRADUS_DTYPE_FLOAT32, 0.5, &w));
    EXPECT_STATUS(gradus_image_grid_save(w, NULL, 0, &go, "g.png"), SHAPE);        /* rank 1 */
    gradus_tensor_destroy(w);
    EXPECT_OK(gradus_tensor_create_full(s4img, 4, GRADUS_DTYPE_FLOAT32, 1e30, &w));
    go.value_min = 1; go.value_max = 1;
    EXPECT_STATUS(gradus_image_grid_save(w, NULL, 0, &go, "g.png"), INVALID);
    gradus_image_grid_options_init(&go); go.upscale = 0;
    EXPECT_STATUS(gradus_image_grid_save(w, NULL, 0, &go, "g.png"), INVALID);
    gradus_image_grid_options_init(&go); go.columns = 0;
    EXPECT_STATUS(gradus_image_grid_save(w, NULL, 0, &go, "g.png"), INVALID);
    gradus_image_grid_options_init(&go); go.plot_extent = nan;
    EXPECT_STATUS(gradus_image_grid_save(x, NULL, 0, &go, "g.png"), INVALID);
    gradus_image_grid_options_init(&go); go.struct_size = 0;
    EXPECT_STATUS(gradus_image_grid_save(x, NULL, 0, &go, "g.png"), INVALID);
    EXPECT(gradus_image_grid_save(w, NULL, 0, NULL, "/nonexistent-dir/g.png") != GRADUS_STATUS_OK);
    gradus_tensor_destroy(w);

    EXPECT_OK(gradus_optimizer_destroy(foreign)); EXPECT_OK(gradus_optimizer_destroy(opt));
    EXPECT_OK(gradus_model_destroy(mlp)); EXPECT_OK(gradus_model_destroy(model));
    EXPECT_STATUS(gradus_model_denoise(model, x, ts, labels, 4, &out), HANDLE);       /* destroyed */
    EXPECT_OK(gradus_noise_schedule_destroy(flow)); EXPECT_OK(gradus_noise_schedule_destroy(sched));
    EXPECT_STATUS(gradus_noise_schedule_destroy(sched), HANDLE);
    EXPECT_STATUS(gradus_noise_schedule_timesteps(sched, 4, ts, 4), HANDLE);
    gradus_tensor_destroy(x); gradus_tensor_destroy(x3); gradus_tensor_destroy(x64);
}

int main(void) {
    bad_context();
    bad_errors();
    bad_tensors();
    bad_tapes_models_data();
    bad_optimizers();
    bad_quant();
    bad_diffusion();
    EXPECT(check_count >= 50);
    return check_report("bad_input");
}

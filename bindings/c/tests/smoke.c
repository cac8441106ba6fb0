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

static gradus_tensor make2(int64_t r, int64_t c, const float *v) {
    gradus_tensor t = NULL;
    int64_t shape[2];
    shape[0] = r; shape[1] = c;
    EXPECT_OK(gradus_tensor_create_copy(v, shape, 2, GRADUS_DTYPE_FLOAT32, &t));
    return t;
}

static int deleter_calls = 0;
static void count_delete(void *data, void *user_data) { (void)data; deleter_calls += *(int *)user_data; }

static void test_tensors(void) {
    float a[6] = { 1, 2, 3, 4, 5, 6 }, b[6] = { 1, 0, 0, 1, 1, 1 }, got[9];
    double dgot[4];
    int64_t shape[8], numel = 0, flat[1] = { 6 }, idx[3];
    int32_t ndim = 0, axes[1] = { 1 }, one = 1;
    gradus_dtype dt = -1;
    gradus_tensor x = make2(2, 3, a), y = make2(3, 2, b), t = NULL, u = NULL, w = NULL;
    EXPECT_OK(gradus_tensor_ndim(x, &ndim));
    EXPECT(ndim == 2);
    EXPECT_OK(gradus_tensor_shape(x, shape, 8, &ndim));
    EXPECT(ndim == 2 && shape[0] == 2 && shape[1] == 3);
    EXPECT_OK(gradus_tensor_dtype(x, &dt));
    EXPECT(dt == GRADUS_DTYPE_FLOAT32);
    EXPECT_OK(gradus_tensor_numel(x, &numel));
    EXPECT(numel == 6);
    EXPECT_OK(gradus_tensor_matmul(x, y, &t));             /* (2,3)@(3,2) */
    EXPECT_OK(gradus_tensor_copy_to(t, got, sizeof got));
    EXPECT(got[0] == 4 && got[1] == 5 && got[2] == 10 && got[3] == 11);
    EXPECT_OK(gradus_tensor_destroy(t));
    EXPECT_OK(gradus_tensor_binary(GRADUS_BINARY_OP_ADD, x, x, &t));
    EXPECT_OK(gradus_tensor_unary(GRADUS_UNARY_OP_RELU, t, &u));
    EXPECT_OK(gradus_tensor_affine(u, 0.5, 1.0, &w));       /* 0.5 * 2a + 1 = a + 1 */
    EXPECT_OK(gradus_tensor_copy_to(w, got, sizeof got));
    EXPECT(got[0] == 2 && got[5] == 7);
    gradus_tensor_destroy(t); gradus_tensor_destroy(u); gradus_tensor_destroy(w);
    EXPECT_OK(gradus_tensor_sum(x, axes, 1, 0, &t));        /* row sums 6, 15 */
    EXPECT_OK(gradus_tensor_copy_to(t, got, sizeof got));
    EXPECT(got[0] == 6 && got[1] == 15);
    gradus_tensor_destroy(t);
    EXPECT_OK(gradus_tensor_mean(x, NULL, 0, 0, &t));       /* 3.5 */
    EXPECT_OK(gradus_tensor_copy_to(t, got, sizeof got));
    EXPECT(got[0] == 3.5f);
    gradus_tensor_destroy(t);
    EXPECT_OK(gradus_tensor_softmax(x, -1, 1, &t));
    gradus_tensor_destroy(t);
    EXPECT_OK(gradus_tensor_reshape(x, flat, 1, &t));
    EXPECT_OK(gradus_tensor_transpose(x, 0, 1, &u));
    EXPECT_OK(gradus_tensor_copy_to(u, got, sizeof got));
    EXPECT(got[1] == 4);
    EXPECT_OK(gradus_tensor_argmax(x, idx, 3));
    EXPECT(idx[0] == 2 && idx[1] == 2);
    gradus_tensor_destroy(t); gradus_tensor_destroy(u);
    EXPECT_OK(gradus_tensor_create_full(shape, 2, GRADUS_DTYPE_FLOAT64, 0.25, &t));
    EXPECT_OK(gradus_tensor_copy_from(t, (const double[]){ 1, 2, 3, 4, 5, 6 }, 6 * sizeof(double)));
    EXPECT_STATUS(gradus_tensor_copy_to(t, dgot, sizeof dgot), GRADUS_STATUS_SHAPE_MISMATCH); /* 6 > 4 doubles */
    gradus_tensor_destroy(t);
    /* borrowed memory: the deleter runs once, when the last user goes */
    EXPECT_OK(gradus_tensor_wrap(a, shape, 2, GRADUS_DTYPE_FLOAT32, count_delete, &one, &t));
    EXPECT_OK(gradus_tensor_axpy(t, 1.0, x));               /* a += a, in place, visible to the caller */
    EXPECT(a[5] == 12);
    EXPECT_OK(gradus_tensor_destroy(t));
    EXPECT(deleter_calls == 1);
    gradus_tensor_destroy(x); gradus_tensor_destroy(y);
}

static void test_autodiff(void) {
    float v[4] = { 1, -2, 3, -4 };
    float g[4];
    int64_t shape[1] = { 4 };
    int32_t flag = 0;
    gradus_tensor x = NULL, sq = NULL, loss = NULL, grad = NULL, d = NULL;
    gradus_tape tape = NULL;
    EXPECT_OK(gradus_tensor_create_copy(v, shape, 1, GRADUS_DTYPE_FLOAT32, &x));
    EXPECT_OK(gradus_tensor_set_requires_grad(x, 1));
    EXPECT_OK(gradus_tensor_requires_grad(x, &flag));
    EXPECT(flag == 1);
    EXPECT_OK(gradus_tape_create(&tape));
    EXPECT_OK(gradus_tape_begin(tape));
    EXPECT_OK(gradus_tensor_unary(GRADUS_UNARY_OP_SQUARE, x, &sq));
    EXPECT_OK(gradus_tensor_sum(sq, NULL, 0, 0, &loss));
    EXPECT_OK(gradus_tensor_backward(loss));
    EXPECT_OK(gradus_tape_end(tape));
    EXPECT_OK(gradus_tape_reset(tape));                      /* frees sq and loss */
    EXPECT_STATUS(gradus_tensor_destroy(sq), GRADUS_STATUS_INVALID_HANDLE);
    EXPECT_OK(gradus_tensor_grad(x, &grad));
    EXPECT(grad != NULL);
    EXPECT_OK(gradus_tensor_copy_to(grad, g, sizeof g));
    EXPECT(g[0] == 2 && g[1] == -4 && g[3] == -8);
    EXPECT_OK(gradus_tensor_set_grad(x, NULL));
    gradus_tensor_destroy(grad);
    EXPECT_OK(gradus_tensor_grad(x, &grad));
    EXPECT(grad == NULL);
    EXPECT_OK(gradus_tensor_detach(x, &d));
    EXPECT_OK(gradus_tensor_requires_grad(d, &flag));
    EXPECT(flag == 0);
    gradus_no_grad_begin();
    EXPECT_OK(gradus_grad_is_enabled(&flag));
    EXPECT(flag == 0);
    EXPECT_OK(gradus_tensor_unary(GRADUS_UNARY_OP_EXP, x, &sq));
    EXPECT_OK(gradus_tensor_requires_grad(sq, &flag));
    EXPECT(flag == 0);
    EXPECT_OK(gradus_no_grad_end());
    EXPECT_OK(gradus_grad_is_enabled(&flag));
    EXPECT(flag == 1);
    gradus_tensor_destroy(sq); gradus_tensor_destroy(d); gradus_tensor_destroy(x);
    EXPECT_OK(gradus_tape_destroy(tape));
}

static void test_model(void) {
    gradus_layer_options layers[3];
    gradus_model model = NULL;
    gradus_dataset ds = NULL;
    gradus_tensor x = NULL, logits = NULL, loss = NULL, p = NULL, target = NULL;
    int32_t labels[16], classes = 0;
    int64_t count = 0, size = 0;
    size_t nparams = 0, i, len = 0;
    double acc = -1;
    char name[64];
    const char *path = "gradus_smoke_checkpoint.safetensors";
    gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);
    layers[0].in_features = 2; layers[0].out_features = 8;
    gradus_layer_options_init(&layers[1], GRADUS_LAYER_RELU);
    gradus_layer_options_init(&layers[2], GRADUS_LAYER_LINEAR);
    layers[2].in_features = 8; layers[2].out_features = 2;
    EXPECT_OK(gradus_model_create(layers, 3, GRADUS_DTYPE_FLOAT32, 42, &model));
    EXPECT_OK(gradus_model_parameter_count(model, &nparams));
    EXPECT(nparams == 4);
    EXPECT_OK(gradus_model_parameter_name(model, 0, name, sizeof name, &len));
    EXPECT(strcmp(name, "0.weight") == 0 && len == 8);
    EXPECT_OK(gradus_model_parameter_find(model, "2.bias", &p));
    gradus_tensor_destroy(p);
    EXPECT_OK(gradus_model_set_training(model, 1));
    EXPECT_OK(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_TWO_MOONS, 64, 7, &ds));
    EXPECT_OK(gradus_dataset_count(ds, &count));
    EXPECT_OK(gradus_dataset_sample_size(ds, &size));
    EXPECT_OK(gradus_dataset_class_count(ds, &classes));
    EXPECT(count == 64 && size == 2 && classes == 2);
    EXPECT_OK(gradus_dataset_shuffle(ds, 1));
    EXPECT_OK(gradus_dataset_batch(ds, 0, 16, &x, labels));
    EXPECT_OK(gradus_model_forward(model, x, &logits));
    EXPECT_OK(gradus_loss_cross_entropy(logits, labels, 16, GRADUS_REDUCTION_MEAN, &loss));
    EXPECT_OK(gradus_tensor_backward(loss));
    for (i = 0; i < nparams; i++) {
        gradus_tensor grad = NULL;
        EXPECT_OK(gradus_model_parameter_get(model, i, &p));
        EXPECT_OK(gradus_tensor_grad(p, &grad));
        EXPECT(grad != NULL);
        EXPECT_OK(gradus_tensor_axpy(p, -0.1, grad));        /* one SGD step */
        gradus_tensor_destroy(grad); gradus_tensor_destroy(p);
    }
    EXPECT_OK(gradus_model_zero_grad(model));
    EXPECT_OK(gradus_accuracy(logits, labels, 16, &acc));
    EXPECT(acc >= 0 && acc <= 1);
    gradus_tensor_destroy(loss);
    EXPECT_OK(gradus_tensor_create_full((const int64_t[]){ 16, 2 }, 2, GRADUS_DTYPE_FLOAT32, 0.5, &target));
    EXPECT_OK(gradus_loss_mse(logits, target, GRADUS_REDUCTION_SUM, &loss));
    gradus_tensor_destroy(loss);
    EXPECT_OK(gradus_loss_bce_with_logits(logits, target, GRADUS_REDUCTION_NONE, &loss));
    gradus_tensor_destroy(loss); gradus_tensor_destroy(target); gradus_tensor_destroy(logits); gradus_tensor_destroy(x);
    EXPECT_OK(gradus_model_save(model, path));
    EXPECT_OK(gradus_model_load(model, path));
    remove(path);
    EXPECT_OK(gradus_model_destroy(model));
    EXPECT_OK(gradus_dataset_destroy(ds));
    EXPECT_STATUS(gradus_dataset_load_fashion_mnist("/nonexistent-dir", GRADUS_SPLIT_TEST, 10, &ds), GRADUS_STATUS_NOT_FOUND);
}

static void test_testing(void) {
    EXPECT(gradus_testing_unguarded_lookup(2) == 30); /* in range: safe; out of range would kill us */
}

int main(void) {
    test_version();
    test_errors();
    test_context();
    test_tensors();
    test_autodiff();
    test_model();
    test_testing();
    return check_report("smoke");
}

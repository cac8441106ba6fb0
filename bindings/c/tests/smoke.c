/* C99 smoke test: calls every function of gradus.h at least once with valid input.
 * Tests/abi/abi.py fails when a function of the header is not called here. */
#include <math.h>
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
    EXPECT_OK(gradus_loss_stablemax_cross_entropy(logits, labels, 16, GRADUS_REDUCTION_NONE, GRADUS_DTYPE_FLOAT64, &loss));
    gradus_tensor_destroy(loss);
    EXPECT_STATUS(gradus_loss_stablemax_cross_entropy(logits, labels, 16, GRADUS_REDUCTION_MEAN, 7, &loss),
                  GRADUS_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(gradus_loss_stablemax_cross_entropy(logits, labels, 15, GRADUS_REDUCTION_MEAN, GRADUS_DTYPE_FLOAT32, &loss),
                  GRADUS_STATUS_SHAPE_MISMATCH);
    EXPECT_OK(gradus_loss_z_loss(logits, 1e-4, &loss));
    gradus_tensor_destroy(loss);
    EXPECT_STATUS(gradus_loss_z_loss(logits, -1.0, &loss), GRADUS_STATUS_INVALID_ARGUMENT);
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

static void test_optimizer(void) {
    gradus_layer_options layers[3];
    gradus_model model = NULL;
    gradus_dataset ds = NULL;
    gradus_optimizer opt = NULL, opt2 = NULL;
    gradus_optimizer_options o;
    gradus_tensor x = NULL, logits = NULL, loss = NULL, w = NULL, b = NULL, params[2];
    gradus_tensor state[16];
    gradus_hparam keys[2] = { GRADUS_HPARAM_WEIGHT_DECAY, GRADUS_HPARAM_BETA2 };
    double values[2] = { 0.05, 0.99 }, lr = -1, first = 0, last = 0;
    float lv = 0;
    int32_t labels[32];
    int64_t steps = -1;
    size_t n = 0, i, len = 0;
    char names[16][48];
    const char *name_ptrs[16];
    const char *path = "gradus_smoke_optimizer.safetensors";
    int step;

    gradus_optimizer_options_init(&o);
    EXPECT(o.struct_size == sizeof o && o.lr == 1e-3 && o.schedule == GRADUS_SCHEDULE_CONSTANT);
    EXPECT(o.hparam_keys == NULL && o.hparam_values == NULL && o.hparam_count == 0);
    (gradus_optimizer_options_init)(NULL); /* the 0.1.0 symbol: a documented no-op */

    gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);
    layers[0].in_features = 2; layers[0].out_features = 16;
    gradus_layer_options_init(&layers[1], GRADUS_LAYER_RELU);
    gradus_layer_options_init(&layers[2], GRADUS_LAYER_LINEAR);
    layers[2].in_features = 16; layers[2].out_features = 2;
    EXPECT_OK(gradus_model_create(layers, 3, GRADUS_DTYPE_FLOAT32, 3, &model));
    EXPECT_OK(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_TWO_MOONS, 256, 5, &ds));

    /* AdamW with a warm-up cosine schedule over the model's parameters */
    o.lr = 0.02; o.schedule = GRADUS_SCHEDULE_WARMUP_COSINE; o.warmup_steps = 5; o.total_steps = 60;
    o.hparam_keys = keys; o.hparam_values = values; o.hparam_count = 2;
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAMW, model, &o, &opt));
    EXPECT_OK(gradus_optimizer_get_lr(opt, &lr));
    EXPECT(lr == 0); /* warm-up starts at 0 */
    for (step = 0; step < 60; step++) {
        EXPECT_OK(gradus_dataset_batch(ds, (step * 32) % 256, 32, &x, labels));
        EXPECT_OK(gradus_model_forward(model, x, &logits));
        EXPECT_OK(gradus_loss_cross_entropy(logits, labels, 32, GRADUS_REDUCTION_MEAN, &loss));
        EXPECT_OK(gradus_optimizer_zero_grad(opt));
        EXPECT_OK(gradus_tensor_backward(loss));
        EXPECT_OK(gradus_optimizer_step(opt));
        EXPECT_OK(gradus_tensor_copy_to(loss, &lv, sizeof lv));
        if (step < 5) first += lv / 5;
        if (step >= 55) last += lv / 5;
        gradus_tensor_destroy(loss); gradus_tensor_destroy(logits); gradus_tensor_destroy(x);
        if (step == 2) {
            EXPECT_OK(gradus_optimizer_get_lr(opt, &lr));
            EXPECT(lr > 0.0119 && lr < 0.0121); /* 0.02 * 3 / 5 */
        }
    }
    printf("optimizer: AdamW loss %.4f -> %.4f\n", first, last);
    EXPECT(last < first);
    EXPECT_OK(gradus_optimizer_step_count(opt, &steps));
    EXPECT(steps == 60);
    EXPECT_OK(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_LR, 0.01));
    EXPECT_OK(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_BETA1, 0.8));
    EXPECT_OK(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_EPS, 1e-6));
    EXPECT_OK(gradus_optimizer_get_hparam(opt, GRADUS_HPARAM_BETA1, &lr));
    EXPECT(lr == 0.8);
    EXPECT_OK(gradus_optimizer_get_hparam(opt, GRADUS_HPARAM_LR, &lr));
    EXPECT(lr == 0.01);                                   /* the schedule's peak */
    EXPECT_OK(gradus_optimizer_get_hparam(opt, GRADUS_HPARAM_WEIGHT_DECAY, &lr));
    EXPECT(lr == 0.05);

    /* state: by entries (name + float64 tensor), into a second optimizer of the same kind */
    EXPECT_OK(gradus_optimizer_state_count(opt, &n));
    EXPECT(n > 4 && n <= 16);
    for (i = 0; i < n && i < 16; i++) {
        EXPECT_OK(gradus_optimizer_state_name(opt, i, names[i], sizeof names[i], &len));
        EXPECT(len > 0 && len < sizeof names[i]);
        name_ptrs[i] = names[i];
        EXPECT_OK(gradus_optimizer_state_get(opt, i, &state[i]));
    }
    EXPECT(strcmp(names[0], "step") == 0);
    gradus_optimizer_options_init(&o);
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAMW, model, &o, &opt2));
    EXPECT_OK(gradus_optimizer_load_state(opt2, name_ptrs, state, n));
    EXPECT_OK(gradus_optimizer_step_count(opt2, &steps));
    EXPECT(steps == 60);
    for (i = 0; i < n && i < 16; i++) gradus_tensor_destroy(state[i]);
    /* state: through a safetensors file */
    EXPECT_OK(gradus_optimizer_save(opt, path));
    EXPECT_OK(gradus_optimizer_destroy(opt2));
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAMW, model, NULL, &opt2));
    EXPECT_OK(gradus_optimizer_load(opt2, path));
    EXPECT_OK(gradus_optimizer_step_count(opt2, &steps));
    EXPECT(steps == 60);
    remove(path);
    EXPECT_OK(gradus_optimizer_destroy(opt2));
    EXPECT_OK(gradus_optimizer_destroy(opt));
    EXPECT_OK(gradus_optimizer_destroy(NULL));

    /* SGD with momentum over an explicit parameter list; every kind builds over it */
    EXPECT_OK(gradus_model_parameter_get(model, 0, &w));
    EXPECT_OK(gradus_model_parameter_get(model, 1, &b));
    params[0] = w; params[1] = b;
    gradus_optimizer_options_init(&o);
    keys[0] = GRADUS_HPARAM_MOMENTUM; values[0] = 0.9;
    o.lr = 0.1; o.schedule = GRADUS_SCHEDULE_STEP; o.step_size = 10; o.gamma = 0.5;
    o.hparam_keys = keys; o.hparam_values = values; o.hparam_count = 1;
    EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 2, &o, &opt));
    EXPECT_OK(gradus_optimizer_step(opt)); /* no gradients: a zero step */
    EXPECT_OK(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_MOMENTUM, 0.5));
    EXPECT_OK(gradus_optimizer_destroy(opt));
    gradus_optimizer_options_init(&o);
    for (i = GRADUS_OPTIMIZER_SGD; i <= GRADUS_OPTIMIZER_STABLE_SPAM_8BIT; i++) {
        EXPECT_OK(gradus_optimizer_create((gradus_optimizer_kind)i, params, 2, &o, &opt));
        EXPECT_OK(gradus_optimizer_step(opt));
        EXPECT_OK(gradus_optimizer_destroy(opt));
    }
    /* schedule refinement (spec §6.1) into a PIECEWISE schedule. tau·n = 0.6 < 2: width 1, no smoothing, so
     * w_t = g_t^-2 and eta_t = w_t·sum_{q>t} w_q, normalised to a maximum of 1 */
    {
        const double norms[6] = { 4.0, 3.0, 2.5, 2.0, 1.5, 1.0 };
        double sched[6], want[6], tail = 0, top = 0;
        int t;
        for (t = 5; t >= 0; t--) { want[t] = tail / (norms[t] * norms[t]); tail += 1 / (norms[t] * norms[t]); }
        for (t = 0; t < 6; t++) if (want[t] > top) top = want[t];
        EXPECT_OK(gradus_schedule_refine(norms, 6, 2.0, 0.1, sched));
        for (t = 0; t < 6; t++) EXPECT(fabs(sched[t] - want[t] / top) <= 1e-12);
        EXPECT(sched[5] == 0);
        {   /* power 1500: the weights 3^-1500 and 0.5^-1500 under- and overflow a double; the schedule does not */
            double g4[4] = { 3, 2, 1, 0.5 }, s4[4];
            EXPECT_OK(gradus_schedule_refine(g4, 4, 1500.0, 0.1, s4));
            EXPECT(s4[0] == 0 && s4[1] == 0 && s4[2] == 1 && s4[3] == 0);
        }
        o.lr = 0.1; o.schedule = GRADUS_SCHEDULE_PIECEWISE; o.multipliers = sched; o.multiplier_count = 6;
        EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 2, &o, &opt));
        for (t = 0; t < 8; t++) {
            EXPECT_OK(gradus_optimizer_get_lr(opt, &lr));
            EXPECT(fabs(lr - 0.1 * sched[t < 6 ? t : 5]) <= 1e-15);
            EXPECT_OK(gradus_optimizer_step(opt));
        }
        EXPECT_OK(gradus_optimizer_destroy(opt));
        /* a caller built against 0.1.0 passes the struct without the multipliers: it works, and fields past its
         * struct_size are not read (here they would make the PIECEWISE schedule valid) */
        gradus_optimizer_options_init(&o);
        o.struct_size = offsetof(gradus_optimizer_options, multipliers);
        o.lr = 0.2;
        EXPECT_OK(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 2, &o, &opt));
        EXPECT_OK(gradus_optimizer_get_lr(opt, &lr));
        EXPECT(lr == 0.2);
        EXPECT_OK(gradus_optimizer_destroy(opt));
        o.schedule = GRADUS_SCHEDULE_PIECEWISE; o.multipliers = sched; o.multiplier_count = 6;
        EXPECT(gradus_optimizer_create(GRADUS_OPTIMIZER_SGD, params, 2, &o, &opt) == GRADUS_STATUS_INVALID_ARGUMENT);
        gradus_optimizer_options_init(&o);
    }
    gradus_tensor_destroy(w); gradus_tensor_destroy(b);
    EXPECT_OK(gradus_dataset_destroy(ds));
    EXPECT_OK(gradus_model_destroy(model));
}

static void test_quant(void) {
    gradus_layer_options layers[3];
    gradus_model model = NULL;
    gradus_dataset ds = NULL;
    gradus_optimizer opt = NULL;
    gradus_quant_options w, a;
    gradus_tensor x = NULL, q = NULL, logits = NULL, loss = NULL, g = NULL;
    const float v[4] = { 0.1f, -0.7f, 0.26f, 1.0f };
    float out[4], gv[4];
    const int64_t shape[1] = { 4 };
    int32_t labels[32];
    size_t n = 99, nparams = 0;
    int step;

    gradus_quant_options_init(&w);
    EXPECT(w.struct_size == sizeof w && w.bits == 8 && w.format == GRADUS_QUANT_FORMAT_INT && w.symmetric == 1);
    EXPECT(w.granularity == GRADUS_QUANT_PER_TENSOR && w.estimator == GRADUS_QUANT_ESTIMATOR_STE);
    (gradus_quant_options_init)(NULL); /* the 0.1.0 symbol: a documented no-op */
    /* 2-bit symmetric per tensor: scale = 1 (absmax / 1 level), values round to {-1, 0, 1} */
    EXPECT_OK(gradus_tensor_create_copy(v, shape, 1, GRADUS_DTYPE_FLOAT32, &x));
    EXPECT_OK(gradus_tensor_set_requires_grad(x, 1));
    w.bits = 2;
    EXPECT_OK(gradus_tensor_fake_quantize(x, &w, &q));
    EXPECT_OK(gradus_tensor_copy_to(q, out, sizeof out));
    EXPECT(out[0] == 0 && out[1] == -1 && out[2] == 0 && out[3] == 1);
    EXPECT_OK(gradus_tensor_sum(q, NULL, 0, 0, &loss));
    EXPECT_OK(gradus_tensor_backward(loss));                 /* STE: the gradient passes unchanged */
    EXPECT_OK(gradus_tensor_grad(x, &g));
    EXPECT_OK(gradus_tensor_copy_to(g, gv, sizeof gv));
    EXPECT(gv[0] == 1 && gv[3] == 1);
    gradus_tensor_destroy(g); gradus_tensor_destroy(loss); gradus_tensor_destroy(q); gradus_tensor_destroy(x);

    /* W4 per group (asymmetric) + A8 per tensor on an MLP; it still trains */
    gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);
    layers[0].in_features = 2; layers[0].out_features = 32;
    gradus_layer_options_init(&layers[1], GRADUS_LAYER_RELU);
    gradus_layer_options_init(&layers[2], GRADUS_LAYER_LINEAR);
    layers[2].in_features = 32; layers[2].out_features = 2;
    EXPECT_OK(gradus_model_create(layers, 3, GRADUS_DTYPE_FLOAT32, 11, &model));
    gradus_quant_options_init(&w);
    w.bits = 4; w.symmetric = 0; w.granularity = GRADUS_QUANT_PER_GROUP; w.group_size = 16;
    gradus_quant_options_init(&a);
    EXPECT_OK(gradus_model_quantize(model, &w, &a));
    EXPECT_OK(gradus_model_quantized_layer_count(model, &n));
    EXPECT(n == 2);
    EXPECT_OK(gradus_model_parameter_count(model, &nparams));
    EXPECT(nparams == 4);                                  /* names and tensors unchanged */
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAM, model, NULL, &opt));
    EXPECT_OK(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_TWO_MOONS, 128, 2, &ds));
    for (step = 0; step < 20; step++) {
        EXPECT_OK(gradus_dataset_batch(ds, (step * 32) % 128, 32, &x, labels));
        EXPECT_OK(gradus_model_forward(model, x, &logits));
        EXPECT_OK(gradus_loss_cross_entropy(logits, labels, 32, GRADUS_REDUCTION_MEAN, &loss));
        EXPECT_OK(gradus_optimizer_zero_grad(opt));
        EXPECT_OK(gradus_tensor_backward(loss));
        EXPECT_OK(gradus_optimizer_step(opt));
        gradus_tensor_destroy(loss); gradus_tensor_destroy(logits); gradus_tensor_destroy(x);
    }
    EXPECT_OK(gradus_model_quantize(model, NULL, &a));     /* re-quantize: activations only */
    EXPECT_OK(gradus_model_dequantize(model));
    EXPECT_OK(gradus_model_quantized_layer_count(model, &n));
    EXPECT(n == 0);
    EXPECT_OK(gradus_optimizer_destroy(opt));
    EXPECT_OK(gradus_dataset_destroy(ds));
    EXPECT_OK(gradus_model_destroy(model));
}

static int all_finite(const float *v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) if (!isfinite(v[i])) return 0;
    return 1;
}

static int is_png(const char *path) {
    unsigned char sig[8] = { 0 };
    const unsigned char want[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    FILE *f = fopen(path, "rb");
    size_t got;
    if (!f) return 0;
    got = fread(sig, 1, 8, f);
    fclose(f);
    return got == 8 && memcmp(sig, want, 8) == 0;
}

static void test_diffusion(void) {
    gradus_noise_schedule_options so;
    gradus_denoiser_options dn;
    gradus_diffusion_train_options to;
    gradus_sample_options sa;
    gradus_image_grid_options go;
    gradus_noise_schedule sched = NULL, zsnr = NULL, flow = NULL;
    gradus_model model = NULL, model2 = NULL, conv = NULL;
    gradus_optimizer opt = NULL, opt2 = NULL;
    gradus_dataset ds = NULL;
    gradus_tensor x = NULL, xs = NULL, abar = NULL, pred = NULL, loss = NULL, s1 = NULL, s2 = NULL, imgs = NULL;
    int32_t labels[256], wanted[12], four[4] = { 0, 1, 2, 3 }, six[6] = { 0, 1, 0, 1, 0, 1 };
    double ts[8], tsteps[4] = { 10, 500, 900, 999 }, losses[40], av[1000], img[6 * 64];
    const float pts[8] = { 1, 1, -1, 2, 0.5f, -0.5f, 3, 0 };
    float a[24], b[24], im[4 * 64];
    const int64_t s42[2] = { 4, 2 }, s6img[4] = { 6, 1, 8, 8 };
    const int32_t last_axis[1] = { -1 };
    const char *ckpt = "gradus_smoke_denoiser.safetensors", *png = "gradus_smoke_points.png";
    const char *png2 = "gradus_smoke_images.png";
    double first = 0, last = 0;
    int i, decreasing = 1;

    /* schedules */
    gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_COSINE);
    EXPECT(so.struct_size == sizeof so && so.kind == GRADUS_NOISE_SCHEDULE_COSINE && so.train_steps == 1000);
    EXPECT(so.prediction == GRADUS_PREDICTION_EPSILON && so.spacing == GRADUS_TIMESTEP_SPACING_LEADING && so.max_beta == 0.999);
    (gradus_noise_schedule_options_init)(NULL, GRADUS_NOISE_SCHEDULE_LINEAR); /* the 0.1.0 symbol: a documented no-op */
    EXPECT_OK(gradus_noise_schedule_create(&so, &sched));
    EXPECT_OK(gradus_noise_schedule_alphas_cumprod(sched, &abar));
    EXPECT_OK(gradus_tensor_copy_to(abar, av, sizeof av));
    for (i = 1; i < 1000; i++) if (!(av[i] < av[i - 1])) decreasing = 0;
    EXPECT(decreasing && av[0] > 0.99 && av[999] < 1e-3);
    gradus_tensor_destroy(abar);
    EXPECT_OK(gradus_noise_schedule_timesteps(sched, 4, ts, 8));
    EXPECT(ts[0] == 750 && ts[1] == 500 && ts[2] == 250 && ts[3] == 0);      /* leading spacing */
    gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_SCALED_LINEAR);
    EXPECT(so.beta_start == 0.00085 && so.beta_end == 0.012);
    so.spacing = GRADUS_TIMESTEP_SPACING_TRAILING; so.zero_terminal_snr = 1; so.prediction = GRADUS_PREDICTION_V;
    EXPECT_OK(gradus_noise_schedule_create(&so, &zsnr));
    EXPECT_OK(gradus_noise_schedule_timesteps(zsnr, 4, ts, 4));
    EXPECT(ts[0] == 999);                                                  /* trailing starts at T - 1 */
    EXPECT_OK(gradus_noise_schedule_alphas_cumprod(zsnr, &abar));
    EXPECT_OK(gradus_tensor_copy_to(abar, av, sizeof av));
    EXPECT(av[999] == 0);                                                  /* zero terminal SNR */
    gradus_tensor_destroy(abar);

    /* an MLP denoiser is a gradus_model */
    gradus_denoiser_options_init(&dn, GRADUS_DENOISER_MLP);
    EXPECT(dn.struct_size == sizeof dn && dn.kind == GRADUS_DENOISER_MLP && dn.hidden == 128 && dn.depth == 3);
    (gradus_denoiser_options_init)(NULL, GRADUS_DENOISER_MLP); /* the 0.1.0 symbol: a documented no-op */
    dn.num_classes = 3; dn.hidden = 64;
    EXPECT_OK(gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT32, 7, &model));
    EXPECT_OK(gradus_tensor_create_copy(pts, s42, 2, GRADUS_DTYPE_FLOAT32, &xs));
    EXPECT_OK(gradus_model_denoise(model, xs, tsteps, four, 4, &pred));   /* label 3: the null label */
    EXPECT_OK(gradus_tensor_sum(pred, NULL, 0, 0, &loss));
    EXPECT_OK(gradus_tensor_backward(loss));                               /* recorded: a custom loss works */
    gradus_tensor_destroy(loss); gradus_tensor_destroy(pred);
    EXPECT_OK(gradus_model_zero_grad(model));
    EXPECT_STATUS(gradus_model_forward(model, xs, &pred), GRADUS_STATUS_UNSUPPORTED);

    /* training on the 3-class 2-D mixture with an 8-bit AdamW */
    EXPECT_OK(gradus_dataset_create_synthetic(GRADUS_SYNTHETIC_MIXTURE, 256, 3, &ds));
    EXPECT_OK(gradus_dataset_batch(ds, 0, 256, &x, labels));
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAMW8BIT, model, NULL, &opt));
    EXPECT_OK(gradus_optimizer_set_hparam(opt, GRADUS_HPARAM_LR, 3e-3));
    gradus_diffusion_train_options_init(&to);
    EXPECT(to.struct_size == sizeof to && to.steps == 100 && to.batch_size == 128 && to.label_dropout == 0.1);
    (gradus_diffusion_train_options_init)(NULL); /* the 0.1.0 symbol: a documented no-op */
    to.steps = 40; to.batch_size = 64; to.seed = 1;
    EXPECT_OK(gradus_diffusion_train(model, sched, opt, x, labels, 256, &to, losses));
    for (i = 0; i < 10; i++) { first += losses[i] / 10; last += losses[30 + i] / 10; }
    printf("diffusion: MLP loss %.4f -> %.4f\n", first, last);
    EXPECT(isfinite(first) && isfinite(last) && last < first);
    EXPECT_OK(gradus_diffusion_train(model, sched, opt, x, labels, 256, NULL, NULL));  /* defaults: 100 steps */

    /* sampling: CFG twice with one seed (identical), APG in x0 space with DDPM, CFG-rescale, defaults */
    for (i = 0; i < 12; i++) wanted[i] = i % 4;                           /* 3: unconditional */
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_CFG);
    EXPECT(sa.struct_size == sizeof sa && sa.sampler == GRADUS_SAMPLER_DDIM && sa.steps == 50 && sa.scale == 7.5);
    EXPECT(sa.guidance == GRADUS_GUIDANCE_CFG && sa.guidance_rescale == 0 && sa.apg_norm_dims == NULL);
    (gradus_sample_options_init)(NULL, GRADUS_GUIDANCE_CFG); /* the 0.1.0 symbol: a documented no-op */
    sa.steps = 20; sa.scale = 3; sa.seed = 5;
    EXPECT_OK(gradus_diffusion_sample(model, sched, &sa, wanted, 12, &s1));
    EXPECT_OK(gradus_diffusion_sample(model, sched, &sa, wanted, 12, &s2));
    EXPECT_OK(gradus_tensor_copy_to(s1, a, sizeof a));
    EXPECT_OK(gradus_tensor_copy_to(s2, b, sizeof b));
    EXPECT(memcmp(a, b, sizeof a) == 0 && all_finite(a, 24));
    gradus_tensor_destroy(s2);
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_APG);
    EXPECT(sa.apg_eta == 1 && sa.apg_norm_threshold == 15 && sa.apg_momentum == 0);
    sa.sampler = GRADUS_SAMPLER_DDPM; sa.steps = 10; sa.scale = 4; sa.formulation = GRADUS_GUIDANCE_FORMULATION_ORIGINAL;
    sa.apg_eta = 0; sa.apg_momentum = -0.5; sa.apg_norm_threshold = 2; sa.space = GRADUS_GUIDANCE_SPACE_X0;
    sa.apg_norm_dims = last_axis; sa.apg_norm_dim_count = 1;
    EXPECT_OK(gradus_diffusion_sample(model, sched, &sa, wanted, 12, &s2));
    EXPECT_OK(gradus_tensor_copy_to(s2, b, sizeof b));
    EXPECT(all_finite(b, 24));
    gradus_tensor_destroy(s2);
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_CFG_RESCALE);
    EXPECT(sa.guidance_rescale == 0.7);
    sa.steps = 10; sa.eta = 1;
    EXPECT_OK(gradus_diffusion_sample(model, sched, &sa, wanted, 12, &s2));
    gradus_tensor_destroy(s2);
    EXPECT_OK(gradus_diffusion_sample(model, sched, NULL, wanted, 4, &s2));
    gradus_tensor_destroy(s2);

    /* a scatter plot of the samples */
    gradus_image_grid_options_init(&go);
    EXPECT(go.struct_size == sizeof go && go.columns == 8 && go.upscale == 1 && go.plot_size == 256);
    (gradus_image_grid_options_init)(NULL); /* the 0.1.0 symbol: a documented no-op */
    EXPECT_OK(gradus_image_grid_save(s1, wanted, 12, &go, png));
    EXPECT(is_png(png));
    remove(png);

    /* checkpoint round trip into a second denoiser: identical samples */
    EXPECT_OK(gradus_model_save(model, ckpt));
    EXPECT_OK(gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT32, 99, &model2));
    EXPECT_OK(gradus_model_load(model2, ckpt));
    remove(ckpt);
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_CFG);
    sa.steps = 20; sa.scale = 3; sa.seed = 5;
    EXPECT_OK(gradus_diffusion_sample(model2, sched, &sa, wanted, 12, &s2));
    EXPECT_OK(gradus_tensor_copy_to(s2, b, sizeof b));
    EXPECT(memcmp(a, b, sizeof a) == 0);
    gradus_tensor_destroy(s2); gradus_tensor_destroy(s1);

    /* flow matching with a float64 conv denoiser on 8x8 images */
    gradus_noise_schedule_options_init(&so, GRADUS_NOISE_SCHEDULE_COSINE);
    so.prediction = GRADUS_PREDICTION_FLOW; so.flow_shift = 3;
    EXPECT_OK(gradus_noise_schedule_create(&so, &flow));
    EXPECT_OK(gradus_noise_schedule_timesteps(flow, 4, ts, 8));
    EXPECT(ts[0] == 1000 && ts[3] > 0 && ts[3] < ts[2]);
    gradus_denoiser_options_init(&dn, GRADUS_DENOISER_CONV);
    EXPECT(dn.kind == GRADUS_DENOISER_CONV && dn.channels == 1 && dn.height == 28 && dn.base_width == 16);
    dn.num_classes = 2; dn.height = 8; dn.width = 8; dn.base_width = 4;
    EXPECT_OK(gradus_model_create_denoiser(&dn, GRADUS_DTYPE_FLOAT64, 1, &conv));
    for (i = 0; i < 6 * 64; i++) img[i] = ((i / 64) % 2 ? 0.8 : -0.8) * ((i % 8) < 4 ? 1 : -1);
    EXPECT_OK(gradus_tensor_create_copy(img, s6img, 4, GRADUS_DTYPE_FLOAT64, &imgs));
    EXPECT_OK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAM, conv, NULL, &opt2));
    to.steps = 3; to.batch_size = 0;
    EXPECT_OK(gradus_diffusion_train(conv, flow, opt2, imgs, six, 6, &to, losses));
    EXPECT(isfinite(losses[0]) && isfinite(losses[2]));
    gradus_sample_options_init(&sa, GRADUS_GUIDANCE_NONE);
    sa.sampler = GRADUS_SAMPLER_FLOW_EULER; sa.steps = 4;
    EXPECT_OK(gradus_diffusion_sample(conv, flow, &sa, four, 3, &s1));     /* label 2: unconditional */
    EXPECT_OK(gradus_tensor_copy_to(s1, im, 3 * 64 * sizeof(float)));
    EXPECT(all_finite(im, 3 * 64));
    go.columns = 2; go.upscale = 2;
    EXPECT_OK(gradus_image_grid_save(s1, NULL, 0, &go, png2));
    EXPECT(is_png(png2));
    remove(png2);
    gradus_tensor_destroy(s1);

    EXPECT_OK(gradus_optimizer_destroy(opt2)); EXPECT_OK(gradus_optimizer_destroy(opt));
    EXPECT_OK(gradus_model_destroy(conv)); EXPECT_OK(gradus_model_destroy(model2)); EXPECT_OK(gradus_model_destroy(model));
    gradus_tensor_destroy(imgs); gradus_tensor_destroy(x); gradus_tensor_destroy(xs);
    EXPECT_OK(gradus_dataset_destroy(ds));
    EXPECT_OK(gradus_noise_schedule_destroy(flow)); EXPECT_OK(gradus_noise_schedule_destroy(zsnr));
    EXPECT_OK(gradus_noise_schedule_destroy(sched));
    EXPECT_OK(gradus_noise_schedule_destroy(NULL));
}

static void test_testing(void) {
    EXPECT(gradus_testing_unguarded_lookup(2) == 30); /* in range: safe; out of range would kill us */
}

/* Options structs across header versions: the *_options_init macro passes sizeof to *_options_init_sized; the
 * sized call writes at most that many bytes (an older, smaller struct) and zeroes what a newer, larger one has past
 * the library's fields; the 0.1.0 symbol without a size writes the first published layout only. */
static void test_options_sizes(void) {
    gradus_optimizer_options o;
    unsigned char raw[sizeof(gradus_optimizer_options) + 32];
    const size_t v1 = offsetof(gradus_optimizer_options, multipliers);
    size_t i, untouched = 0;
    gradus_context_options c; gradus_layer_options l; gradus_quant_options q; gradus_noise_schedule_options ns;
    gradus_denoiser_options dn; gradus_diffusion_train_options tr; gradus_sample_options sa; gradus_image_grid_options ig;

    /* the 0.1.0 layout of gradus_optimizer_options: nothing written past it */
    memset(raw, 0xAB, sizeof raw);
    EXPECT_OK(gradus_optimizer_options_init_sized((gradus_optimizer_options *)(void *)raw, v1));
    memcpy(&o, raw, v1);
    EXPECT(o.struct_size == v1 && o.lr == 1e-3);
    for (i = v1; i < sizeof raw; i++) untouched += raw[i] == 0xAB;
    EXPECT(untouched == sizeof raw - v1);
    /* the 0.1.0 symbol, taken with parentheses so the macro does not apply: the same bytes */
    memset(raw, 0xAB, sizeof raw);
    (gradus_optimizer_options_init)((gradus_optimizer_options *)(void *)raw);
    memcpy(&o, raw, v1);
    EXPECT(o.struct_size == v1 && o.lr == 1e-3 && raw[v1] == 0xAB);
    /* a newer caller's larger struct: the library's fields, then zeros up to its size */
    memset(raw, 0xAB, sizeof raw);
    EXPECT_OK(gradus_optimizer_options_init_sized((gradus_optimizer_options *)(void *)raw, sizeof raw));
    memcpy(&o, raw, sizeof o);
    EXPECT(o.struct_size == sizeof raw && o.multipliers == NULL && o.multiplier_count == 0);
    for (i = sizeof o, untouched = 0; i < sizeof raw; i++) untouched += raw[i] == 0;
    EXPECT(untouched == sizeof raw - sizeof o);
    /* sizes below the first layout, absurd sizes and NULL are errors that write nothing */
    memset(&o, 0, sizeof o);
    EXPECT_STATUS(gradus_optimizer_options_init_sized(&o, v1 - 8), GRADUS_STATUS_INVALID_ARGUMENT);
    EXPECT(o.struct_size == 0);
    EXPECT_STATUS(gradus_optimizer_options_init_sized(&o, (size_t)-1), GRADUS_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(gradus_optimizer_options_init_sized(NULL, sizeof o), GRADUS_STATUS_INVALID_ARGUMENT);
    /* every sized init, through its macro and directly */
    gradus_context_options_init(&c); EXPECT(c.struct_size == sizeof c);
    EXPECT_OK(gradus_context_options_init_sized(&c, sizeof c));
    EXPECT_STATUS(gradus_context_options_init_sized(&c, sizeof c - 1), GRADUS_STATUS_INVALID_ARGUMENT);
    EXPECT_OK(gradus_layer_options_init_sized(&l, sizeof l, GRADUS_LAYER_RELU)); EXPECT(l.kind == GRADUS_LAYER_RELU);
    EXPECT_STATUS(gradus_layer_options_init_sized(NULL, sizeof l, GRADUS_LAYER_RELU), GRADUS_STATUS_INVALID_ARGUMENT);
    EXPECT_OK(gradus_quant_options_init_sized(&q, sizeof q)); EXPECT(q.struct_size == sizeof q && q.bits == 8);
    EXPECT_OK(gradus_noise_schedule_options_init_sized(&ns, sizeof ns, GRADUS_NOISE_SCHEDULE_COSINE));
    EXPECT(ns.kind == GRADUS_NOISE_SCHEDULE_COSINE && ns.train_steps == 1000);
    EXPECT_OK(gradus_denoiser_options_init_sized(&dn, sizeof dn, GRADUS_DENOISER_CONV)); EXPECT(dn.kind == GRADUS_DENOISER_CONV);
    EXPECT_OK(gradus_diffusion_train_options_init_sized(&tr, sizeof tr)); EXPECT(tr.steps == 100);
    EXPECT_OK(gradus_sample_options_init_sized(&sa, sizeof sa, GRADUS_GUIDANCE_APG)); EXPECT(sa.guidance == GRADUS_GUIDANCE_APG);
    EXPECT_OK(gradus_image_grid_options_init_sized(&ig, sizeof ig)); EXPECT(ig.columns == 8);
    {   /* an array of a newer header's larger layer struct: this library cannot check elements at a stride it does
         * not know, so it refuses the array (and reads nothing past layers[0].struct_size) */
        struct newer { gradus_layer_options o; double appended[2]; } layers[3];
        gradus_model m = NULL;
        EXPECT_OK(gradus_layer_options_init_sized(&layers[0].o, sizeof layers[0], GRADUS_LAYER_LINEAR));
        EXPECT_OK(gradus_layer_options_init_sized(&layers[1].o, sizeof layers[1], GRADUS_LAYER_RELU));
        EXPECT_OK(gradus_layer_options_init_sized(&layers[2].o, sizeof layers[2], GRADUS_LAYER_LINEAR));
        EXPECT(layers[0].o.struct_size == sizeof layers[0] && layers[1].appended[1] == 0);
        layers[0].o.in_features = 3; layers[0].o.out_features = 5; layers[2].o.in_features = 5; layers[2].o.out_features = 2;
        EXPECT_STATUS(gradus_model_create(&layers[0].o, 3, GRADUS_DTYPE_FLOAT32, 1, &m), GRADUS_STATUS_INVALID_ARGUMENT);
        EXPECT(m == NULL);
    }
    {   /* this header's layout: every element must carry it */
        gradus_layer_options l3[3];
        gradus_model m = NULL;
        size_t count = 0;
        gradus_layer_options_init(&l3[0], GRADUS_LAYER_LINEAR);
        gradus_layer_options_init(&l3[1], GRADUS_LAYER_RELU);
        gradus_layer_options_init(&l3[2], GRADUS_LAYER_LINEAR);
        l3[0].in_features = 3; l3[0].out_features = 5; l3[2].in_features = 5; l3[2].out_features = 2;
        EXPECT_OK(gradus_model_create(l3, 3, GRADUS_DTYPE_FLOAT32, 1, &m));
        EXPECT_OK(gradus_model_parameter_count(m, &count));
        EXPECT(count == 4);
        gradus_model_destroy(m);
        l3[1].struct_size = sizeof l3[1] + 8;
        EXPECT_STATUS(gradus_model_create(l3, 3, GRADUS_DTYPE_FLOAT32, 1, &m), GRADUS_STATUS_INVALID_ARGUMENT);
    }
}

/* Batch norm layer kinds (since 0.2.0): BatchNorm1d and Ghost BatchNorm in a model, training and evaluation mode;
 * and a 0.1.0 caller's layer array (48-byte elements, no eps/momentum fields) still builds a model. */
static void test_batch_norm_layers(void) {
    gradus_layer_options l[4];
    gradus_model m = NULL;
    gradus_tensor x = NULL, y = NULL, y2 = NULL, loss = NULL;
    float xs[8 * 3], out1[8 * 3], out2[8 * 3];
    size_t count = 0, i;
    int kind;
    for (i = 0; i < 8 * 3; i++) xs[i] = (float)((i * 37) % 11) - 5.0f + 0.25f * (float)i;
    for (kind = 0; kind < 2; kind++) {
        gradus_layer_options_init(&l[0], GRADUS_LAYER_LINEAR);
        l[0].in_features = 3; l[0].out_features = 3;
        gradus_layer_options_init(&l[1], kind ? GRADUS_LAYER_GHOST_BATCH_NORM : GRADUS_LAYER_BATCH_NORM);
        l[1].in_features = 3; l[1].eps = 1e-3; l[1].momentum = 0.5; l[1].ghost_batch_size = 4;
        EXPECT(l[1].struct_size == sizeof l[1]);
        EXPECT_OK(gradus_model_create(l, 2, GRADUS_DTYPE_FLOAT32, 3, &m));
        EXPECT_OK(gradus_model_parameter_count(m, &count));
        EXPECT(count == 4);  /* linear weight, bias; norm weight, bias */
        x = make2(8, 3, xs);
        EXPECT_OK(gradus_model_forward(m, x, &y));
        EXPECT_OK(gradus_tensor_copy_to(y, out1, sizeof out1));
        {   /* training: every chunk (the batch, or ghost batches of 4) has mean 0 per channel */
            int c, r, chunk;
            for (chunk = 0; chunk < (kind ? 2 : 1); chunk++)
                for (c = 0; c < 3; c++) {
                    double mean = 0; int rows = kind ? 4 : 8;
                    for (r = chunk * rows; r < (chunk + 1) * rows; r++) mean += out1[r * 3 + c];
                    EXPECT(fabs(mean / rows) < 1e-5);
                }
        }
        EXPECT_OK(gradus_tensor_sum(y, NULL, 0, 0, &loss));
        EXPECT_OK(gradus_tensor_backward(loss));
        EXPECT_OK(gradus_model_set_training(m, 0));   /* evaluation: running statistics, a different output */
        EXPECT_OK(gradus_model_forward(m, x, &y2));
        EXPECT_OK(gradus_tensor_copy_to(y2, out2, sizeof out2));
        EXPECT(fabs(out1[0] - out2[0]) > 1e-4);
        gradus_tensor_destroy(loss); gradus_tensor_destroy(y2); gradus_tensor_destroy(y); gradus_tensor_destroy(x);
        loss = y2 = y = x = NULL;
        gradus_model_destroy(m); m = NULL;
    }
    {   /* a 0.1.0 program's array: its struct ends at p, struct_size says so, eps and momentum take defaults */
        struct layer_v1 { size_t struct_size; gradus_layer_kind kind; int64_t in_features, out_features; int32_t bias; double p; } v1[2];
        memset(v1, 0, sizeof v1);
        EXPECT(sizeof v1[0] == offsetof(gradus_layer_options, eps));
        for (i = 0; i < 2; i++) { v1[i].struct_size = sizeof v1[0]; v1[i].bias = 1; v1[i].p = 0.5; }
        v1[0].kind = GRADUS_LAYER_LINEAR; v1[0].in_features = 3; v1[0].out_features = 4;
        v1[1].kind = GRADUS_LAYER_LAYER_NORM; v1[1].in_features = 4;
        EXPECT_OK(gradus_model_create((const gradus_layer_options *)(const void *)v1, 2, GRADUS_DTYPE_FLOAT32, 1, &m));
        EXPECT_OK(gradus_model_parameter_count(m, &count));
        EXPECT(count == 4);
        gradus_model_destroy(m);
    }
}

int main(void) {
    test_version();
    test_errors();
    test_context();
    test_tensors();
    test_autodiff();
    test_model();
    test_optimizer();
    test_quant();
    test_diffusion();
    test_options_sizes();
    test_batch_norm_layers();
    test_testing();
    return check_report("smoke");
}

/* Trains an MLP (784-256-10, ReLU) on Fashion-MNIST with AdamW and a warm-up cosine schedule through the
 * Gradus C API.
 * Usage: train_mlp [data-dir] [epochs] [train-limit]      (data-dir default: the Debian dataset path) */
#include <gradus.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call) do { gradus_status s_ = (call); if (s_ != GRADUS_STATUS_OK) { \
    fprintf(stderr, "%s failed: %s: %s\n", #call, gradus_status_string(s_), gradus_last_error_message()); \
    exit(1); } } while (0)

enum { BATCH = 128, HIDDEN = 256, CLASSES = 10 };

static double evaluate(gradus_model model, gradus_dataset test) {
    int64_t n = 0, start;
    int32_t labels[1000];
    double correct = 0, acc = 0;
    CHECK(gradus_dataset_count(test, &n));
    CHECK(gradus_model_set_training(model, 0));
    gradus_no_grad_begin();
    for (start = 0; start < n; start += 1000) {
        gradus_tensor x = NULL, logits = NULL;
        int64_t rows = n - start < 1000 ? n - start : 1000;
        CHECK(gradus_dataset_batch(test, start, rows, &x, labels));
        CHECK(gradus_model_forward(model, x, &logits));
        CHECK(gradus_accuracy(logits, labels, (size_t)rows, &acc));
        correct += acc * (double)rows;
        gradus_tensor_destroy(logits);
        gradus_tensor_destroy(x);
    }
    CHECK(gradus_no_grad_end());
    CHECK(gradus_model_set_training(model, 1));
    return correct / (double)n;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : NULL;
    int epochs = argc > 2 ? atoi(argv[2]) : 3, epoch;
    int64_t limit = argc > 3 ? atoll(argv[3]) : 0, n = 0, start;
    gradus_dataset train = NULL, test = NULL;
    gradus_model model = NULL;
    gradus_tape tape = NULL;
    gradus_optimizer opt = NULL;
    gradus_optimizer_options o;
    gradus_layer_options layers[3];
    int32_t labels[BATCH];

    CHECK(gradus_dataset_load_fashion_mnist(dir, GRADUS_SPLIT_TRAIN, limit, &train));
    CHECK(gradus_dataset_load_fashion_mnist(dir, GRADUS_SPLIT_TEST, 0, &test));
    CHECK(gradus_dataset_count(train, &n));
    gradus_layer_options_init(&layers[0], GRADUS_LAYER_LINEAR);
    layers[0].in_features = 784; layers[0].out_features = HIDDEN;
    gradus_layer_options_init(&layers[1], GRADUS_LAYER_RELU);
    gradus_layer_options_init(&layers[2], GRADUS_LAYER_LINEAR);
    layers[2].in_features = HIDDEN; layers[2].out_features = CLASSES;
    CHECK(gradus_model_create(layers, 3, GRADUS_DTYPE_FLOAT32, 42, &model));
    gradus_optimizer_options_init(&o);           /* AdamW: 10% linear warm-up to 2e-3, then cosine decay */
    o.lr = 2e-3; o.schedule = GRADUS_SCHEDULE_WARMUP_COSINE;
    o.total_steps = (int64_t)epochs * (n / BATCH) > 0 ? (int64_t)epochs * (n / BATCH) : 1;
    o.warmup_steps = o.total_steps / 10;
    CHECK(gradus_optimizer_create_for_model(GRADUS_OPTIMIZER_ADAMW, model, &o, &opt));
    CHECK(gradus_tape_create(&tape));

    for (epoch = 1; epoch <= epochs; epoch++) {
        double total = 0;
        int64_t steps = 0;
        CHECK(gradus_dataset_shuffle(train, (uint64_t)epoch));
        for (start = 0; start + BATCH <= n; start += BATCH, steps++) {
            gradus_tensor x, logits, loss;
            float value;
            CHECK(gradus_tape_begin(tape));                 /* every handle of this step joins the tape */
            CHECK(gradus_dataset_batch(train, start, BATCH, &x, labels));
            CHECK(gradus_model_forward(model, x, &logits));
            CHECK(gradus_loss_cross_entropy(logits, labels, BATCH, GRADUS_REDUCTION_MEAN, &loss));
            CHECK(gradus_optimizer_zero_grad(opt));
            CHECK(gradus_tensor_backward(loss));
            CHECK(gradus_optimizer_step(opt));              /* fused AdamW update of every parameter */
            CHECK(gradus_tensor_copy_to(loss, &value, sizeof value));
            total += value;
            CHECK(gradus_tape_end(tape));
            CHECK(gradus_tape_reset(tape));                 /* frees the step's intermediates */
        }
        printf("epoch %d: train loss %.4f, test accuracy %.4f\n", epoch, total / (double)(steps ? steps : 1),
               evaluate(model, test));
    }
    gradus_tape_destroy(tape);
    gradus_optimizer_destroy(opt);
    gradus_model_destroy(model);
    gradus_dataset_destroy(test);
    gradus_dataset_destroy(train);
    return 0;
}

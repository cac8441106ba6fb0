"""Low-level mirror of include/gradus.h: one entry per C function, with argtypes and restype.

Names and order follow the header's sections. Everything here is the raw C API; the Pythonic layer
(gradus.runtime, gradus.Tensor, ...) sits on top. ``check(status)`` turns a non-OK status into GradusError.

Integers are range-checked on the way in: plain ctypes silently wraps an out-of-range Python int (2**32 + 1 passed
as an int32 becomes 1, a label 2**32 becomes class 0), so every integer argument of a C function, every integer field
of an options struct and every integer array built with ``int_array`` raises GradusError(INVALID_ARGUMENT) instead.
"""
import ctypes
import operator
from ctypes import POINTER, c_char, c_char_p, c_double, c_int32, c_int64, c_size_t, c_uint64, c_void_p

from . import _loader
from .errors import INVALID_ARGUMENT, GradusError

lib, library_path = _loader.load()

# ---- range-checked integers (ctypes itself truncates modulo 2**bits) ----
_INT_RANGES = {c_int32: (-2**31, 2**31 - 1), c_int64: (-2**63, 2**63 - 1), c_size_t: (0, 2**64 - 1),
               c_uint64: (0, 2**64 - 1)}
_INT_NAMES = {c_int32: "int32", c_int64: "int64", c_size_t: "uint64", c_uint64: "uint64"}


def checked_int(ctype, value, what="integer"):
    """``value`` as a Python int that fits ``ctype`` (c_int32, c_int64, c_size_t, c_uint64), else GradusError."""
    v = operator.index(value)  # TypeError for floats and other non-integers, as ctypes
    lo, hi = _INT_RANGES[ctype]
    if not lo <= v <= hi:
        raise GradusError(INVALID_ARGUMENT, f"{what} {v} does not fit in {_INT_NAMES[ctype]} ({lo}...{hi})")
    return v


def int_array(ctype, values, what="integer"):
    """A ctypes array of ``ctype`` holding ``values``, each range-checked (at least one element long)."""
    values = [checked_int(ctype, v, what) for v in values]
    return (ctype * max(len(values), 1))(*values)


def _checked_type(ctype):
    class Checked(ctype):
        @classmethod
        def from_param(cls, value):
            return ctype(checked_int(ctype, value, "integer argument"))
    Checked.__name__ = ctype.__name__ + "_checked"
    return Checked


_CHECKED_ARG = {t: _checked_type(t) for t in _INT_RANGES}


class _Struct(ctypes.Structure):
    """Options structs: assigning an out-of-range integer to a field raises instead of wrapping."""

    def __setattr__(self, name, value):
        ctype = dict(type(self)._fields_).get(name)
        if ctype in _INT_RANGES:
            value = checked_int(ctype, value, f"{type(self).__name__}.{name}")
        super().__setattr__(name, value)

# ---- constants (must equal the header's; Tests/abi pins them) ----
ABI_VERSION = 0
DTYPE_FLOAT32 = 0
DTYPE_FLOAT64 = 1
MAX_THREADS = 4096
NUMA_POLICY_AUTO, NUMA_POLICY_DISABLED, NUMA_POLICY_DISTRIBUTE, NUMA_POLICY_ISOLATE, NUMA_POLICY_INHERIT = range(5)
PIN_MODE_AUTO, PIN_MODE_NEVER, PIN_MODE_ALWAYS = range(3)
WAIT_POLICY_AUTO, WAIT_POLICY_SLEEP, WAIT_POLICY_HYBRID, WAIT_POLICY_SPIN = range(4)

MAX_RANK = 8
(UNARY_OP_NEG, UNARY_OP_EXP, UNARY_OP_LOG, UNARY_OP_SQRT, UNARY_OP_ABS, UNARY_OP_SQUARE, UNARY_OP_RELU,
 UNARY_OP_SIGMOID, UNARY_OP_TANH, UNARY_OP_GELU, UNARY_OP_SILU, UNARY_OP_SIN, UNARY_OP_COS) = range(13)
(BINARY_OP_ADD, BINARY_OP_SUB, BINARY_OP_MUL, BINARY_OP_DIV, BINARY_OP_MAXIMUM, BINARY_OP_MINIMUM,
 BINARY_OP_POW) = range(7)
(LAYER_LINEAR, LAYER_RELU, LAYER_GELU, LAYER_SILU, LAYER_TANH, LAYER_SIGMOID, LAYER_DROPOUT, LAYER_FLATTEN,
 LAYER_LAYER_NORM, LAYER_BATCH_NORM, LAYER_GHOST_BATCH_NORM) = range(11)
REDUCTION_MEAN, REDUCTION_SUM, REDUCTION_NONE = range(3)
SPLIT_TRAIN, SPLIT_TEST = range(2)
SYNTHETIC_TWO_MOONS, SYNTHETIC_SPIRALS, SYNTHETIC_XOR, SYNTHETIC_MIXTURE = range(4)
(OPTIMIZER_SGD, OPTIMIZER_ADAM, OPTIMIZER_ADAMW, OPTIMIZER_ADAGRAD, OPTIMIZER_ADAGRADNORM,
 OPTIMIZER_ADAGRADNORM_ROWWISE, OPTIMIZER_DIFFGRAD, OPTIMIZER_ADAMP, OPTIMIZER_SGDP, OPTIMIZER_SPAM,
 OPTIMIZER_STABLE_SPAM, OPTIMIZER_ORTHOGRAD_SGD, OPTIMIZER_ORTHOGRAD_ADAM, OPTIMIZER_PERP_ADAMW,
 OPTIMIZER_ADAM8BIT, OPTIMIZER_ADAMW8BIT, OPTIMIZER_STABLE_SPAM_8BIT) = range(17)
(HPARAM_LR, HPARAM_WEIGHT_DECAY, HPARAM_BETA1, HPARAM_BETA2, HPARAM_EPS, HPARAM_MOMENTUM, HPARAM_DAMPENING,
 HPARAM_NESTEROV, HPARAM_LR_DECAY, HPARAM_INITIAL_ACCUMULATOR, HPARAM_B0, HPARAM_DELTA, HPARAM_WD_RATIO,
 HPARAM_WARMUP_STEPS, HPARAM_THRESHOLD, HPARAM_INTERVAL, HPARAM_GAMMA1, HPARAM_GAMMA2, HPARAM_GAMMA3,
 HPARAM_TOTAL_STEPS, HPARAM_RESET_INTERVAL, HPARAM_MIN_8BIT_SIZE) = range(22)
(SCHEDULE_CONSTANT, SCHEDULE_STEP, SCHEDULE_LINEAR, SCHEDULE_WARMUP_LINEAR, SCHEDULE_COSINE,
 SCHEDULE_WARMUP_COSINE, SCHEDULE_PIECEWISE) = range(7)
QUANT_FORMAT_INT, QUANT_FORMAT_FP4_E2M1, QUANT_FORMAT_MXFP4, QUANT_FORMAT_NF4, QUANT_FORMAT_BNB_FP4 = range(5)
QUANT_PER_TENSOR, QUANT_PER_CHANNEL, QUANT_PER_GROUP = range(3)
QUANT_ESTIMATOR_STE, QUANT_ESTIMATOR_CLIPPED_STE, QUANT_ESTIMATOR_RESTE = range(3)
NOISE_SCHEDULE_LINEAR, NOISE_SCHEDULE_SCALED_LINEAR, NOISE_SCHEDULE_COSINE = range(3)
TIMESTEP_SPACING_LEADING, TIMESTEP_SPACING_TRAILING, TIMESTEP_SPACING_LINSPACE = range(3)
PREDICTION_EPSILON, PREDICTION_V, PREDICTION_SAMPLE, PREDICTION_FLOW = range(4)
DENOISER_MLP, DENOISER_CONV = range(2)
SAMPLER_DDPM, SAMPLER_DDIM, SAMPLER_FLOW_EULER = range(3)
GUIDANCE_NONE, GUIDANCE_CFG, GUIDANCE_CFG_RESCALE, GUIDANCE_APG = range(4)
GUIDANCE_FORMULATION_DIFFUSERS, GUIDANCE_FORMULATION_ORIGINAL = range(2)
GUIDANCE_SPACE_MODEL_OUTPUT, GUIDANCE_SPACE_X0 = range(2)

# ---- typedefs ----
gradus_status = c_int32
gradus_dtype = c_int32
gradus_numa_policy = c_int32
gradus_pin_mode = c_int32
gradus_wait_policy = c_int32


class gradus_context_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("num_threads", c_int32),
        ("numa_policy", gradus_numa_policy),
        ("pin_mode", gradus_pin_mode),
        ("wait_policy", gradus_wait_policy),
        ("spin_us", c_int32),
        ("blas_threads", c_int32),
        ("cpus", POINTER(c_int32)),
        ("cpu_count", c_size_t),
        ("verbose", c_int32),
    ]


gradus_tensor = c_void_p
gradus_tape = c_void_p
gradus_model = c_void_p
gradus_dataset = c_void_p
gradus_unary_op = c_int32
gradus_binary_op = c_int32
gradus_layer_kind = c_int32
gradus_reduction = c_int32
gradus_split = c_int32
gradus_synthetic = c_int32
gradus_deleter = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
gradus_optimizer = c_void_p
gradus_optimizer_kind = c_int32
gradus_hparam = c_int32
gradus_schedule_kind = c_int32
gradus_quant_format = c_int32
gradus_quant_granularity = c_int32
gradus_quant_estimator = c_int32


class gradus_layer_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("kind", gradus_layer_kind),
        ("in_features", c_int64),
        ("out_features", c_int64),
        ("bias", c_int32),
        ("p", c_double),
        ("eps", c_double),
        ("momentum", c_double),
        ("ghost_batch_size", c_int64),
    ]


class gradus_optimizer_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("lr", c_double),
        ("schedule", gradus_schedule_kind),
        ("warmup_steps", c_int64),
        ("total_steps", c_int64),
        ("step_size", c_int64),
        ("gamma", c_double),
        ("min_lr", c_double),
        ("hparam_keys", POINTER(gradus_hparam)),
        ("hparam_values", POINTER(c_double)),
        ("hparam_count", c_size_t),
        ("multipliers", POINTER(c_double)),
        ("multiplier_count", c_size_t),
    ]


class gradus_quant_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("bits", c_int32),
        ("format", gradus_quant_format),
        ("symmetric", c_int32),
        ("granularity", gradus_quant_granularity),
        ("channel_axis", c_int32),
        ("group_size", c_int64),
        ("stochastic_rounding", c_int32),
        ("seed", c_uint64),
        ("estimator", gradus_quant_estimator),
        ("clip", c_double),
        ("reste_o", c_double),
        ("reste_t", c_double),
    ]


# ---- diffusion (section "Diffusion") ----
gradus_noise_schedule = c_void_p
gradus_noise_schedule_kind = c_int32
gradus_timestep_spacing = c_int32
gradus_prediction = c_int32
gradus_denoiser_kind = c_int32
gradus_sampler_kind = c_int32
gradus_guidance_kind = c_int32
gradus_guidance_formulation = c_int32
gradus_guidance_space = c_int32


class gradus_noise_schedule_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("kind", gradus_noise_schedule_kind),
        ("train_steps", c_int32),
        ("beta_start", c_double),
        ("beta_end", c_double),
        ("max_beta", c_double),
        ("zero_terminal_snr", c_int32),
        ("spacing", gradus_timestep_spacing),
        ("steps_offset", c_int32),
        ("prediction", gradus_prediction),
        ("flow_shift", c_double),
    ]


class gradus_denoiser_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("kind", gradus_denoiser_kind),
        ("num_classes", c_int32),
        ("data_dim", c_int64),
        ("hidden", c_int64),
        ("depth", c_int32),
        ("channels", c_int64),
        ("height", c_int64),
        ("width", c_int64),
        ("base_width", c_int64),
    ]


class gradus_diffusion_train_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("steps", c_int64),
        ("batch_size", c_int64),
        ("label_dropout", c_double),
        ("seed", c_uint64),
    ]


class gradus_sample_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("sampler", gradus_sampler_kind),
        ("steps", c_int32),
        ("eta", c_double),
        ("guidance", gradus_guidance_kind),
        ("scale", c_double),
        ("formulation", gradus_guidance_formulation),
        ("guidance_rescale", c_double),
        ("apg_eta", c_double),
        ("apg_norm_threshold", c_double),
        ("apg_momentum", c_double),
        ("apg_norm_dims", POINTER(c_int32)),
        ("apg_norm_dim_count", c_size_t),
        ("space", gradus_guidance_space),
        ("seed", c_uint64),
    ]


class gradus_image_grid_options(_Struct):
    _fields_ = [
        ("struct_size", c_size_t),
        ("columns", c_int32),
        ("value_min", c_double),
        ("value_max", c_double),
        ("padding", c_int32),
        ("upscale", c_int32),
        ("plot_size", c_int32),
        ("plot_extent", c_double),
    ]


_T = gradus_tensor
_PT = POINTER(gradus_tensor)
_I64P = POINTER(c_int64)
_I32P = POINTER(c_int32)

# ---- functions: name -> (restype, argtypes) ----
_FUNCTIONS = {
    # Version
    "gradus_version_major": (c_int32, []),
    "gradus_version_minor": (c_int32, []),
    "gradus_version_patch": (c_int32, []),
    "gradus_version_string": (c_char_p, []),
    "gradus_abi_version": (c_int32, []),
    # Status and errors
    "gradus_status_string": (c_char_p, [gradus_status]),
    "gradus_last_error_message": (c_char_p, []),
    "gradus_clear_last_error": (None, []),
    "gradus_dtype_size": (c_size_t, [gradus_dtype]),
    # Context and threading
    "gradus_context_options_init": (None, [POINTER(gradus_context_options)]),
    "gradus_context_options_init_sized": (gradus_status, [POINTER(gradus_context_options), c_size_t]),
    "gradus_context_configure": (gradus_status, [POINTER(gradus_context_options)]),
    "gradus_context_set_num_threads": (gradus_status, [c_int32]),
    "gradus_context_num_threads": (gradus_status, [POINTER(c_int32)]),
    "gradus_context_describe": (gradus_status, [POINTER(c_char), c_size_t, POINTER(c_size_t)]),
    # Tensors
    "gradus_tensor_create_copy": (gradus_status, [c_void_p, _I64P, c_int32, gradus_dtype, _PT]),
    "gradus_tensor_create_full": (gradus_status, [_I64P, c_int32, gradus_dtype, c_double, _PT]),
    "gradus_tensor_wrap": (gradus_status, [c_void_p, _I64P, c_int32, gradus_dtype, gradus_deleter, c_void_p, _PT]),
    "gradus_tensor_destroy": (gradus_status, [_T]),
    "gradus_tensor_ndim": (gradus_status, [_T, _I32P]),
    "gradus_tensor_shape": (gradus_status, [_T, _I64P, c_int32, _I32P]),
    "gradus_tensor_dtype": (gradus_status, [_T, POINTER(gradus_dtype)]),
    "gradus_tensor_numel": (gradus_status, [_T, _I64P]),
    "gradus_tensor_copy_to": (gradus_status, [_T, c_void_p, c_size_t]),
    "gradus_tensor_copy_from": (gradus_status, [_T, c_void_p, c_size_t]),
    "gradus_tensor_unary": (gradus_status, [gradus_unary_op, _T, _PT]),
    "gradus_tensor_binary": (gradus_status, [gradus_binary_op, _T, _T, _PT]),
    "gradus_tensor_affine": (gradus_status, [_T, c_double, c_double, _PT]),
    "gradus_tensor_matmul": (gradus_status, [_T, _T, _PT]),
    "gradus_tensor_sum": (gradus_status, [_T, _I32P, c_int32, c_int32, _PT]),
    "gradus_tensor_mean": (gradus_status, [_T, _I32P, c_int32, c_int32, _PT]),
    "gradus_tensor_softmax": (gradus_status, [_T, c_int32, c_int32, _PT]),
    "gradus_tensor_reshape": (gradus_status, [_T, _I64P, c_int32, _PT]),
    "gradus_tensor_transpose": (gradus_status, [_T, c_int32, c_int32, _PT]),
    "gradus_tensor_argmax": (gradus_status, [_T, _I64P, c_size_t]),
    "gradus_tensor_axpy": (gradus_status, [_T, c_double, _T]),
    # Autodiff
    "gradus_tensor_set_requires_grad": (gradus_status, [_T, c_int32]),
    "gradus_tensor_requires_grad": (gradus_status, [_T, _I32P]),
    "gradus_tensor_backward": (gradus_status, [_T]),
    "gradus_tensor_grad": (gradus_status, [_T, _PT]),
    "gradus_tensor_set_grad": (gradus_status, [_T, _T]),
    "gradus_tensor_detach": (gradus_status, [_T, _PT]),
    "gradus_no_grad_begin": (None, []),
    "gradus_no_grad_end": (gradus_status, []),
    "gradus_grad_is_enabled": (gradus_status, [_I32P]),
    "gradus_tape_create": (gradus_status, [POINTER(gradus_tape)]),
    "gradus_tape_destroy": (gradus_status, [gradus_tape]),
    "gradus_tape_begin": (gradus_status, [gradus_tape]),
    "gradus_tape_end": (gradus_status, [gradus_tape]),
    "gradus_tape_reset": (gradus_status, [gradus_tape]),
    # Layers and models
    "gradus_layer_options_init": (None, [POINTER(gradus_layer_options), gradus_layer_kind]),
    "gradus_layer_options_init_sized": (gradus_status, [POINTER(gradus_layer_options), c_size_t, gradus_layer_kind]),
    "gradus_model_create": (gradus_status, [POINTER(gradus_layer_options), c_size_t, gradus_dtype, c_uint64,
                                            POINTER(gradus_model)]),
    "gradus_model_destroy": (gradus_status, [gradus_model]),
    "gradus_model_forward": (gradus_status, [gradus_model, _T, _PT]),
    "gradus_model_set_training": (gradus_status, [gradus_model, c_int32]),
    "gradus_model_parameter_count": (gradus_status, [gradus_model, POINTER(c_size_t)]),
    "gradus_model_parameter_name": (gradus_status, [gradus_model, c_size_t, POINTER(c_char), c_size_t,
                                                    POINTER(c_size_t)]),
    "gradus_model_parameter_get": (gradus_status, [gradus_model, c_size_t, _PT]),
    "gradus_model_parameter_find": (gradus_status, [gradus_model, c_char_p, _PT]),
    "gradus_model_zero_grad": (gradus_status, [gradus_model]),
    # Losses
    "gradus_loss_cross_entropy": (gradus_status, [_T, _I32P, c_size_t, gradus_reduction, _PT]),
    "gradus_loss_mse": (gradus_status, [_T, _T, gradus_reduction, _PT]),
    "gradus_loss_bce_with_logits": (gradus_status, [_T, _T, gradus_reduction, _PT]),
    "gradus_loss_stablemax_cross_entropy": (gradus_status, [_T, _I32P, c_size_t, gradus_reduction, gradus_dtype, _PT]),
    "gradus_loss_z_loss": (gradus_status, [_T, c_double, _PT]),
    "gradus_accuracy": (gradus_status, [_T, _I32P, c_size_t, POINTER(c_double)]),
    # Data
    "gradus_dataset_load_fashion_mnist": (gradus_status, [c_char_p, gradus_split, c_int64, POINTER(gradus_dataset)]),
    "gradus_dataset_create_synthetic": (gradus_status, [gradus_synthetic, c_int64, c_uint64, POINTER(gradus_dataset)]),
    "gradus_dataset_destroy": (gradus_status, [gradus_dataset]),
    "gradus_dataset_count": (gradus_status, [gradus_dataset, _I64P]),
    "gradus_dataset_sample_size": (gradus_status, [gradus_dataset, _I64P]),
    "gradus_dataset_class_count": (gradus_status, [gradus_dataset, _I32P]),
    "gradus_dataset_batch": (gradus_status, [gradus_dataset, c_int64, c_int64, _PT, _I32P]),
    "gradus_dataset_shuffle": (gradus_status, [gradus_dataset, c_uint64]),
    # Checkpoints
    "gradus_model_save": (gradus_status, [gradus_model, c_char_p]),
    "gradus_model_load": (gradus_status, [gradus_model, c_char_p]),
    # Optimizers
    "gradus_optimizer_options_init": (None, [POINTER(gradus_optimizer_options)]),
    "gradus_optimizer_options_init_sized": (gradus_status, [POINTER(gradus_optimizer_options), c_size_t]),
    "gradus_optimizer_create": (gradus_status, [gradus_optimizer_kind, _PT, c_size_t, POINTER(gradus_optimizer_options),
                                                POINTER(gradus_optimizer)]),
    "gradus_optimizer_create_for_model": (gradus_status, [gradus_optimizer_kind, gradus_model,
                                                          POINTER(gradus_optimizer_options), POINTER(gradus_optimizer)]),
    "gradus_optimizer_destroy": (gradus_status, [gradus_optimizer]),
    "gradus_optimizer_step": (gradus_status, [gradus_optimizer]),
    "gradus_optimizer_zero_grad": (gradus_status, [gradus_optimizer]),
    "gradus_optimizer_set_hparam": (gradus_status, [gradus_optimizer, gradus_hparam, c_double]),
    "gradus_optimizer_get_hparam": (gradus_status, [gradus_optimizer, gradus_hparam, POINTER(c_double)]),
    "gradus_optimizer_get_lr": (gradus_status, [gradus_optimizer, POINTER(c_double)]),
    "gradus_schedule_refine": (gradus_status, [POINTER(c_double), c_size_t, c_double, c_double, POINTER(c_double)]),
    "gradus_optimizer_step_count": (gradus_status, [gradus_optimizer, _I64P]),
    "gradus_optimizer_state_count": (gradus_status, [gradus_optimizer, POINTER(c_size_t)]),
    "gradus_optimizer_state_name": (gradus_status, [gradus_optimizer, c_size_t, POINTER(c_char), c_size_t,
                                                    POINTER(c_size_t)]),
    "gradus_optimizer_state_get": (gradus_status, [gradus_optimizer, c_size_t, _PT]),
    "gradus_optimizer_load_state": (gradus_status, [gradus_optimizer, POINTER(c_char_p), _PT, c_size_t]),
    "gradus_optimizer_save": (gradus_status, [gradus_optimizer, c_char_p]),
    "gradus_optimizer_load": (gradus_status, [gradus_optimizer, c_char_p]),
    # Low-bit training
    "gradus_quant_options_init": (None, [POINTER(gradus_quant_options)]),
    "gradus_quant_options_init_sized": (gradus_status, [POINTER(gradus_quant_options), c_size_t]),
    "gradus_tensor_fake_quantize": (gradus_status, [_T, POINTER(gradus_quant_options), _PT]),
    "gradus_model_quantize": (gradus_status, [gradus_model, POINTER(gradus_quant_options),
                                              POINTER(gradus_quant_options)]),
    "gradus_model_dequantize": (gradus_status, [gradus_model]),
    "gradus_model_quantized_layer_count": (gradus_status, [gradus_model, POINTER(c_size_t)]),
    # Diffusion
    "gradus_noise_schedule_options_init": (None, [POINTER(gradus_noise_schedule_options), gradus_noise_schedule_kind]),
    "gradus_noise_schedule_options_init_sized": (gradus_status, [POINTER(gradus_noise_schedule_options), c_size_t, gradus_noise_schedule_kind]),
    "gradus_noise_schedule_create": (gradus_status, [POINTER(gradus_noise_schedule_options),
                                                     POINTER(gradus_noise_schedule)]),
    "gradus_noise_schedule_destroy": (gradus_status, [gradus_noise_schedule]),
    "gradus_noise_schedule_alphas_cumprod": (gradus_status, [gradus_noise_schedule, _PT]),
    "gradus_noise_schedule_timesteps": (gradus_status, [gradus_noise_schedule, c_int32, POINTER(c_double), c_size_t]),
    "gradus_denoiser_options_init": (None, [POINTER(gradus_denoiser_options), gradus_denoiser_kind]),
    "gradus_denoiser_options_init_sized": (gradus_status, [POINTER(gradus_denoiser_options), c_size_t, gradus_denoiser_kind]),
    "gradus_model_create_denoiser": (gradus_status, [POINTER(gradus_denoiser_options), gradus_dtype, c_uint64,
                                                     POINTER(gradus_model)]),
    "gradus_model_denoise": (gradus_status, [gradus_model, _T, POINTER(c_double), _I32P, c_size_t, _PT]),
    "gradus_diffusion_train_options_init": (None, [POINTER(gradus_diffusion_train_options)]),
    "gradus_diffusion_train_options_init_sized": (gradus_status, [POINTER(gradus_diffusion_train_options), c_size_t]),
    "gradus_diffusion_train": (gradus_status, [gradus_model, gradus_noise_schedule, gradus_optimizer, _T, _I32P,
                                               c_size_t, POINTER(gradus_diffusion_train_options), POINTER(c_double)]),
    "gradus_sample_options_init": (None, [POINTER(gradus_sample_options), gradus_guidance_kind]),
    "gradus_sample_options_init_sized": (gradus_status, [POINTER(gradus_sample_options), c_size_t, gradus_guidance_kind]),
    "gradus_diffusion_sample": (gradus_status, [gradus_model, gradus_noise_schedule, POINTER(gradus_sample_options),
                                                _I32P, c_size_t, _PT]),
    "gradus_image_grid_options_init": (None, [POINTER(gradus_image_grid_options)]),
    "gradus_image_grid_options_init_sized": (gradus_status, [POINTER(gradus_image_grid_options), c_size_t]),
    "gradus_image_grid_save": (gradus_status, [_T, _I32P, c_size_t, POINTER(gradus_image_grid_options), c_char_p]),
    # Testing
    "gradus_testing_unguarded_lookup": (c_int32, [c_int32]),
}

for _name, (_restype, _argtypes) in _FUNCTIONS.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = [_CHECKED_ARG.get(a, a) for a in _argtypes]
    globals()[_name] = _fn
del _name, _restype, _argtypes, _fn

if gradus_abi_version() != ABI_VERSION:
    raise ImportError(f"{library_path} has ABI {gradus_abi_version()}, these bindings need ABI {ABI_VERSION}")


def last_error_message():
    raw = gradus_last_error_message()
    return raw.decode("utf-8", "replace") if raw else ""


def check(status):
    """Raises GradusError(status, message) unless status is GRADUS_STATUS_OK."""
    if status != 0:
        raise GradusError(status, last_error_message())


def new_options(struct, *args):
    """A new options struct (a ctypes Structure class such as gradus_optimizer_options) filled with the library's
    defaults by its *_options_init_sized, given this struct's size: a library newer than these bindings writes
    only the fields they declare (the C header's *_options_init macro does the same)."""
    o = struct()
    check(globals()[struct.__name__ + "_init_sized"](ctypes.byref(o), ctypes.sizeof(o), *args))
    return o

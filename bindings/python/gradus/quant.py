"""gradus.quant: low-bit (quantization-aware) training through the library's fake quantizers.

    from gradus import quant
    quant.quantize(model, weights=quant.QuantConfig(bits=4, granularity="group", group_size=64),
                   activations=quant.QuantConfig(bits=8))
    # train as usual: the forward uses quantized weights/inputs, the optimizer updates full-precision masters
    quant.dequantize(model)

Formats: "int" (bits 1..8; 1 = binary sign), "fp4_e2m1", "mxfp4" (per group), "nf4", "bnb_fp4" (4-bit).
Granularity: "tensor", "channel" (``axis``), "group" (``group_size`` consecutive elements).
Estimators (the backward): "ste", "clipped_ste" (``clip``), "reste" (``reste_o``, ``reste_t``).
Bad configurations raise GradusError (INVALID_ARGUMENT) with the library's message.
"""
import ctypes

from . import _ffi
from .tensor import _result, as_tensor

_FORMATS = {"int": _ffi.QUANT_FORMAT_INT, "fp4_e2m1": _ffi.QUANT_FORMAT_FP4_E2M1, "mxfp4": _ffi.QUANT_FORMAT_MXFP4,
            "nf4": _ffi.QUANT_FORMAT_NF4, "bnb_fp4": _ffi.QUANT_FORMAT_BNB_FP4}
_GRANULARITY = {"tensor": _ffi.QUANT_PER_TENSOR, "channel": _ffi.QUANT_PER_CHANNEL, "group": _ffi.QUANT_PER_GROUP}
_ESTIMATORS = {"ste": _ffi.QUANT_ESTIMATOR_STE, "clipped_ste": _ffi.QUANT_ESTIMATOR_CLIPPED_STE,
               "reste": _ffi.QUANT_ESTIMATOR_RESTE}


def _lookup(table, value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # raw GRADUS_QUANT_* value: the library checks it
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"unknown {what} {value!r}; expected one of {sorted(table)}") from None


class QuantConfig:
    """One fake-quantization configuration (gradus_quant_options). Defaults: INT8, symmetric, per tensor, STE."""

    def __init__(self, bits=8, format="int", symmetric=True, granularity="tensor", axis=0, group_size=128,
                 stochastic=False, seed=0, estimator="ste", clip=1.0, reste_o=1.0, reste_t=1.5):
        self.bits, self.format, self.symmetric = bits, format, symmetric
        self.granularity, self.axis, self.group_size = granularity, axis, group_size
        self.stochastic, self.seed = stochastic, seed
        self.estimator, self.clip, self.reste_o, self.reste_t = estimator, clip, reste_o, reste_t

    def options(self):
        o = _ffi.new_options(_ffi.gradus_quant_options)
        o.bits = int(self.bits)
        o.format = _lookup(_FORMATS, self.format, "format")
        o.symmetric = 1 if self.symmetric else 0
        o.granularity = _lookup(_GRANULARITY, self.granularity, "granularity")
        o.channel_axis = int(self.axis)
        o.group_size = int(self.group_size)
        o.stochastic_rounding = 1 if self.stochastic else 0
        o.seed = int(self.seed)
        o.estimator = _lookup(_ESTIMATORS, self.estimator, "estimator")
        o.clip, o.reste_o, o.reste_t = float(self.clip), float(self.reste_o), float(self.reste_t)
        return o

    def __repr__(self):
        return (f"QuantConfig(bits={self.bits}, format={self.format!r}, symmetric={self.symmetric}, "
                f"granularity={self.granularity!r}, group_size={self.group_size}, estimator={self.estimator!r})")


def quantize(model, weights=None, activations=None):
    """Makes every Linear layer of ``model`` (a gradus.nn.Sequential) quantize its weight with ``weights`` and
    its input with ``activations`` in the forward pass (None: full precision; not both None). Parameters,
    their names and optimizers over them stay valid. Returns the model."""
    if weights is None and activations is None:
        weights = QuantConfig()
    wo = None if weights is None else weights.options()
    ao = None if activations is None else activations.options()
    _ffi.check(_ffi.gradus_model_quantize(model._h, None if wo is None else ctypes.byref(wo),
                                          None if ao is None else ctypes.byref(ao)))
    return model


def dequantize(model):
    """Back to full precision everywhere. Returns the model."""
    _ffi.check(_ffi.gradus_model_dequantize(model._h))
    return model


def quantized_layer_count(model):
    n = ctypes.c_size_t()
    _ffi.check(_ffi.gradus_model_quantized_layer_count(model._h, ctypes.byref(n)))
    return n.value


def fake_quantize(x, config=None):
    """dequant(quant(x)) per ``config`` (default INT8 per tensor), recorded for autodiff with its estimator."""
    x = as_tensor(x)
    o = (config or QuantConfig()).options()
    return _result(_ffi.gradus_tensor_fake_quantize, x._handle, ctypes.byref(o))


__all__ = ["QuantConfig", "dequantize", "fake_quantize", "quantize", "quantized_layer_count"]

"""gradus.nn: layers as specs, a Sequential model built by the library, and losses."""
import ctypes
import weakref

import numpy as np

from . import _ffi
from ._lifetime import Closeable
from .errors import INVALID_ARGUMENT, GradusError
from .tensor import Tensor, _result, as_tensor


class Layer:
    """A layer spec; models are built from a list of them (gradus_model_create)."""
    kind = None

    def options(self):
        o = _ffi.new_options(_ffi.gradus_layer_options, self.kind)
        return o

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    kind = _ffi.LAYER_LINEAR

    def __init__(self, in_features, out_features, bias=True):
        self.in_features, self.out_features, self.bias = int(in_features), int(out_features), bool(bias)

    def options(self):
        o = super().options()
        o.in_features, o.out_features, o.bias = self.in_features, self.out_features, int(self.bias)
        return o

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias})"


class ReLU(Layer): kind = _ffi.LAYER_RELU
class GELU(Layer): kind = _ffi.LAYER_GELU
class SiLU(Layer): kind = _ffi.LAYER_SILU
class Tanh(Layer): kind = _ffi.LAYER_TANH
class Sigmoid(Layer): kind = _ffi.LAYER_SIGMOID
class Flatten(Layer): kind = _ffi.LAYER_FLATTEN


class Dropout(Layer):
    kind = _ffi.LAYER_DROPOUT

    def __init__(self, p=0.5):
        self.p = float(p)

    def options(self):
        o = super().options()
        o.p = self.p
        return o


class LayerNorm(Layer):
    """Layer normalisation over the last dimension (``features`` wide), with weight and bias."""
    kind = _ffi.LAYER_LAYER_NORM

    def __init__(self, features, eps=1e-5):
        self.features, self.eps = int(features), float(eps)

    def options(self):
        o = super().options()
        o.in_features, o.eps = self.features, self.eps
        return o

    def __repr__(self):
        return f"LayerNorm({self.features}, eps={self.eps})"


class BatchNorm1d(Layer):
    """Batch normalisation over ``features`` channels of (N, C) or (N, C, L) inputs, like torch.nn.BatchNorm1d:
    batch statistics in training (``model.train()``), running statistics in evaluation (``model.eval()``); the
    running statistics are buffers saved with the model."""
    kind = _ffi.LAYER_BATCH_NORM

    def __init__(self, features, eps=1e-5, momentum=0.1):
        self.features, self.eps, self.momentum = int(features), float(eps), float(momentum)

    def options(self):
        o = super().options()
        o.in_features, o.eps, o.momentum = self.features, self.eps, self.momentum
        return o

    def __repr__(self):
        return f"{type(self).__name__}({self.features}, eps={self.eps}, momentum={self.momentum})"


class GhostBatchNorm(BatchNorm1d):
    """Ghost Batch Normalization (Hoffer, Hubara & Soudry 2017): in training the batch is cut into
    max(1, N // ghost_batch_size) consecutive chunks, each normalised with its own statistics; evaluation uses the
    running statistics as BatchNorm1d."""
    kind = _ffi.LAYER_GHOST_BATCH_NORM

    def __init__(self, features, ghost_batch_size=128, eps=1e-5, momentum=0.1):
        super().__init__(features, eps=eps, momentum=momentum)
        self.ghost_batch_size = int(ghost_batch_size)

    def options(self):
        o = super().options()
        o.ghost_batch_size = self.ghost_batch_size
        return o

    def __repr__(self):
        return (f"GhostBatchNorm({self.features}, ghost_batch_size={self.ghost_batch_size}, eps={self.eps}, "
                f"momentum={self.momentum})")


class Sequential(Closeable):
    """A model: the layers in order. Parameters are named "<index>.weight", "<index>.bias", ..."""

    def __init__(self, *layers, dtype=np.float32, seed=0):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = list(layers)
        specs = (_ffi.gradus_layer_options * max(len(layers), 1))(*[l.options() for l in layers])
        out = ctypes.c_void_p()
        dt = _ffi.DTYPE_FLOAT64 if np.dtype(dtype) == np.float64 else _ffi.DTYPE_FLOAT32
        _ffi.check(_ffi.gradus_model_create(specs, len(layers), dt, int(seed), ctypes.byref(out)))
        self._h = out
        self._finalizer = weakref.finalize(self, _ffi.gradus_model_destroy, out)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        x = as_tensor(x)  # a temporary must outlive the call
        return _result(_ffi.gradus_model_forward, self._h, x._handle)

    def named_parameters(self):
        n = ctypes.c_size_t()
        _ffi.check(_ffi.gradus_model_parameter_count(self._h, ctypes.byref(n)))
        out = []
        for i in range(n.value):
            size = ctypes.c_size_t()
            _ffi.check(_ffi.gradus_model_parameter_name(self._h, i, None, 0, ctypes.byref(size)))
            buf = ctypes.create_string_buffer(size.value + 1)
            _ffi.check(_ffi.gradus_model_parameter_name(self._h, i, buf, len(buf), ctypes.byref(size)))
            out.append((buf.value.decode(), _result(_ffi.gradus_model_parameter_get, self._h, i, parent=self)))
        return out

    def parameters(self):
        return [t for _, t in self.named_parameters()]

    def parameter(self, name):
        return _result(_ffi.gradus_model_parameter_find, self._h, name.encode(), parent=self)

    def state_dict(self):
        return {n: t.numpy() for n, t in self.named_parameters()}

    def train(self, mode=True):
        _ffi.check(_ffi.gradus_model_set_training(self._h, 1 if mode else 0))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        _ffi.check(_ffi.gradus_model_zero_grad(self._h))

    def save(self, path):
        _ffi.check(_ffi.gradus_model_save(self._h, str(path).encode()))

    def load(self, path):
        _ffi.check(_ffi.gradus_model_load(self._h, str(path).encode()))
        return self

    def __repr__(self):
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


_REDUCTIONS = {"mean": _ffi.REDUCTION_MEAN, "sum": _ffi.REDUCTION_SUM, "none": _ffi.REDUCTION_NONE}


def _labels(labels):
    """Class labels as a contiguous int32 vector; non-integers and values beyond int32 raise (a plain cast would
    wrap 2**32 to class 0)."""
    a = np.asarray(labels.numpy() if isinstance(labels, Tensor) else labels)
    if a.dtype.kind not in "biuf":
        raise GradusError(INVALID_ARGUMENT, f"labels must be integers, not {a.dtype}")
    if a.dtype.kind == "f" and not np.all(a == np.round(a)):
        raise GradusError(INVALID_ARGUMENT, "labels must be integers")
    if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
        raise GradusError(INVALID_ARGUMENT, "a label does not fit in int32")
    return np.ascontiguousarray(a, dtype=np.int32).reshape(-1)


def cross_entropy(logits, labels, reduction="mean"):
    lab = _labels(labels)
    logits = as_tensor(logits)
    return _result(_ffi.gradus_loss_cross_entropy, logits._handle,
                   lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), lab.size, _REDUCTIONS[reduction])


def mse_loss(prediction, target, reduction="mean"):
    p = as_tensor(prediction)
    t = as_tensor(target, dtype=p.dtype)
    return _result(_ffi.gradus_loss_mse, p._handle, t._handle, _REDUCTIONS[reduction])


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    p = as_tensor(logits)
    t = as_tensor(target, dtype=p.dtype)
    return _result(_ffi.gradus_loss_bce_with_logits, p._handle, t._handle,
                   _REDUCTIONS[reduction])


def stablemax_cross_entropy(logits, labels, reduction="mean", dtype=None):
    """StableMax cross-entropy (Prieto et al. 2025): s(x) = x + 1 for x >= 0, 1/(1 - x) below, in place of exp.

    dtype: the computation and result dtype; np.float64 as the official code, None for the logits' dtype.
    """
    lab = _labels(labels)
    logits = as_tensor(logits)
    code = _ffi.DTYPE_FLOAT64 if np.dtype(dtype or logits.dtype) == np.float64 else _ffi.DTYPE_FLOAT32
    return _result(_ffi.gradus_loss_stablemax_cross_entropy, logits._handle,
                   lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), lab.size, _REDUCTIONS[reduction], code)


def z_loss(logits, coefficient=1e-4):
    """coefficient * mean over rows of logsumexp(logits)^2 (PaLM's z-loss); add it to the cross-entropy."""
    logits = as_tensor(logits)
    return _result(_ffi.gradus_loss_z_loss, logits._handle, float(coefficient))


def accuracy(logits, labels):
    lab = _labels(labels)
    out = ctypes.c_double()
    logits = as_tensor(logits)
    _ffi.check(_ffi.gradus_accuracy(logits._handle, lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                                    lab.size, ctypes.byref(out)))
    return out.value


class CrossEntropyLoss:
    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def __call__(self, logits, labels):
        return cross_entropy(logits, labels, self.reduction)


class MSELoss:
    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def __call__(self, prediction, target):
        return mse_loss(prediction, target, self.reduction)

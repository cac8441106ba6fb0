"""gradus.Tensor: a PyTorch-shaped wrapper over a gradus_tensor handle."""
import ctypes
import threading
import weakref

import numpy as np

from . import _ffi
from .errors import GradusError

_DTYPES = {np.dtype(np.float32): _ffi.DTYPE_FLOAT32, np.dtype(np.float64): _ffi.DTYPE_FLOAT64}
_NP = {_ffi.DTYPE_FLOAT32: np.float32, _ffi.DTYPE_FLOAT64: np.float64}
float32, float64 = np.float32, np.float64

# Arrays lent to the library by from_numpy, kept alive until the library's deleter says it is done.
_lent = {}
_lent_lock = threading.Lock()
_lent_next = [1]


def _release(_data, user_data):
    with _lent_lock:
        _lent.pop(user_data or 0, None)


_deleter = _ffi.gradus_deleter(_release)  # module-level: must outlive every wrapped tensor


def _shape_arg(shape):
    shape = tuple(int(d) for d in shape)
    return (ctypes.c_int64 * max(len(shape), 1))(*shape), len(shape)


def _destroy(handle):
    _ffi.gradus_tensor_destroy(handle)


class Tensor:
    """An N-d float32/float64 array with reverse-mode autodiff. Create with gradus.tensor / gradus.from_numpy.
    Freed by close(), a with-block, or garbage collection."""

    __slots__ = ("_h", "_finalizer", "_parent", "__weakref__")

    def __init__(self, handle, parent=None):
        if not handle:
            raise GradusError(11, "NULL tensor handle")
        self._h = ctypes.c_void_p(handle)
        self._parent = parent  # children keep parents alive (parameters -> model, views -> base array)
        self._finalizer = weakref.finalize(self, _destroy, self._h)

    # ---- lifetime ----
    def close(self):
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def _handle(self):
        if not self._finalizer.alive:
            raise GradusError(8, "tensor is closed")
        return self._h

    # ---- queries ----
    @property
    def shape(self):
        dims = (ctypes.c_int64 * _ffi.MAX_RANK)()
        nd = ctypes.c_int32()
        _ffi.check(_ffi.gradus_tensor_shape(self._handle, dims, _ffi.MAX_RANK, ctypes.byref(nd)))
        return tuple(dims[i] for i in range(nd.value))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def dtype(self):
        d = _ffi.gradus_dtype()
        _ffi.check(_ffi.gradus_tensor_dtype(self._handle, ctypes.byref(d)))
        return np.dtype(_NP[d.value])

    def numel(self):
        n = ctypes.c_int64()
        _ffi.check(_ffi.gradus_tensor_numel(self._handle, ctypes.byref(n)))
        return n.value

    def __len__(self):
        s = self.shape
        if not s:
            raise TypeError("len() of a 0-d tensor")
        return s[0]

    def numpy(self):
        """A copy of the values as a numpy array."""
        out = np.empty(self.shape, dtype=self.dtype)
        _ffi.check(_ffi.gradus_tensor_copy_to(self._handle, out.ctypes.data_as(ctypes.c_void_p), out.nbytes))
        return out

    def item(self):
        a = self.numpy()
        if a.size != 1:
            raise ValueError(f"item() needs one element, the tensor has {a.size}")
        return float(a.reshape(()))

    def tolist(self):
        return self.numpy().tolist()

    def __repr__(self):
        try:
            return f"gradus.tensor({self.numpy()!r}, requires_grad={self.requires_grad})"
        except GradusError:
            return "gradus.tensor(<closed>)"

    # ---- autodiff ----
    @property
    def requires_grad(self):
        v = ctypes.c_int32()
        _ffi.check(_ffi.gradus_tensor_requires_grad(self._handle, ctypes.byref(v)))
        return bool(v.value)

    @requires_grad.setter
    def requires_grad(self, flag):
        _ffi.check(_ffi.gradus_tensor_set_requires_grad(self._handle, 1 if flag else 0))

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    def backward(self):
        _ffi.check(_ffi.gradus_tensor_backward(self._handle))

    @property
    def grad(self):
        out = ctypes.c_void_p()
        _ffi.check(_ffi.gradus_tensor_grad(self._handle, ctypes.byref(out)))
        return Tensor(out.value) if out.value else None

    @grad.setter
    def grad(self, value):
        if value is None:
            _ffi.check(_ffi.gradus_tensor_set_grad(self._handle, None))
        else:
            g = as_tensor(value, dtype=self.dtype)  # keep the temporary alive across the call
            _ffi.check(_ffi.gradus_tensor_set_grad(self._handle, g._handle))

    def detach(self):
        return _result(_ffi.gradus_tensor_detach, self._handle, parent=self._parent)

    # ---- operations ----
    def _unary(self, op):
        return _result(_ffi.gradus_tensor_unary, op, self._handle)

    def _binary(self, op, other, reverse=False):
        other = as_tensor(other, dtype=self.dtype)
        a, b = (other, self) if reverse else (self, other)
        return _result(_ffi.gradus_tensor_binary, op, a._handle, b._handle)

    def __add__(self, o):
        if isinstance(o, (int, float)):
            return self.affine(1.0, float(o))
        return self._binary(_ffi.BINARY_OP_ADD, o)

    def __radd__(self, o):
        return self.__add__(o)

    def __sub__(self, o):
        if isinstance(o, (int, float)):
            return self.affine(1.0, -float(o))
        return self._binary(_ffi.BINARY_OP_SUB, o)

    def __rsub__(self, o):
        if isinstance(o, (int, float)):
            return self.affine(-1.0, float(o))
        return self._binary(_ffi.BINARY_OP_SUB, o, reverse=True)

    def __mul__(self, o):
        if isinstance(o, (int, float)):
            return self.affine(float(o), 0.0)
        return self._binary(_ffi.BINARY_OP_MUL, o)

    def __rmul__(self, o):
        return self.__mul__(o)

    def __truediv__(self, o):
        if isinstance(o, (int, float)):
            return self.affine(1.0 / float(o), 0.0)
        return self._binary(_ffi.BINARY_OP_DIV, o)

    def __rtruediv__(self, o):
        return self._binary(_ffi.BINARY_OP_DIV, o, reverse=True)

    def __pow__(self, o):
        return self._binary(_ffi.BINARY_OP_POW, o)

    def __neg__(self):
        return self._unary(_ffi.UNARY_OP_NEG)

    def __matmul__(self, o):
        o = as_tensor(o, dtype=self.dtype)
        return _result(_ffi.gradus_tensor_matmul, self._handle, o._handle)

    def __rmatmul__(self, o):
        o = as_tensor(o, dtype=self.dtype)
        return _result(_ffi.gradus_tensor_matmul, o._handle, self._handle)

    def affine(self, scale, shift):
        return _result(_ffi.gradus_tensor_affine, self._handle, float(scale), float(shift))

    def maximum(self, o):
        return self._binary(_ffi.BINARY_OP_MAXIMUM, o)

    def minimum(self, o):
        return self._binary(_ffi.BINARY_OP_MINIMUM, o)

    def exp(self): return self._unary(_ffi.UNARY_OP_EXP)
    def log(self): return self._unary(_ffi.UNARY_OP_LOG)
    def sqrt(self): return self._unary(_ffi.UNARY_OP_SQRT)
    def abs(self): return self._unary(_ffi.UNARY_OP_ABS)
    def square(self): return self._unary(_ffi.UNARY_OP_SQUARE)
    def relu(self): return self._unary(_ffi.UNARY_OP_RELU)
    def sigmoid(self): return self._unary(_ffi.UNARY_OP_SIGMOID)
    def tanh(self): return self._unary(_ffi.UNARY_OP_TANH)
    def gelu(self): return self._unary(_ffi.UNARY_OP_GELU)
    def silu(self): return self._unary(_ffi.UNARY_OP_SILU)
    def sin(self): return self._unary(_ffi.UNARY_OP_SIN)
    def cos(self): return self._unary(_ffi.UNARY_OP_COS)

    def _reduce(self, fn, axis, keepdims):
        if axis is None:
            axes, n = None, 0
        else:
            axis = (axis,) if isinstance(axis, int) else tuple(axis)
            axes, n = (ctypes.c_int32 * len(axis))(*axis), len(axis)
        return _result(fn, self._handle, axes, n, 1 if keepdims else 0)

    def sum(self, axis=None, keepdims=False):
        return self._reduce(_ffi.gradus_tensor_sum, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return self._reduce(_ffi.gradus_tensor_mean, axis, keepdims)

    def softmax(self, axis=-1):
        return _result(_ffi.gradus_tensor_softmax, self._handle, int(axis), 0)

    def log_softmax(self, axis=-1):
        return _result(_ffi.gradus_tensor_softmax, self._handle, int(axis), 1)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        dims, nd = _shape_arg(shape)
        return _result(_ffi.gradus_tensor_reshape, self._handle, dims, nd, parent=self._parent)

    def transpose(self, a=-2, b=-1):
        return _result(_ffi.gradus_tensor_transpose, self._handle, int(a), int(b), parent=self._parent)

    @property
    def T(self):
        return self.transpose(-2, -1)

    def argmax(self, axis=-1):
        if axis not in (-1, self.ndim - 1):
            raise ValueError("argmax is supported along the last axis")
        s = self.shape
        rows = int(np.prod(s[:-1])) if len(s) > 1 else 1
        out = np.empty(rows, dtype=np.int64)
        _ffi.check(_ffi.gradus_tensor_argmax(self._handle, out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), rows))
        return out.reshape(s[:-1])

    def add_(self, other, alpha=1.0):
        """In place, not recorded: self += alpha * other."""
        other = as_tensor(other, dtype=self.dtype)
        _ffi.check(_ffi.gradus_tensor_axpy(self._handle, float(alpha), other._handle))
        return self

    def copy_(self, values):
        a = np.ascontiguousarray(values, dtype=self.dtype)
        _ffi.check(_ffi.gradus_tensor_copy_from(self._handle, a.ctypes.data_as(ctypes.c_void_p), a.nbytes))
        return self


def _result(fn, *args, parent=None):
    out = ctypes.c_void_p()
    _ffi.check(fn(*args, ctypes.byref(out)))
    return Tensor(out.value, parent)


def tensor(data, requires_grad=False, dtype=None):
    """A new tensor holding a copy of data (array-like); dtype float32 unless data is float64 or dtype says."""
    if isinstance(data, Tensor):
        data = data.numpy()
    a = np.asarray(data)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"cannot make a gradus tensor from {a.dtype} data")
    if dtype is None:
        dtype = np.float64 if a.dtype == np.float64 else np.float32
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.dtype not in _DTYPES:
        raise TypeError(f"gradus tensors are float32 or float64, not {a.dtype}")
    dims, nd = _shape_arg(a.shape)
    t = _result(_ffi.gradus_tensor_create_copy, a.ctypes.data_as(ctypes.c_void_p), dims, nd, _DTYPES[a.dtype])
    if requires_grad:
        t.requires_grad = True
    return t


def full(shape, value, dtype=np.float32, requires_grad=False):
    dims, nd = _shape_arg(shape)
    t = _result(_ffi.gradus_tensor_create_full, dims, nd, _DTYPES[np.dtype(dtype)], float(value))
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(shape, dtype=np.float32, requires_grad=False):
    return full(shape, 0.0, dtype, requires_grad)


def ones(shape, dtype=np.float32, requires_grad=False):
    return full(shape, 1.0, dtype, requires_grad)


def from_numpy(array):
    """A tensor sharing the numpy array's memory (no copy): writes through either side are visible to both.
    The array must be C-contiguous float32/float64 and is kept alive until the library releases it."""
    if not isinstance(array, np.ndarray):
        raise TypeError("from_numpy needs a numpy.ndarray")
    if array.dtype not in _DTYPES:
        raise TypeError(f"gradus tensors are float32 or float64, not {array.dtype}")
    if not array.flags.c_contiguous:
        raise ValueError("from_numpy needs a C-contiguous array (use numpy.ascontiguousarray)")
    if not array.flags.writeable:
        raise ValueError("from_numpy needs a writeable array")
    with _lent_lock:
        key = _lent_next[0]
        _lent_next[0] += 1
        _lent[key] = array
    dims, nd = _shape_arg(array.shape)
    data = array.ctypes.data if array.size else ctypes.addressof(ctypes.c_double())
    try:
        return _result(_ffi.gradus_tensor_wrap, ctypes.c_void_p(data), dims, nd, _DTYPES[array.dtype], _deleter,
                       ctypes.c_void_p(key), parent=array)
    except Exception:
        with _lent_lock:
            _lent.pop(key, None)
        raise


def as_tensor(value, dtype=None):
    if isinstance(value, Tensor):
        return value
    return tensor(value, dtype=dtype)


class no_grad:
    """Context manager (and decorator) that turns autodiff recording off on the calling thread."""

    def __enter__(self):
        _ffi.gradus_no_grad_begin()
        return self

    def __exit__(self, *exc):
        _ffi.check(_ffi.gradus_no_grad_end())

    def __call__(self, fn):
        def wrapped(*a, **k):
            with no_grad():
                return fn(*a, **k)
        wrapped.__name__ = getattr(fn, "__name__", "wrapped")
        return wrapped


def is_grad_enabled():
    v = ctypes.c_int32()
    _ffi.check(_ffi.gradus_grad_is_enabled(ctypes.byref(v)))
    return bool(v.value)

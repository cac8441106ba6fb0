"""gradus.Tensor: a PyTorch-shaped wrapper over a gradus_tensor handle.

The hot paths (queries, operators) call the C function directly: function pointers are module globals, the
handle is a ready ``c_void_p`` attribute, and nothing is validated in Python that the library validates anyway
(the handle registry answers closed, stale and foreign handles). Out-parameters are passed as ctypes objects
(the POINTER argtypes take them by reference in C, without a Python-level byref). Results are built without
__init__ and freed by __del__ (a weakref.finalize per tensor costs ~3 us). The failure path alone builds the
exception.
``python bindings/python/benchmarks/bench_overhead.py`` measures the cost over raw ctypes.
"""
import ctypes
import itertools
from ctypes import byref, c_int32, c_int64, c_void_p

import numpy as np

from . import _ffi
from .errors import INTERNAL, INVALID_HANDLE, GradusError

_DTYPES = {np.dtype(np.float32): _ffi.DTYPE_FLOAT32, np.dtype(np.float64): _ffi.DTYPE_FLOAT64}
_NP = {_ffi.DTYPE_FLOAT32: np.dtype(np.float32), _ffi.DTYPE_FLOAT64: np.dtype(np.float64)}
float32, float64 = np.float32, np.float64

# Hot-path entry points, looked up once (a module global is one dict lookup, `_ffi.name` two).
_c_destroy = _ffi.gradus_tensor_destroy
_c_ndim = _ffi.gradus_tensor_ndim
_c_shape = _ffi.gradus_tensor_shape
_c_dtype = _ffi.gradus_tensor_dtype
_c_numel = _ffi.gradus_tensor_numel
_c_copy_to = _ffi.gradus_tensor_copy_to
_c_unary = _ffi.gradus_tensor_unary
_c_binary = _ffi.gradus_tensor_binary
_c_affine = _ffi.gradus_tensor_affine
_c_matmul = _ffi.gradus_tensor_matmul
_MAX_RANK = _ffi.MAX_RANK
_Dims = c_int64 * _MAX_RANK
_ADD, _SUB, _MUL, _DIV = _ffi.BINARY_OP_ADD, _ffi.BINARY_OP_SUB, _ffi.BINARY_OP_MUL, _ffi.BINARY_OP_DIV

# Arrays lent to the library by from_numpy, by key, kept alive until the library's deleter says it is done.
# No lock: next() on a count and single dict/list operations are atomic, and the deleter may run inside a
# garbage collection triggered anywhere (even while another from_numpy is half-way).
_lent = {}
_lent_keys = itertools.count(1)
# The data pointers the library handed back to the deleter, newest last (zero-copy evidence for tests and
# benchmarks: it equals the numpy array's own data pointer).
_released_pointers = []


def _release(data, user_data):
    _lent.pop(user_data or 0, None)
    _released_pointers.append(data or 0)
    del _released_pointers[:-16]


_deleter = _ffi.gradus_deleter(_release)  # module-level: must outlive every wrapped tensor


def _shape_arg(shape):
    shape = tuple(shape)
    return _ffi.int_array(c_int64, shape, "shape entry"), len(shape)


def _error(status, *tensors):
    """The exception for a failed call (the success path never builds one)."""
    for t in tensors:
        if isinstance(t, Tensor) and t._h is None:
            return GradusError(INVALID_HANDLE, "tensor is closed")
    return GradusError(status, _ffi.last_error_message())



_new = object.__new__


def _binary_method(op, scalar=None):
    """A Tensor method for gradus_binary_op `op`: Tensor (op) Tensor is one C call (the hot path, nothing
    converted or validated in Python); a Python number goes to scalar(self, float) when given (one affine op);
    anything else is converted with as_tensor first."""
    def method(self, other):
        if other.__class__ is Tensor:
            out = c_void_p()
            status = _c_binary(op, self._h, other._h, out)
            if status:
                raise _error(status, self, other)
            t = _new(Tensor)
            t._h = out
            return t
        if scalar is not None and isinstance(other, (int, float)):
            return scalar(self, float(other))
        return method(self, as_tensor(other, dtype=self.dtype))
    return method


class Tensor:
    """An N-d float32/float64 array with reverse-mode autodiff. Create with gradus.tensor / gradus.from_numpy.
    Freed by close(), a with-block, or garbage collection."""

    # _h: the handle (c_void_p), None once closed. _parent: an object kept alive with the tensor (unset on the
    # fast paths' results, read through getattr).
    __slots__ = ("_h", "_parent", "__weakref__")

    def __init__(self, handle, parent=None):
        """handle: a gradus_tensor (int or c_void_p) this object takes over; parent: kept alive with it."""
        if not isinstance(handle, c_void_p):
            handle = c_void_p(handle)
        if not handle.value:
            raise GradusError(INTERNAL, "NULL tensor handle")
        self._h = handle  # None once closed: the library then answers INVALID_HANDLE for NULL
        self._parent = parent  # children keep parents alive (parameters -> model, views -> base array)

    # ---- lifetime ----
    def close(self):
        """Frees the handle now (idempotent). Garbage collection does the same later otherwise."""
        h = self._h
        if h is not None:
            self._h = None
            _c_destroy(h)

    def __del__(self):
        try:
            h = self._h
        except AttributeError:  # __init__ raised before setting it
            return
        if h is not None:
            try:
                _c_destroy(h)
            except Exception:  # interpreter shutdown: module globals may already be gone
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def _handle(self):
        h = self._h
        if h is None:
            raise GradusError(INVALID_HANDLE, "tensor is closed")
        return h

    # ---- queries ----
    @property
    def shape(self):
        dims = _Dims()
        nd = c_int32()
        status = _c_shape(self._h, dims, _MAX_RANK, nd)
        if status:
            raise _error(status, self)
        return tuple(dims[:nd.value])

    @property
    def ndim(self):
        n = c_int32()
        status = _c_ndim(self._h, n)
        if status:
            raise _error(status, self)
        return n.value

    @property
    def dtype(self):
        d = c_int32()
        status = _c_dtype(self._h, d)
        if status:
            raise _error(status, self)
        return _NP[d.value]

    def numel(self):
        n = c_int64()
        status = _c_numel(self._h, n)
        if status:
            raise _error(status, self)
        return n.value

    def __len__(self):
        s = self.shape
        if not s:
            raise TypeError("len() of a 0-d tensor")
        return s[0]

    def numpy(self):
        """A copy of the values as a numpy array."""
        out = np.empty(self.shape, dtype=self.dtype)
        status = _c_copy_to(self._h, out.ctypes.data, out.nbytes)
        if status:
            raise _error(status, self)
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
        return _result(_ffi.gradus_tensor_detach, self._handle, parent=getattr(self, "_parent", None))

    # ---- operations ----
    # Tensor (op) Tensor is the fast path: one C call, no dtype query, no conversion.
    def _unary(self, op):
        out = c_void_p()
        status = _c_unary(op, self._h, out)
        if status:
            raise _error(status, self)
        t = _new(Tensor)
        t._h = out
        return t

    __add__ = _binary_method(_ADD, lambda t, v: t.affine(1.0, v))
    __radd__ = __add__
    __sub__ = _binary_method(_SUB, lambda t, v: t.affine(1.0, -v))
    __mul__ = _binary_method(_MUL, lambda t, v: t.affine(v, 0.0))
    __rmul__ = __mul__
    __truediv__ = _binary_method(_DIV, lambda t, v: t.affine(1.0 / v, 0.0))
    __pow__ = _binary_method(_ffi.BINARY_OP_POW)
    maximum = _binary_method(_ffi.BINARY_OP_MAXIMUM)
    minimum = _binary_method(_ffi.BINARY_OP_MINIMUM)

    def __rsub__(self, o):
        if isinstance(o, (int, float)):
            return self.affine(-1.0, float(o))
        return as_tensor(o, dtype=self.dtype).__sub__(self)

    def __rtruediv__(self, o):
        return as_tensor(o, dtype=self.dtype).__truediv__(self)

    def __neg__(self):
        return self._unary(_ffi.UNARY_OP_NEG)

    def __matmul__(self, o):
        if o.__class__ is not Tensor:
            o = as_tensor(o, dtype=self.dtype)
        out = c_void_p()
        status = _c_matmul(self._h, o._h, out)
        if status:
            raise _error(status, self, o)
        t = _new(Tensor)
        t._h = out
        return t

    def __rmatmul__(self, o):
        return as_tensor(o, dtype=self.dtype).__matmul__(self)

    def affine(self, scale, shift):
        """scale * self + shift (recorded)."""
        out = c_void_p()
        status = _c_affine(self._h, float(scale), float(shift), out)
        if status:
            raise _error(status, self)
        t = _new(Tensor)
        t._h = out
        return t

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
            axes, n = _ffi.int_array(ctypes.c_int32, axis, "axis"), len(axis)
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
        return _result(_ffi.gradus_tensor_reshape, self._handle, dims, nd, parent=getattr(self, "_parent", None))

    def transpose(self, a=-2, b=-1):
        return _result(_ffi.gradus_tensor_transpose, self._handle, int(a), int(b),
                       parent=getattr(self, "_parent", None))

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
    """Calls fn(*args, &out) and wraps out; raises GradusError on a non-OK status."""
    out = c_void_p()
    status = fn(*args, byref(out))  # byref: right whether fn declares the out-argument as a pointer or void *
    if status:
        raise GradusError(status, _ffi.last_error_message())
    return Tensor(out, parent)


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


_c_wrap = _ffi.gradus_tensor_wrap
_c_char_from_buffer = ctypes.c_char.from_buffer
_addressof = ctypes.addressof
_empty = ctypes.c_double()  # the (aligned, never read) data pointer lent for arrays with no elements


def from_numpy(array):
    """A tensor sharing the numpy array's memory (no copy): writes through either side are visible to both.
    The array must be C-contiguous float32/float64 and is kept alive until the library releases it.
    Costs the same for any size (`make bench-python` times 10K against 1M elements)."""
    if not isinstance(array, np.ndarray):
        raise TypeError("from_numpy needs a numpy.ndarray")
    dtype = _DTYPES.get(array.dtype)
    if dtype is None:
        raise TypeError(f"gradus tensors are float32 or float64, not {array.dtype}")
    flags = array.flags
    if not flags.c_contiguous:
        raise ValueError("from_numpy needs a C-contiguous array (use numpy.ascontiguousarray)")
    if not flags.writeable:
        raise ValueError("from_numpy needs a writeable array")
    nd = array.ndim
    dims = (c_int64 * (nd or 1))(*array.shape)
    # The buffer's address, without numpy's (slower) array.ctypes; the temporary export ends at once.
    data = _addressof(_c_char_from_buffer(array)) if array.size else _addressof(_empty)
    key = next(_lent_keys)
    _lent[key] = array
    out = c_void_p()
    status = _c_wrap(data, dims, nd, dtype, _deleter, key, out)
    if status:
        _lent.pop(key, None)  # on failure the deleter is not called
        raise GradusError(status, _ffi.last_error_message())
    t = _new(Tensor)
    t._h = out
    t._parent = array
    return t


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

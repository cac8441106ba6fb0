"""Wrong calls through the raw C API and the Python layer: each returns its documented status, none crashes."""
import ctypes

import numpy as np

import pytest

import gradus
from gradus import _ffi, errors

INVALID = errors.INVALID_ARGUMENT


@pytest.mark.parametrize("n", [-1, -2**31, 4097, 2**31 - 1])
def test_bad_thread_counts(n):
    assert _ffi.gradus_context_set_num_threads(n) == INVALID
    with pytest.raises(gradus.GradusError) as e:
        gradus.set_num_threads(n)
    assert e.value.status == INVALID


@pytest.mark.parametrize("field,value", [
    ("struct_size", 0), ("struct_size", 3), ("struct_size", 2**40),
    ("num_threads", -1), ("num_threads", 4097), ("blas_threads", -1), ("numa_policy", 5), ("numa_policy", -2**31),
    ("pin_mode", 3), ("pin_mode", -1), ("wait_policy", 4), ("spin_us", -1), ("spin_us", 1000001),
    ("cpu_count", 2),
])
def test_bad_options(field, value):
    opts = _ffi.new_options(_ffi.gradus_context_options)
    setattr(opts, field, value)
    assert _ffi.gradus_context_configure(opts) == INVALID
    assert _ffi.last_error_message()


def test_null_pointers():
    assert _ffi.gradus_context_configure(None) == INVALID
    assert _ffi.gradus_context_num_threads(None) == INVALID
    assert _ffi.gradus_context_describe(None, 0, None) == INVALID
    n = ctypes.c_size_t()
    assert _ffi.gradus_context_describe(None, 16, ctypes.byref(n)) == INVALID
    _ffi.gradus_context_options_init(None)  # the 0.1.0 symbol: a documented no-op
    assert _ffi.gradus_context_options_init_sized(None, ctypes.sizeof(_ffi.gradus_context_options)) == INVALID
    assert _ffi.last_error_message()


@pytest.mark.parametrize("cpus", [[-1], [8192], [8191], [10**6]])
def test_bad_cpu_lists(cpus):
    with pytest.raises((gradus.GradusError, OverflowError)) as e:
        gradus.configure(num_threads=1, cpus=cpus)
    if isinstance(e.value, gradus.GradusError):
        assert e.value.status == INVALID


def test_bad_python_arguments():
    with pytest.raises(ValueError):
        gradus.configure(numa="sideways")
    with pytest.raises(gradus.GradusError):
        gradus.configure(numa=7)
    with pytest.raises(ctypes.ArgumentError):
        _ffi.gradus_context_set_num_threads("two")


def test_truncated_describe_is_terminated():
    buf = ctypes.create_string_buffer(5)
    n = ctypes.c_size_t()
    assert _ffi.gradus_context_describe(buf, 5, ctypes.byref(n)) == 0
    assert n.value > 5 and len(buf.value) == 4


# ---- tensors, autodiff, models, data: wrong calls raise GradusError (or a Python error), never crash ----

def status_of(fn, *args):
    with pytest.raises(gradus.GradusError) as e:
        fn(*args)
    return e.value.status


def test_bad_tensor_calls():
    a = gradus.tensor(np.ones((2, 3), np.float32))
    b = gradus.tensor(np.ones((3, 2), np.float32))
    d = gradus.tensor(np.ones((2, 3)), dtype=np.float64)
    assert status_of(lambda: a + b) == errors.SHAPE_MISMATCH
    assert status_of(lambda: a + d) == errors.DTYPE_MISMATCH
    assert status_of(lambda: a @ a) == errors.SHAPE_MISMATCH
    assert status_of(lambda: a.reshape(5)) == errors.SHAPE_MISMATCH
    assert status_of(lambda: a.sum(axis=3)) == INVALID
    assert status_of(lambda: a.sum(axis=(0, 0))) == INVALID
    assert status_of(lambda: a.softmax(axis=9)) == INVALID
    assert status_of(lambda: a.transpose(0, 5)) == INVALID
    assert status_of(a.backward) == errors.SHAPE_MISMATCH
    assert status_of(lambda: a.sum().backward()) == errors.INVALID_STATE
    with pytest.raises(gradus.GradusError):
        a.grad = np.ones((3, 3), np.float32)
    assert status_of(lambda: a._unary(99)) == INVALID
    with pytest.raises(TypeError):
        gradus.tensor(np.ones(3, dtype=np.int64).astype(np.complex64))
    with pytest.raises(ValueError):
        gradus.from_numpy(np.ones((4, 4), np.float32)[:, ::2])
    with pytest.raises(TypeError):
        gradus.from_numpy([1.0, 2.0])


def test_raw_handle_misuse():
    out = ctypes.c_void_p()
    assert _ffi.gradus_tensor_unary(0, None, ctypes.byref(out)) == errors.INVALID_HANDLE
    assert _ffi.gradus_tensor_unary(0, 0xdeadbeef0, ctypes.byref(out)) == errors.INVALID_HANDLE
    t = gradus.tensor([1.0])
    h = t._h.value
    t.close()
    assert _ffi.gradus_tensor_destroy(h) == errors.INVALID_HANDLE        # double free
    assert _ffi.gradus_tensor_backward(h) == errors.INVALID_HANDLE       # stale
    m = gradus.nn.Sequential(gradus.nn.Linear(2, 2))
    assert _ffi.gradus_tensor_destroy(m._h) == errors.INVALID_HANDLE     # a model is not a tensor
    assert _ffi.gradus_model_forward(m._h, None, ctypes.byref(out)) == errors.INVALID_HANDLE
    assert _ffi.gradus_no_grad_end() == errors.INVALID_STATE


def test_bad_models_and_data():
    with pytest.raises(gradus.GradusError) as e:
        gradus.nn.Sequential(gradus.nn.Linear(0, 3))
    assert e.value.status == INVALID
    with pytest.raises(gradus.GradusError):
        gradus.nn.Sequential(gradus.nn.Dropout(1.5))
    with pytest.raises(gradus.GradusError):
        gradus.nn.Sequential()
    m = gradus.nn.Sequential(gradus.nn.Linear(2, 3))
    assert status_of(lambda: m(gradus.tensor(np.ones((4, 5), np.float32)))) == errors.SHAPE_MISMATCH
    assert status_of(lambda: m(gradus.tensor(np.ones((4, 2)), dtype=np.float64))) == errors.DTYPE_MISMATCH
    logits = m(gradus.tensor(np.ones((4, 2), np.float32)))
    assert status_of(lambda: gradus.nn.cross_entropy(logits, [0, 1, 2, 3])) == INVALID
    assert status_of(lambda: gradus.nn.cross_entropy(logits, [0, 1])) == errors.SHAPE_MISMATCH
    assert status_of(lambda: m.load("/nonexistent/x.safetensors")) in (errors.IO_ERROR, errors.NOT_FOUND)
    assert status_of(lambda: gradus.data.synthetic("xor", 0)) == INVALID
    assert status_of(lambda: gradus.data.fashion_mnist("test", directory="/nonexistent")) == errors.NOT_FOUND
    ds = gradus.data.synthetic("xor", 8)
    assert status_of(lambda: ds.batch(8, 1)) == INVALID


@pytest.mark.parametrize("value", [2**31, 2**32 + 1, -2**31 - 1, 2**70])
def test_out_of_range_integers_raise_instead_of_wrapping(value):
    # plain ctypes would pass 2**32 + 1 as 1 and 2**70 as 0 (automatic): both must be refused
    with pytest.raises(ctypes.ArgumentError, match="does not fit in int32"):
        _ffi.gradus_context_set_num_threads(value)
    opts = _ffi.new_options(_ffi.gradus_context_options)
    with pytest.raises(gradus.GradusError, match="num_threads") as e:
        opts.num_threads = value
    assert e.value.status == INVALID
    t = gradus.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    with pytest.raises(gradus.GradusError, match="axis"):
        t.sum(axis=value)
    with pytest.raises(gradus.GradusError, match="int32"):
        gradus.nn.cross_entropy(gradus.tensor(np.zeros((2, 3), np.float32)), np.array([max(min(value, 2**62), -2**62), 1]))


def test_in_range_extremes_still_reach_the_library():
    assert _ffi.gradus_context_set_num_threads(2**31 - 1) == INVALID  # in range for int32, refused by the library
    with pytest.raises(gradus.GradusError):
        gradus.tensor(np.zeros(3, np.float32)).reshape(2**63 - 1)
    with pytest.raises(gradus.GradusError, match="shape entry"):
        gradus.tensor(np.zeros(3, np.float32)).reshape(2**63)


def test_options_init_writes_only_the_callers_struct():
    # A caller whose struct is the 0.1.0 layout (no multipliers): nothing past it is written, struct_size says so.
    full = ctypes.sizeof(_ffi.gradus_optimizer_options)
    v1 = _ffi.gradus_optimizer_options.multipliers.offset
    buf = (ctypes.c_ubyte * (full + 16))(*([0xAB] * (full + 16)))
    ptr = ctypes.cast(buf, ctypes.POINTER(_ffi.gradus_optimizer_options))
    assert _ffi.gradus_optimizer_options_init_sized(ptr, v1) == 0
    assert ctypes.c_size_t.from_buffer(buf).value == v1
    assert ctypes.c_double.from_buffer(buf, ctypes.sizeof(ctypes.c_size_t)).value == 1e-3
    assert all(b == 0xAB for b in buf[v1:])
    assert _ffi.gradus_optimizer_options_init_sized(ptr, v1 - 8) == INVALID
    assert "options_size" in _ffi.last_error_message()
    # The bindings' own structs always go through the sized init.
    o = _ffi.new_options(_ffi.gradus_optimizer_options)
    assert o.struct_size == full and o.lr == 1e-3 and o.multiplier_count == 0

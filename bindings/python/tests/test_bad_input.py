"""Wrong calls through the raw C API and the Python layer: each returns its documented status, none crashes."""
import ctypes

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
    opts = _ffi.gradus_context_options()
    _ffi.gradus_context_options_init(opts)
    setattr(opts, field, value)
    assert _ffi.gradus_context_configure(opts) == INVALID
    assert _ffi.last_error_message()


def test_null_pointers():
    assert _ffi.gradus_context_configure(None) == INVALID
    assert _ffi.gradus_context_num_threads(None) == INVALID
    assert _ffi.gradus_context_describe(None, 0, None) == INVALID
    n = ctypes.c_size_t()
    assert _ffi.gradus_context_describe(None, 16, ctypes.byref(n)) == INVALID
    _ffi.gradus_context_options_init(None)  # documented no-op


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

import threading

import pytest

import gradus
from gradus import _ffi, errors


def test_status_strings_match_the_python_names():
    for value, name in errors._NAMES.items():
        assert _ffi.gradus_status_string(value).decode() == "GRADUS_STATUS_" + name
    assert _ffi.gradus_status_string(-1) == b"GRADUS_STATUS_UNKNOWN"
    assert _ffi.gradus_status_string(2**31 - 1) == b"GRADUS_STATUS_UNKNOWN"


def test_error_carries_status_and_message():
    with pytest.raises(gradus.GradusError) as e:
        gradus.set_num_threads(-3)
    assert e.value.status == errors.INVALID_ARGUMENT
    assert e.value.status_name == "GRADUS_STATUS_INVALID_ARGUMENT"
    assert "num_threads" in e.value.message
    assert "num_threads" in str(e.value)


def test_clear_last_error():
    with pytest.raises(gradus.GradusError):
        gradus.set_num_threads(-1)
    assert _ffi.last_error_message() != ""
    _ffi.gradus_clear_last_error()
    assert _ffi.last_error_message() == ""


def test_error_messages_are_per_thread():
    barrier = threading.Barrier(2)
    seen = {}

    def worker(key, bad):
        opts = _ffi.new_options(_ffi.gradus_context_options)
        setattr(opts, bad, -7)
        for _ in range(200):
            assert _ffi.gradus_context_configure(opts) == errors.INVALID_ARGUMENT
            barrier.wait() if _ == 0 else None
            seen.setdefault(key, set()).add(_ffi.last_error_message().split(" ")[0])

    threads = [threading.Thread(target=worker, args=("a", "num_threads")),
               threading.Thread(target=worker, args=("b", "blas_threads"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": {"options->num_threads"}, "b": {"options->blas_threads"}}

import os
import re

import pytest

import gradus
from gradus import _ffi
from conftest import HEADER


def header_define(name):
    text = open(HEADER).read()
    return re.search(r"#define " + name + r" (\S+)", text).group(1)


def test_version_matches_the_header():
    if not os.path.exists(HEADER):
        pytest.skip("no checkout header")
    assert gradus.version_info() == tuple(int(header_define(f"GRADUS_VERSION_{p}")) for p in ("MAJOR", "MINOR", "PATCH"))
    assert gradus.version() == header_define("GRADUS_VERSION_STRING").strip('"')
    assert gradus.abi_version() == int(header_define("GRADUS_ABI_VERSION")) == _ffi.ABI_VERSION
    assert gradus.__version__ == gradus.version()


def test_threads_round_trip():
    gradus.set_num_threads(2)
    assert gradus.get_num_threads() == 2
    gradus.set_num_threads(1)
    assert gradus.get_num_threads() == 1
    gradus.set_num_threads(0)
    assert gradus.get_num_threads() >= 1


def test_configure_and_describe():
    gradus.configure(num_threads=2, numa="disabled", pin="never", wait="sleep", blas_threads=1)
    d = gradus.describe()
    assert d["threads"] == 2 and d["requested_policy"] == "disabled" and d["wait"] == "sleep"
    assert d["blas_threads"] == 1
    assert len(d["plan"]) == 2 and d["plan"][0]["pinned"] is False  # the caller's thread is never pinned
    assert len(d["topology"]) >= 1
    # only CPUs the process may run on
    allowed = os.sched_getaffinity(0)
    assert {e["cpu"] for e in d["plan"]} <= allowed
    first = min(allowed)
    gradus.configure(num_threads=1, cpus=[first])
    assert gradus.describe()["plan"][0]["cpu"] == first
    gradus.configure()
    assert gradus.describe()["requested_policy"] == "auto"


def test_caller_thread_is_never_pinned():
    before = os.sched_getaffinity(0)
    gradus.configure(num_threads=2, pin="always")
    gradus.configure()
    assert os.sched_getaffinity(0) == before


def test_dtype_sizes():
    assert _ffi.gradus_dtype_size(_ffi.DTYPE_FLOAT32) == 4
    assert _ffi.gradus_dtype_size(_ffi.DTYPE_FLOAT64) == 8


def test_every_header_function_is_declared():
    if not os.path.exists(HEADER):
        pytest.skip("no checkout header")
    text = re.sub(r"/\*.*?\*/", " ", open(HEADER).read(), flags=re.S)
    declared = set(re.findall(r"\b(gradus_[a-z0-9_]+)\s*\(", text))
    assert declared <= set(_ffi._FUNCTIONS), declared - set(_ffi._FUNCTIONS)
    for name in declared:
        fn = getattr(_ffi, name)
        assert fn.argtypes is not None, name

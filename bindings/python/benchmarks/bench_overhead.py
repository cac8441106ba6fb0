#!/usr/bin/env python3
"""Benchmark (not a test): what the Pythonic API costs over raw ctypes, and from_numpy's zero copy.

    make bench-python                       # against the staged library (build/prefix)
    GRADUS_LIBRARY=... python3 bindings/python/benchmarks/bench_overhead.py [--quick] [--wall]

Each row times one call two ways in the same run: through gradus' Pythonic API, and through a separate
ctypes function pointer to the same C function with the same argtypes/restype, doing the same work (the
out-parameter, the result value, destroying the result handle). Rounds alternate the two; the table gives
the median per-call time of each over the rounds and the median of the per-round differences (the
overhead). Goal (issue 3): overhead <= 1 us. Then from_numpy: the numpy data pointer against the pointer
the library hands back to the deleter, and from_numpy's time on 1M vs 10K float32 (a copy would scale).
"""
import ctypes
import os
import statistics
import sys
import time
import timeit
from ctypes import c_int32, c_int64, c_void_p

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("GRADUS_BENCH_INSTALLED") != "1":
    sys.path.insert(0, os.path.dirname(HERE))  # the checkout's bindings/python

import numpy as np  # noqa: E402

import gradus  # noqa: E402
from gradus import _ffi  # noqa: E402

GOAL_US = 1.0
TIMER = time.perf_counter if "--wall" in sys.argv else time.thread_time


def raw_function(name):
    """A fresh ctypes function pointer to `name` with the argtypes/restype the bindings declare."""
    restype, argtypes = _ffi._FUNCTIONS[name]
    fn = getattr(ctypes.CDLL(gradus.library_path), name)
    assert fn is not getattr(_ffi.lib, name)
    fn.restype, fn.argtypes = restype, argtypes
    return fn


def per_call(stmt, env, number, rounds):
    """Per-call seconds of each round, in CPU time of the calling thread: on this shared box other builds
    preempt us, and wall time would charge their time slices to whichever side was running."""
    t = timeit.Timer(stmt, timer=TIMER, globals=env)
    return [s / number for s in t.repeat(repeat=rounds, number=number)]


def compare(label, py_stmt, raw_stmt, env, number, rounds):
    py, raw = [], []
    for _ in range(rounds):  # interleaved so drift from other load hits both sides alike
        raw += per_call(raw_stmt, env, number, 1)
        py += per_call(py_stmt, env, number, 1)
    diffs = [p - r for p, r in zip(py, raw)]
    return label, statistics.median(raw) * 1e6, statistics.median(py) * 1e6, statistics.median(diffs) * 1e6


def main():
    quick = "--quick" in sys.argv
    number, rounds = (2_000, 7) if quick else (20_000, 15)
    print(f"gradus {gradus.version()} from {gradus.library_path}")
    clock = "wall time" if TIMER is time.perf_counter else "thread CPU time (--wall for wall time)"
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}; {rounds} rounds x {number} calls, medians, "
          f"{clock}\n")

    raw_abi = raw_function("gradus_abi_version")
    raw_ndim = raw_function("gradus_tensor_ndim")
    raw_shape = raw_function("gradus_tensor_shape")
    raw_binary = raw_function("gradus_tensor_binary")
    raw_destroy = raw_function("gradus_tensor_destroy")
    a = gradus.tensor(np.arange(4, dtype=np.float32))
    b = gradus.tensor(np.ones(4, dtype=np.float32))
    Dims = c_int64 * _ffi.MAX_RANK

    # The raw side at its cheapest: out-parameters passed as ctypes objects (the POINTER argtypes pass them
    # by reference without a Python-level byref), as the Pythonic side does.
    def raw_ndim_call(h):
        n = c_int32()
        if raw_ndim(h, n):
            raise RuntimeError
        return n.value

    def raw_shape_call(h):
        dims = Dims()
        nd = c_int32()
        if raw_shape(h, dims, _ffi.MAX_RANK, nd):
            raise RuntimeError
        return tuple(dims[:nd.value])

    def raw_add_call(ha, hb):
        out = c_void_p()
        if raw_binary(0, ha, hb, out):
            raise RuntimeError
        raw_destroy(out)

    env = dict(gradus=gradus, a=a, b=b, ha=a._h, hb=b._h, raw_abi=raw_abi, raw_ndim_call=raw_ndim_call,
               raw_shape_call=raw_shape_call, raw_add_call=raw_add_call)
    assert raw_ndim_call(a._h) == a.ndim and raw_shape_call(a._h) == a.shape
    rows = [
        compare("gradus.abi_version()", "gradus.abi_version()", "raw_abi()", env, number, rounds),
        compare("t.ndim", "a.ndim", "raw_ndim_call(ha)", env, number, rounds),
        compare("t.shape", "a.shape", "raw_shape_call(ha)", env, number, rounds),
        compare("a + b (4 floats, result freed)", "a + b", "raw_add_call(ha, hb)", env, number, rounds),
    ]
    print(f"{'call':34} {'ctypes us':>10} {'gradus us':>10} {'overhead us':>12}  goal <= {GOAL_US} us")
    worst = 0.0
    for label, raw_us, py_us, over in rows:
        worst = max(worst, over)
        print(f"{label:34} {raw_us:10.3f} {py_us:10.3f} {over:12.3f}  {'ok' if over <= GOAL_US else 'OVER'}")
    print(f"worst overhead {worst:.3f} us: goal {'met' if worst <= GOAL_US else 'NOT met'}\n")

    # ---- from_numpy: zero copy ----
    tmod = sys.modules["gradus.tensor"]
    big = np.zeros(1_000_000, dtype=np.float32)
    t = gradus.from_numpy(big)
    big[123] = 7.0
    seen = t.numpy()[123]                       # numpy's write, read through the library
    t.add_(gradus.ones([1_000_000]))
    numpy_ptr = big.ctypes.data
    t.close()                                   # last reference: the library calls the deleter now
    library_ptr = tmod._released_pointers[-1]
    print("from_numpy zero copy (1M float32):")
    print(f"  numpy data pointer                   0x{numpy_ptr:x}")
    print(f"  pointer the library released         0x{library_ptr:x}")
    print(f"  same pointer: {numpy_ptr == library_ptr}; numpy write seen by gradus: {seen == 7.0}; "
          f"gradus write seen by numpy: {big[0] == 1.0 and big[123] == 8.0}")

    small = np.zeros(10_000, dtype=np.float32)
    n = max(number // 10, 200)
    times = {}
    for label, arr in (("10K", small), ("1M", big)):
        env = dict(gradus=gradus, arr=arr)
        times[("wrap", label)] = statistics.median(per_call("gradus.from_numpy(arr).close()", env, n, rounds))
        times[("copy", label)] = statistics.median(per_call("gradus.tensor(arr).close()", env, max(n // 20, 10),
                                                            rounds))
    print(f"\n{'create + close':34} {'10K us':>10} {'1M us':>10} {'1M / 10K':>9}")
    for kind, label in (("wrap", "gradus.from_numpy (zero copy)"), ("copy", "gradus.tensor (copies)")):
        s, l = times[(kind, "10K")] * 1e6, times[(kind, "1M")] * 1e6
        print(f"{label:34} {s:10.2f} {l:10.2f} {l / s:9.2f}")


if __name__ == "__main__":
    main()

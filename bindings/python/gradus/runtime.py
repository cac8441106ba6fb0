"""Version, threads and topology (the "Version" and "Context and threading" sections of gradus.h)."""
import ctypes
import json

from . import _ffi


def version():
    """The loaded library's version string, e.g. "0.1.0"."""
    return _ffi.gradus_version_string().decode()


def version_info():
    return (_ffi.gradus_version_major(), _ffi.gradus_version_minor(), _ffi.gradus_version_patch())


def abi_version():
    return _ffi.gradus_abi_version()


_NUMA = {"auto": _ffi.NUMA_POLICY_AUTO, "disabled": _ffi.NUMA_POLICY_DISABLED,
         "distribute": _ffi.NUMA_POLICY_DISTRIBUTE, "isolate": _ffi.NUMA_POLICY_ISOLATE,
         "inherit": _ffi.NUMA_POLICY_INHERIT}
_PIN = {"auto": _ffi.PIN_MODE_AUTO, "never": _ffi.PIN_MODE_NEVER, "always": _ffi.PIN_MODE_ALWAYS}
_WAIT = {"auto": _ffi.WAIT_POLICY_AUTO, "sleep": _ffi.WAIT_POLICY_SLEEP, "hybrid": _ffi.WAIT_POLICY_HYBRID,
         "spin": _ffi.WAIT_POLICY_SPIN}


def _enum(table, value, what):
    if isinstance(value, str):
        try:
            return table[value]
        except KeyError:
            raise ValueError(f"{what} must be one of {sorted(table)}, got {value!r}") from None
    return int(value)


def configure(num_threads=0, numa="auto", pin="auto", wait="auto", spin_us=50, blas_threads=0, cpus=None,
              verbose=False):
    """Replaces the runtime's thread configuration (gradus_context_configure); wins over GRADUS_* variables.

    num_threads/blas_threads: 0 = automatic. numa: auto, disabled, distribute, isolate, inherit.
    pin: auto, never, always. wait: auto, sleep, hybrid, spin. cpus: explicit CPU ids (within the
    inherited affinity mask), taken by the threads in order."""
    opts = _ffi.new_options(_ffi.gradus_context_options)
    opts.num_threads = int(num_threads)
    opts.numa_policy = _enum(_NUMA, numa, "numa")
    opts.pin_mode = _enum(_PIN, pin, "pin")
    opts.wait_policy = _enum(_WAIT, wait, "wait")
    opts.spin_us = int(spin_us)
    opts.blas_threads = int(blas_threads)
    opts.verbose = 1 if verbose else 0
    if cpus is not None:
        arr = _ffi.int_array(ctypes.c_int32, cpus, "cpu")
        opts.cpus = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int32))
        opts.cpu_count = len(cpus)
    _ffi.check(_ffi.gradus_context_configure(ctypes.byref(opts)))


def set_num_threads(n):
    """Sets the worker threads of the pool and of BLAS (0 = one per CPU)."""
    _ffi.check(_ffi.gradus_context_set_num_threads(int(n)))


def get_num_threads():
    out = ctypes.c_int32(0)
    _ffi.check(_ffi.gradus_context_num_threads(ctypes.byref(out)))
    return out.value


def describe():
    """Topology and thread plan in force as a dict (threads, policy, wait, blas_threads, allowed_cpus, plan,
    topology, warnings, ...)."""
    n = ctypes.c_size_t(0)
    _ffi.check(_ffi.gradus_context_describe(None, 0, ctypes.byref(n)))
    buf = ctypes.create_string_buffer(n.value + 1)
    _ffi.check(_ffi.gradus_context_describe(buf, len(buf), ctypes.byref(n)))
    return json.loads(buf.value.decode())

"""Low-level mirror of include/gradus.h: one entry per C function, with argtypes and restype.

Names and order follow the header's sections. Everything here is the raw C API; the Pythonic layer
(gradus.runtime, gradus.Tensor, ...) sits on top. ``check(status)`` turns a non-OK status into GradusError.
"""
import ctypes
from ctypes import POINTER, c_char, c_char_p, c_int32, c_size_t, c_void_p

from . import _loader
from .errors import GradusError

lib, library_path = _loader.load()

# ---- constants (must equal the header's; Tests/abi pins them) ----
ABI_VERSION = 0
DTYPE_FLOAT32 = 0
DTYPE_FLOAT64 = 1
MAX_THREADS = 4096
NUMA_POLICY_AUTO, NUMA_POLICY_DISABLED, NUMA_POLICY_DISTRIBUTE, NUMA_POLICY_ISOLATE, NUMA_POLICY_INHERIT = range(5)
PIN_MODE_AUTO, PIN_MODE_NEVER, PIN_MODE_ALWAYS = range(3)
WAIT_POLICY_AUTO, WAIT_POLICY_SLEEP, WAIT_POLICY_HYBRID, WAIT_POLICY_SPIN = range(4)

# ---- typedefs ----
gradus_status = c_int32
gradus_dtype = c_int32
gradus_numa_policy = c_int32
gradus_pin_mode = c_int32
gradus_wait_policy = c_int32


class gradus_context_options(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("num_threads", c_int32),
        ("numa_policy", gradus_numa_policy),
        ("pin_mode", gradus_pin_mode),
        ("wait_policy", gradus_wait_policy),
        ("spin_us", c_int32),
        ("blas_threads", c_int32),
        ("cpus", POINTER(c_int32)),
        ("cpu_count", c_size_t),
        ("verbose", c_int32),
    ]


# ---- functions: name -> (restype, argtypes) ----
_FUNCTIONS = {
    # Version
    "gradus_version_major": (c_int32, []),
    "gradus_version_minor": (c_int32, []),
    "gradus_version_patch": (c_int32, []),
    "gradus_version_string": (c_char_p, []),
    "gradus_abi_version": (c_int32, []),
    # Status and errors
    "gradus_status_string": (c_char_p, [gradus_status]),
    "gradus_last_error_message": (c_char_p, []),
    "gradus_clear_last_error": (None, []),
    "gradus_dtype_size": (c_size_t, [gradus_dtype]),
    # Context and threading
    "gradus_context_options_init": (None, [POINTER(gradus_context_options)]),
    "gradus_context_configure": (gradus_status, [POINTER(gradus_context_options)]),
    "gradus_context_set_num_threads": (gradus_status, [c_int32]),
    "gradus_context_num_threads": (gradus_status, [POINTER(c_int32)]),
    "gradus_context_describe": (gradus_status, [POINTER(c_char), c_size_t, POINTER(c_size_t)]),
    # Testing
    "gradus_testing_unguarded_lookup": (c_int32, [c_int32]),
}

for _name, (_restype, _argtypes) in _FUNCTIONS.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes
    globals()[_name] = _fn
del _name, _restype, _argtypes, _fn

if gradus_abi_version() != ABI_VERSION:
    raise ImportError(f"{library_path} has ABI {gradus_abi_version()}, these bindings need ABI {ABI_VERSION}")


def last_error_message():
    raw = gradus_last_error_message()
    return raw.decode("utf-8", "replace") if raw else ""


def check(status):
    """Raises GradusError(status, message) unless status is GRADUS_STATUS_OK."""
    if status != 0:
        raise GradusError(status, last_error_message())

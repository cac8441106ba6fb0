"""Gradus: a CPU training library with a Swift core, through its C ABI (pure ctypes).

    import gradus
    gradus.__version__, gradus.set_num_threads(2), gradus.describe()
"""
from . import _ffi
from .errors import GradusError
from .runtime import (abi_version, configure, describe, get_num_threads, set_num_threads, version,
                      version_info)

__version__ = version()
library_path = _ffi.library_path

__all__ = ["GradusError", "abi_version", "configure", "describe", "get_num_threads", "library_path",
           "set_num_threads", "version", "version_info"]

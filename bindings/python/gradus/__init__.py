"""Gradus: a CPU training library with a Swift core, through its C ABI (pure ctypes).

    import gradus
    x = gradus.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x @ x.T).sum(); y.backward(); x.grad.numpy()
"""
from . import _ffi, data, diffusion, nn, optim, quant
from .errors import GradusError
from .runtime import (abi_version, configure, describe, get_num_threads, set_num_threads, version,
                      version_info)
from .serialization import load, save
from .tensor import (Tensor, as_tensor, float32, float64, from_numpy, full, is_grad_enabled, no_grad, ones, tensor,
                     zeros)

__version__ = version()
library_path = _ffi.library_path

__all__ = ["GradusError", "Tensor", "abi_version", "as_tensor", "configure", "data", "describe", "diffusion", "float32",
           "float64", "from_numpy", "full", "get_num_threads", "is_grad_enabled", "library_path", "load", "nn",
           "no_grad", "ones", "optim", "quant", "save", "set_num_threads", "tensor", "version", "version_info", "zeros"]

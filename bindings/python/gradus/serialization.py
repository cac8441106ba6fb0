"""gradus.save / gradus.load: safetensors files (the same format as the C API's checkpoints)."""
import numpy as np

from .nn import Sequential
from .optim import Optimizer
from .tensor import Tensor, tensor


def save(obj, path):
    """Saves a model (its parameters), an optimizer (its state) or a dict of tensors/arrays to a safetensors
    file."""
    if isinstance(obj, (Sequential, Optimizer)):
        obj.save(path)
        return
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v.numpy() if isinstance(v, Tensor) else v) for k, v in obj.items()}, str(path))


def load(path, model=None):
    """Loads into `model` (a Sequential or an Optimizer; returns it) or returns a dict name -> Tensor."""
    if model is not None:
        return model.load(path)
    from safetensors.numpy import load_file
    return {k: tensor(v, dtype=v.dtype if v.dtype == np.float64 else np.float32) for k, v in load_file(str(path)).items()}

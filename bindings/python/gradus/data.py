"""gradus.data: Fashion-MNIST and the synthetic sets, batched into tensors by the library."""
import ctypes
import weakref

import numpy as np

from . import _ffi
from ._lifetime import Closeable
from .tensor import Tensor

_SYNTHETIC = {"two_moons": _ffi.SYNTHETIC_TWO_MOONS, "moons": _ffi.SYNTHETIC_TWO_MOONS,
              "spirals": _ffi.SYNTHETIC_SPIRALS, "xor": _ffi.SYNTHETIC_XOR, "mixture": _ffi.SYNTHETIC_MIXTURE}


class Dataset(Closeable):
    """float32 samples (flattened) with int32 labels."""

    def __init__(self, handle):
        self._h = handle
        self._finalizer = weakref.finalize(self, _ffi.gradus_dataset_destroy, handle)

    def __len__(self):
        n = ctypes.c_int64()
        _ffi.check(_ffi.gradus_dataset_count(self._h, ctypes.byref(n)))
        return n.value

    @property
    def sample_size(self):
        n = ctypes.c_int64()
        _ffi.check(_ffi.gradus_dataset_sample_size(self._h, ctypes.byref(n)))
        return n.value

    @property
    def num_classes(self):
        n = ctypes.c_int32()
        _ffi.check(_ffi.gradus_dataset_class_count(self._h, ctypes.byref(n)))
        return n.value

    def shuffle(self, seed):
        _ffi.check(_ffi.gradus_dataset_shuffle(self._h, int(seed)))

    def batch(self, start, count):
        count = min(int(count), len(self) - int(start))
        labels = np.empty(max(count, 1), dtype=np.int32)
        out = ctypes.c_void_p()
        _ffi.check(_ffi.gradus_dataset_batch(self._h, int(start), int(count), ctypes.byref(out),
                                             labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))))
        return Tensor(out.value), labels[:count]

    def batches(self, batch_size, shuffle=True, seed=0):
        if shuffle:
            self.shuffle(seed)
        for start in range(0, len(self), batch_size):
            yield self.batch(start, batch_size)


def fashion_mnist(split="train", directory=None, limit=0):
    out = ctypes.c_void_p()
    s = {"train": _ffi.SPLIT_TRAIN, "test": _ffi.SPLIT_TEST}[split]
    _ffi.check(_ffi.gradus_dataset_load_fashion_mnist(directory.encode() if directory else None, s, int(limit),
                                                      ctypes.byref(out)))
    return Dataset(out)


def synthetic(kind, count, seed=0):
    out = ctypes.c_void_p()
    _ffi.check(_ffi.gradus_dataset_create_synthetic(_SYNTHETIC[kind], int(count), int(seed), ctypes.byref(out)))
    return Dataset(out)

"""Seeded random calls of every C function through ctypes (run by test_boundary_fuzz.py in a child process).

usage: python boundary_fuzz_driver.py HEADER SEED ITERATIONS [FUNCTION ...]

Arguments mix NULL, live handles of the right and of the wrong kind, foreign and stale handle values, edge-case
integers and doubles (negative, huge, NaN, ∞), a tensor holding ±∞ and NaN, partly initialised option structs and garbage strings. Buffers are
always valid memory larger than anything the library can write for them: a caller that lies about a buffer's size
is undefined behaviour no C library can detect, so the driver never does that. Before each call it prints the
function and call number, so a crash names its call; it prints DONE when every call returned.
"""
import ctypes
import json
import os
import random
import re
import sys

import numpy as np

import gradus
import gradus.data
import gradus.diffusion
import gradus.nn as nn
from gradus import _ffi

HEADER, SEED, ITERATIONS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ONLY = set(sys.argv[4:])
SKIP = {"gradus_testing_unguarded_lookup"}  # deliberately unguarded (test_unguarded.py)
# Pointer arguments that are raw data (void *), not handles: (function, argument index).
DATA_ARGS = {("gradus_tensor_create_copy", 0), ("gradus_tensor_wrap", 0), ("gradus_tensor_wrap", 5),
             ("gradus_tensor_copy_to", 1), ("gradus_tensor_copy_from", 1)}
BUFFER_ELEMENTS = 1 << 16


def prototypes(path):
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    out = {}
    for m in re.finditer(r"\b(gradus_\w+)\s*\(([^)]*)\)\s*;", text):
        params = m.group(2).strip()
        out[m.group(1)] = [] if params in ("", "void") else [p.strip() for p in params.split(",")]
    return out


def value(h):
    return h.value if isinstance(h, ctypes.c_void_p) else h


gradus.set_num_threads(1)
t32 = gradus.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
t32.requires_grad = True
t64 = gradus.tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
labels = gradus.tensor(np.array([0, 1, 2], dtype=np.float32))
nonfinite = gradus.tensor(np.array([[np.inf, -np.inf, np.nan, 1.0], [0.0, -2.0, 3e38, -3e38]], dtype=np.float32))
model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
optimizer = gradus.optim.Adam(model.parameters(), lr=1e-3)
dataset = gradus.data.synthetic("xor", 16)
schedule = gradus.diffusion.NoiseSchedule()
stale = gradus.tensor(np.zeros(2, dtype=np.float32))
stale_handle = value(stale._handle)
stale.close()
TYPED = {
    "gradus_tensor": [value(t32._handle), value(t64._handle), value(labels._handle), value(nonfinite._handle)],
    "gradus_model": [value(model._h)],
    "gradus_optimizer": [value(optimizer._handles[0])],
    "gradus_dataset": [value(dataset._h)],
    "gradus_noise_schedule": [value(schedule._h)],
}
LIVE = [h for hs in TYPED.values() for h in hs]
INT32 = [0, 1, 2, 3, -1, 7, 64, 2**31 - 1, -2**31]
INT64 = [0, 1, 2, 3, 4, 12, -1, 64, 2**62, -2**63]
DOUBLES = [0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), -float("inf"), 1e308, 5e-324]
STRINGS = [None, b"", b"abc", b"/nonexistent/dir/file", b"\xff\xfe", b"x" * 300]
BIG = (ctypes.c_char * (8 << 20))()
keep = []


def argument(rng, name, position, declared, kind):
    """One random argument for parameter `position` (C type `declared`, ctypes type `kind`)."""
    valid = rng.random() < 0.7
    if (name, position) in DATA_ARGS:
        return rng.choice([None, ctypes.addressof(BIG)])
    if kind is ctypes.c_void_p:
        for prefix, handles in TYPED.items():
            if declared.startswith(prefix + " ") and valid:
                return rng.choice(handles)
        return rng.choice([None, stale_handle, 0xDEADBEEF, 8, rng.randrange(1, 2**47)] + LIVE)
    if kind in (ctypes.c_int32, ctypes.c_int64, ctypes.c_size_t, ctypes.c_uint64):
        v = rng.choice([0, 1, 2, 3, 4, 12]) if valid else rng.choice(INT32 if kind is ctypes.c_int32 else INT64)
        return v % 2**64 if kind in (ctypes.c_size_t, ctypes.c_uint64) else v
    if kind in (ctypes.c_double, ctypes.c_float):
        return rng.choice(DOUBLES)
    if kind is ctypes.c_char_p:
        return rng.choice(STRINGS)
    if isinstance(kind, type) and issubclass(kind, ctypes._Pointer):
        if rng.random() < 0.25:
            return None
        base = kind._type_
        if isinstance(base, type) and issubclass(base, ctypes.Structure):
            s = base()
            init = getattr(_ffi, base.__name__ + "_init", None)
            if init is not None and rng.random() < 0.8:
                try:
                    init(ctypes.byref(s))
                except TypeError:
                    init(ctypes.byref(s), rng.choice([0, 1, 2, 99]))
            elif rng.random() < 0.5:
                s.struct_size = rng.choice([ctypes.sizeof(base), 3, 2**40])
            for _ in range(rng.randrange(3)):
                field, ftype = rng.choice(base._fields_)
                if field != "struct_size" and not (isinstance(ftype, type) and issubclass(ftype, ctypes._Pointer)):
                    try:
                        setattr(s, field, argument(rng, name, -1, "", ftype))
                    except (TypeError, ctypes.ArgumentError):
                        pass
            keep.append(s)
            return ctypes.pointer(s)
        try:
            buf = (base * BUFFER_ELEMENTS)()
        except TypeError:
            return None
        for i in range(16):
            if base in (ctypes.c_float, ctypes.c_double):
                buf[i] = rng.choice([0.0, 1.0, -2.5, float("nan"), 3.0])
            elif base is ctypes.c_void_p:
                buf[i] = rng.choice([None] + LIVE)
            elif base in (ctypes.c_int32, ctypes.c_int64, ctypes.c_uint8, ctypes.c_int8):
                buf[i] = rng.choice([0, 1, 2, 3, -1, 5])
        keep.append(buf)
        return ctypes.cast(buf, kind)
    return None


protos = prototypes(HEADER)
names = sorted(n for n in dir(_ffi) if n.startswith("gradus_") and isinstance(getattr(_ffi, n), ctypes._CFuncPtr)
               and n in protos and n not in SKIP and (not ONLY or n in ONLY))
rng = random.Random(SEED)
calls = 0
for name in names:
    fn, declared = getattr(_ffi, name), protos.get(name, [])
    for i in range(ITERATIONS):
        args = [argument(rng, name, k, declared[k] if k < len(declared) else "", a) for k, a in enumerate(fn.argtypes or [])]
        print(name, i, flush=True)
        try:
            fn(*args)
        except (ctypes.ArgumentError, TypeError, OverflowError):
            pass
        calls += 1
        keep.clear()
print("DONE", len(names), calls, flush=True)

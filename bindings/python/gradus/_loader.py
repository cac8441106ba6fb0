"""Finds and loads libgradus.so (toolchain.md §8), in this order:

1. ``$GRADUS_LIBRARY`` — exclusive: when set, nothing else is tried;
2. ``gradus/_lib/libgradus.so`` bundled inside the package;
3. the newest of ``.build/release`` and ``.build/debug`` of the checkout this package lives in;
4. ``ctypes.util.find_library("gradus")`` (the system).
"""
import ctypes
import ctypes.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def candidates():
    """The paths tried, in order, as (origin, path) pairs; the env variable short-circuits the rest."""
    env = os.environ.get("GRADUS_LIBRARY")
    if env:
        return [("GRADUS_LIBRARY", env)]
    out = []
    bundled = os.path.join(_HERE, "_lib", "libgradus.so")
    if os.path.exists(bundled):
        out.append(("bundled", bundled))
    # bindings/python/gradus -> repository root
    root = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))
    builds = [os.path.join(root, ".build", cfg, "libgradus.so") for cfg in ("release", "debug")]
    builds = sorted((p for p in builds if os.path.exists(p)), key=os.path.getmtime, reverse=True)
    out.extend(("checkout", p) for p in builds)
    system = ctypes.util.find_library("gradus")
    if system:
        out.append(("system", system))
    return out


def load():
    """Returns (CDLL, path). Raises OSError listing every attempt when none loads."""
    tried = []
    for origin, path in candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{origin} {path}: {e}")
    if not tried:
        tried.append("no candidate (set GRADUS_LIBRARY, or build with `make dist`)")
    raise OSError("cannot load libgradus:\n  " + "\n  ".join(tried))

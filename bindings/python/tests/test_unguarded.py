"""Proves that an unchecked path really kills the host (a Swift trap is SIGILL, returncode -4), while the
guarded API turns the same kind of mistake into an exception. This is why every export validates first."""
import os
import signal
import subprocess
import sys

from conftest import PKG_PARENT

PRELUDE = f"import sys; sys.path.insert(0, {PKG_PARENT!r}); import gradus; from gradus import _ffi; "


def run(code):
    env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    return subprocess.run([sys.executable, "-c", PRELUDE + code], env=env, capture_output=True, text=True, timeout=60)


def test_in_range_lookup_works():
    r = run("print(_ffi.gradus_testing_unguarded_lookup(3))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "40"


def test_unguarded_out_of_range_kills_the_process():
    r = run("_ffi.gradus_testing_unguarded_lookup(7); print('survived')")
    assert r.returncode == -signal.SIGILL, (r.returncode, r.stderr)
    assert "survived" not in r.stdout


def test_guarded_mistake_raises_instead():
    r = run("\ntry:\n    gradus.set_num_threads(-7)\nexcept gradus.GradusError as e:\n    print('caught', e.status)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught 1"

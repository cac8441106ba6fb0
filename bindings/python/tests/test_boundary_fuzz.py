"""Seeded fuzzing of the whole C ABI through ctypes: no argument combination may kill the process.

Every exported function is called a few hundred times with random mixes of NULL, live handles of the right and wrong
kind, stale and foreign handle values, edge-case numbers and half-initialised option structs (boundary_fuzz_driver.py).
The calls run in a child process, because a Swift trap or a segfault cannot be caught: the test fails when the child
dies and names the call that killed it. Each call's status is not checked here (test_bad_input.py and the C tests pin
the documented statuses); this test only proves that bad input is an error, never a crash.
"""
import os
import subprocess
import sys

import pytest

from conftest import HEADER, HERE, PKG_PARENT


@pytest.mark.parametrize("seed,iterations", [(20261130, 200)])
def test_random_calls_never_crash(tmp_path, seed, iterations):
    if not os.path.exists(HEADER):
        pytest.skip("the header is not beside the bindings (installed package test)")
    env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    if os.environ.get("GRADUS_TEST_INSTALLED") != "1":
        env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    driver = os.path.join(HERE, "boundary_fuzz_driver.py")
    # cwd: files the library is asked to write at relative paths ("abc") land in tmp_path
    r = subprocess.run([sys.executable, driver, HEADER, str(seed), str(iterations)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    lines = r.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    assert r.returncode == 0 and last.startswith("DONE"), (
        f"the child died (status {r.returncode}) in call: {last!r}\n{r.stderr[-3000:]}")
    functions, calls = map(int, last.split()[1:3])
    assert functions >= 100 and calls == functions * iterations

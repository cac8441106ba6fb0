import os
import subprocess
import sys

from conftest import PKG_PARENT

import gradus
from gradus import _loader


def run(code, **env):
    e = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    e.update(env)
    return subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {PKG_PARENT!r}); " + code],
                          env=e, capture_output=True, text=True, timeout=60)


def test_loaded_library_exists():
    assert os.path.exists(gradus.library_path)


def test_env_variable_is_exclusive():
    r = run("import gradus", GRADUS_LIBRARY="/nonexistent/libgradus.so")
    assert r.returncode != 0
    assert "cannot load libgradus" in r.stderr and "/nonexistent/libgradus.so" in r.stderr


def test_env_variable_wins():
    r = run("import gradus; print(gradus.library_path)", GRADUS_LIBRARY=gradus.library_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == gradus.library_path


def test_candidates_without_env(monkeypatch):
    monkeypatch.delenv("GRADUS_LIBRARY", raising=False)
    origins = [origin for origin, _ in _loader.candidates()]
    order = {"bundled": 0, "checkout": 1, "system": 2}
    assert [order[o] for o in origins] == sorted(order[o] for o in origins)

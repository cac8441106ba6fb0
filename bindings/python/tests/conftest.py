"""Makes the checkout's bindings importable without installing, and finds the repository root (for the header)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_PARENT = os.path.dirname(HERE)
REPO = os.path.normpath(os.path.join(PKG_PARENT, "..", ".."))
HEADER = os.path.join(REPO, "include", "gradus.h")

if os.environ.get("GRADUS_TEST_INSTALLED") != "1" and PKG_PARENT not in sys.path:
    sys.path.insert(0, PKG_PARENT)

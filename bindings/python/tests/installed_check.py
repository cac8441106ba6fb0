"""Run by `make test-python-venv` with the venv's python, from an empty directory outside the checkout:
the package pip installed (with its bundled libgradus) imports, builds a small MLP and trains it with
gradus.optim until the loss falls. Not collected by pytest (no test_ prefix); exits non-zero on failure."""
import os
import sys

import numpy as np

import gradus
from gradus import nn, optim

pkg = os.path.dirname(os.path.abspath(gradus.__file__))
assert pkg.startswith(os.path.abspath(sys.prefix)), f"gradus imported from {pkg}, not from the venv {sys.prefix}"
assert gradus.library_path == os.path.join(pkg, "_lib", "libgradus.so"), f"not the bundled copy: {gradus.library_path}"

rng = np.random.default_rng(0)
x = rng.standard_normal((256, 4)).astype(np.float32)
y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)          # XOR-like: needs the hidden layer
xt = gradus.from_numpy(x)

model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2), seed=0)
opt = optim.Adam(model.parameters(), lr=0.02)
losses = []
for step in range(60):
    loss = nn.cross_entropy(model(xt), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())

first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
assert last < 0.7 * first, f"loss did not decrease enough: {first:.4f} -> {last:.4f}"
print(f"venv install OK: gradus {gradus.version()} from {os.path.relpath(gradus.library_path, sys.prefix)} "
      f"(venv); MLP loss {first:.4f} -> {last:.4f} in {len(losses)} Adam steps")

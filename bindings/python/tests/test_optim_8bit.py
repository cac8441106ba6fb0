"""gradus.optim 8-bit optimizers (Adam8bit, AdamW8bit, StableSPAM8bit) through the C catalog kinds, and
Optimizer.get_hparam (gradus_optimizer_get_hparam)."""
import math

import numpy as np
import pytest

import gradus
from gradus import errors, nn, optim


def make_model(seed=0):
    return nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 2), seed=seed)


EIGHT_BIT = [
    (optim.Adam8bit, dict(lr=0.01)),
    (optim.AdamW8bit, dict(lr=0.01)),
    (optim.StableSPAM8bit, dict(lr=0.01, total_steps=100)),
    (optim.Adam8bit, dict(lr=0.01, min_8bit_size=0)),      # every tensor in 8 bits
]


@pytest.mark.parametrize("cls,kw", EIGHT_BIT, ids=["adam8bit", "adamw8bit", "stable-spam-8bit", "adam8bit-all"])
def test_8bit_optimizers_lower_the_loss(cls, kw):
    ds = gradus.data.synthetic("moons", 256, seed=5)
    m = make_model(seed=2)            # the 128x64 weight has 8192 elements: quantized moments
    opt = cls(m.parameters(), **kw)
    losses = []
    for epoch in range(6):
        for x, y in ds.batches(64, seed=epoch):
            loss = nn.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    state = opt.state_dict()["state"][0]
    assert any(k.endswith(".state1") for k in state)          # 8-bit codes in the state


def test_get_hparam_reads_back_live_values():
    m = make_model()
    opt = optim.AdamW8bit(m.parameters(), lr=2e-3, betas=(0.8, 0.95))
    assert opt.get_hparam("lr") == 2e-3
    assert opt.get_hparam("betas") == (0.8, 0.95)
    assert opt.get_hparam("weight_decay") == 1e-2
    opt.param_groups[0]["lr"] = 5e-4
    assert opt.get_hparam("lr") == 5e-4
    with pytest.raises(gradus.GradusError) as e:
        opt.get_hparam("momentum")                           # AdamW8bit has none
    assert e.value.status == errors.INVALID_ARGUMENT
    with pytest.raises(gradus.GradusError) as e:
        opt.get_hparam("min_8bit_size")                      # fixed at creation
    assert e.value.status == errors.UNSUPPORTED


@pytest.mark.parametrize("kw", [dict(min_8bit_size=-1), dict(min_8bit_size=2.5), dict(betas=(1.0, 0.9))])
def test_bad_8bit_hyperparameters_raise(kw):
    with pytest.raises(gradus.GradusError) as e:
        optim.Adam8bit(make_model().parameters(), **kw)
    assert e.value.status == errors.INVALID_ARGUMENT and e.value.message

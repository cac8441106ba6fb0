"""gradus.optim: every optimizer trains, hyperparameters write through, state round-trips, schedules follow
their closed forms, and bad input raises GradusError."""
import math

import numpy as np
import pytest

import gradus
from gradus import errors, nn, optim
from gradus.optim import lr_scheduler


def make_model(seed=0, dtype=np.float32):
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2), seed=seed, dtype=dtype)


def run(model, opt, ds, epochs=8, sched=None):
    losses = []
    for epoch in range(epochs):
        for x, y in ds.batches(64, seed=epoch):
            loss = nn.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            losses.append(loss.item())
    return losses


def test_adamw_training_loop_reduces_loss():
    ds = gradus.data.synthetic("moons", 256, seed=3)
    m = make_model(seed=1)
    opt = optim.AdamW(m.parameters(), lr=0.02, weight_decay=0.01, betas=(0.9, 0.99))
    losses = run(m, opt, ds, epochs=15)
    assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:4])
    x, y = ds.batch(0, 256)
    assert nn.accuracy(m(x), y) > 0.85
    assert opt.step_count == len(losses)


ALL = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.01)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.Adagrad, dict(lr=0.1)),
    (optim.AdaGradNorm, dict(lr=0.5)),
    (optim.AdaGradNormRowwise, dict(lr=0.1)),
    (optim.DiffGrad, dict(lr=0.01)),
    (optim.AdamP, dict(lr=0.01, weight_decay=1e-4)),
    (optim.SGDP, dict(lr=0.1, momentum=0.9)),
    (optim.SPAM, dict(lr=0.01, warmup_steps=5, interval=50)),
    (optim.StableSPAM, dict(lr=0.01, total_steps=100)),
    (optim.OrthoSGD, dict(lr=0.1, momentum=0.9)),
    (optim.OrthoAdam, dict(lr=0.01)),
    (optim.PerpAdamW, dict(lr=0.01)),
]


@pytest.mark.parametrize("cls,kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_every_optimizer_lowers_the_loss(cls, kw):
    ds = gradus.data.synthetic("moons", 256, seed=5)
    m = make_model(seed=2)
    opt = cls(m.parameters(), **kw)
    losses = run(m, opt, ds, epochs=6)
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])


def test_orthograd_factory_and_float64():
    m = make_model(dtype=np.float64)
    assert isinstance(optim.OrthoGrad(m.parameters(), base="adam", lr=0.01), optim.OrthoAdam)
    assert isinstance(optim.OrthoGrad(m.parameters(), base=optim.SGD), optim.OrthoSGD)
    with pytest.raises(ValueError):
        optim.OrthoGrad(m.parameters(), base="lamb")


def test_sgd_matches_the_formula():
    w = gradus.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()  # grad = 2w
        opt.step()
    # torch: b1 = g1; w1 = w0 - lr b1; b2 = 0.9 b1 + g2; w2 = w1 - lr b2
    w0 = np.array([1.0, -2.0])
    b1 = 2 * w0
    w1 = w0 - 0.1 * b1
    w2 = w1 - 0.1 * (0.9 * b1 + 2 * w1)
    np.testing.assert_allclose(w.numpy(), w2, rtol=1e-6)


def test_param_groups_and_live_hyperparameters():
    m = make_model()
    ps = m.parameters()
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert opt.current_lr(1) == pytest.approx(0.1)
    opt.param_groups[0]["lr"] = 0.005
    opt.param_groups[0]["betas"] = (0.8, 0.99)
    assert opt.current_lr(0) == pytest.approx(0.005)
    with pytest.raises(gradus.GradusError) as e:
        opt.param_groups[0]["lr"] = float("nan")
    assert e.value.status == errors.INVALID_ARGUMENT
    assert opt.param_groups[0]["lr"] == 0.005  # a failed write changes nothing
    with pytest.raises(gradus.GradusError) as e:
        opt.param_groups[0]["betas"] = (0.9, 1.0)
    assert e.value.status == errors.INVALID_ARGUMENT
    sgd = optim.SGD(ps, lr=0.1)  # created without momentum: nothing to change later
    with pytest.raises(gradus.GradusError) as e:
        sgd.param_groups[0]["momentum"] = 0.9
    assert e.value.status == errors.INVALID_ARGUMENT
    with pytest.raises(gradus.GradusError) as e:
        sgd.param_groups[0]["nesterov"] = True
    assert e.value.status == errors.UNSUPPORTED


def run_in_order(model, opt, ds, steps):
    for i in range(steps):  # no shuffling: every model sees the same batches
        x, y = ds.batch((i * 32) % len(ds), 32)
        loss = nn.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_state_dict_round_trip_continues_identically(tmp_path):
    ds = gradus.data.synthetic("xor", 128, seed=1)
    a = make_model(seed=4)
    opt_a = optim.AdamW(a.parameters(), lr=0.01)
    run_in_order(a, opt_a, ds, 8)
    sd = opt_a.state_dict()
    names = set(sd["state"][0])
    assert {"step", "state.0.exp_avg", "state.0.exp_avg_sq"} <= names
    assert sd["state"][0]["state.0.exp_avg"].shape == (16, 2)
    assert sd["param_groups"][0]["lr"] == 0.01

    path = tmp_path / "m.safetensors"
    a.save(path)
    b = make_model(seed=9)
    b.load(path)
    opt_b = optim.AdamW(b.parameters(), lr=0.5)
    opt_b.load_state_dict(sd)
    assert opt_b.param_groups[0]["lr"] == 0.01 and opt_b.step_count == opt_a.step_count
    c = make_model(seed=9)
    c.load(path)
    opt_c = optim.AdamW(c.parameters(), lr=0.01)
    gradus.save(opt_a, tmp_path / "opt.safetensors")
    gradus.load(tmp_path / "opt.safetensors", opt_c)
    for m, o in ((a, opt_a), (b, opt_b), (c, opt_c)):
        run_in_order(m, o, ds, 4)
    for (n, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=n)
        np.testing.assert_array_equal(pa.numpy(), pc.numpy(), err_msg=n)


def test_bad_states_raise_and_change_nothing():
    m = make_model()
    opt = optim.Adam(m.parameters())
    good = opt.state_dict()
    for mutate, status in [
        (lambda s: s.pop("state.0.exp_avg"), errors.NOT_FOUND),
        (lambda s: s.__setitem__("bogus", np.zeros(1)), errors.NOT_FOUND),
        (lambda s: s.__setitem__("state.0.exp_avg", np.zeros(3)), errors.SHAPE_MISMATCH),
        (lambda s: s.__setitem__("step", np.array(1e300)), errors.INVALID_ARGUMENT),
        (lambda s: s.__setitem__("state.1.step", np.array(-1.0)), errors.INVALID_ARGUMENT),
        (lambda s: s.__setitem__("step", np.array(np.inf)), errors.INVALID_ARGUMENT),
    ]:
        bad = {"state": [dict(good["state"][0])], "param_groups": good["param_groups"]}
        mutate(bad["state"][0])
        with pytest.raises(gradus.GradusError) as e:
            opt.load_state_dict(bad)
        assert e.value.status == status, e.value
    assert opt.step_count == 0
    other = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(gradus.GradusError):
        other.load_state_dict(good)


@pytest.mark.parametrize("cls,kw,status", [
    (optim.Adam, dict(lr=-1.0), errors.INVALID_ARGUMENT),
    (optim.Adam, dict(lr=float("nan")), errors.INVALID_ARGUMENT),
    (optim.Adam, dict(betas=(1.0, 0.999)), errors.INVALID_ARGUMENT),
    (optim.Adam, dict(betas=(0.9, float("inf"))), errors.INVALID_ARGUMENT),
    (optim.AdamW, dict(eps=-1e-8), errors.INVALID_ARGUMENT),
    (optim.AdamW, dict(weight_decay=-0.1), errors.INVALID_ARGUMENT),
    (optim.SGD, dict(momentum=1.5), errors.INVALID_ARGUMENT),
    (optim.SPAM, dict(warmup_steps=1e300), errors.INVALID_ARGUMENT),
    (optim.SPAM, dict(interval=0), errors.INVALID_ARGUMENT),
    (optim.StableSPAM, dict(total_steps=2.5), errors.INVALID_ARGUMENT),
    (optim.StableSPAM, dict(gamma1=-0.1), errors.INVALID_ARGUMENT),
])
def test_bad_hyperparameters_raise(cls, kw, status):
    with pytest.raises(gradus.GradusError) as e:
        cls(make_model().parameters(), **kw)
    assert e.value.status == status
    assert e.value.message


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        optim.SGD([])
    with pytest.raises(TypeError):
        optim.SGD([np.zeros(2)])
    with pytest.raises(TypeError):
        optim.SGD(make_model().parameters(), bogus=1)
    with pytest.raises(ValueError):
        optim.SGD([{"params": make_model().parameters(), "bogus": 1}])
    a, b = gradus.zeros((2,)), gradus.zeros((2,), dtype=np.float64)
    with pytest.raises(gradus.GradusError) as e:
        optim.Adam([a, b])
    assert e.value.status == errors.DTYPE_MISMATCH
    with pytest.raises(gradus.GradusError) as e:
        optim.Adam([a, a])
    assert e.value.status == errors.INVALID_ARGUMENT
    opt = optim.Adam([a])
    opt.close()
    with pytest.raises(gradus.GradusError) as e:
        opt.step()
    assert e.value.status == errors.INVALID_HANDLE


def schedule_values(sched_cls, n, **kw):
    opt = optim.SGD([gradus.zeros((1,))], lr=1.0)
    s = sched_cls(opt, **kw)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        assert opt.current_lr() == pytest.approx(out[-1])  # written through to the library
        opt.step()
        s.step()
    return out


def test_schedulers_follow_their_closed_forms():
    assert schedule_values(lr_scheduler.StepLR, 5, step_size=2, gamma=0.5) == [1, 1, 0.5, 0.5, 0.25]
    np.testing.assert_allclose(schedule_values(lr_scheduler.CosineAnnealingLR, 5, T_max=4),
                               [1, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0])
    np.testing.assert_allclose(schedule_values(lr_scheduler.LinearLR, 4, start_factor=1, end_factor=0, total_iters=2),
                               [1, 0.5, 0, 0])
    np.testing.assert_allclose(schedule_values(lr_scheduler.WarmupLinearLR, 5, warmup_steps=2, total_steps=4),
                               [0, 0.5, 1, 0.5, 0])
    np.testing.assert_allclose(schedule_values(lr_scheduler.WarmupCosineLR, 4, warmup_steps=1, total_steps=3),
                               [0, 1, 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(schedule_values(lr_scheduler.ExponentialLR, 3, gamma=0.5), [1, 0.5, 0.25])
    np.testing.assert_allclose(schedule_values(lr_scheduler.LambdaLR, 3, lr_lambda=lambda t: 1 / (t + 1)),
                               [1, 0.5, 1 / 3])
    with pytest.raises(ValueError):
        lr_scheduler.WarmupCosineLR(optim.SGD([gradus.zeros((1,))]), warmup_steps=5, total_steps=3)


def golden_refinement_cases():
    import json
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "optimizers.json"
    return [c for c in json.loads(path.read_text())["cases"] if c["kind"] == "lr_refinement"]


def test_refine_matches_the_golden_schedules_and_drives_piecewise_lr():
    cases = golden_refinement_cases()
    assert len(cases) == 2
    for c in cases:
        h = c["hyperparameters"]
        got = lr_scheduler.refine(np.array(c["gradient_norms"]), power=h["power"], tau=h["tau"])
        np.testing.assert_allclose(got, c["schedule"], rtol=1e-9, atol=1e-12)
    values = schedule_values(lr_scheduler.PiecewiseLR, 7, multipliers=got[:5])
    np.testing.assert_allclose(values, list(got[:5]) + [got[4]] * 2)


def test_refine_and_piecewise_reject_bad_input():
    for norms, kw in [([1.0], {}), ([], {}), ([1.0, 0.0, 2.0], {}), ([1.0, float("nan")], {}),
                      ([1.0, 2.0], {"power": float("inf")}), ([1.0, 2.0], {"tau": -1.0}),
                      ([1.0, 2.0], {"tau": float("nan")}), ([1.0, 2.0], {"tau": 1e300})]:
        with pytest.raises(errors.GradusError):
            lr_scheduler.refine(norms, **kw)
    opt = optim.SGD([gradus.zeros((1,))])
    for bad in [[], [1.0, float("nan")], [-1.0]]:
        with pytest.raises(ValueError):
            lr_scheduler.PiecewiseLR(opt, bad)


def test_scheduler_with_adamw_trains():
    ds = gradus.data.synthetic("moons", 256, seed=3)
    m = make_model(seed=1)
    opt = optim.AdamW(m.parameters(), lr=0.03)
    sched = lr_scheduler.WarmupCosineLR(opt, warmup_steps=10, total_steps=60)
    losses = run(m, opt, ds, epochs=15, sched=sched)
    assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:4])
    assert sched.get_last_lr()[0] == opt.param_groups[0]["lr"]

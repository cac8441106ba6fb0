"""gradus.diffusion: schedules, denoisers as models, training with label dropout, CFG/APG sampling, image grids,
determinism, and bad input raising GradusError (through the C ABI's "Diffusion" section)."""
import math

import numpy as np
import pytest

import gradus
from gradus import diffusion, errors, nn, optim

MEANS = np.array([[1.0, 0.5], [1.0, -0.5], [-1.0, 0.5], [-1.0, -0.5]])


def mixture(n, seed=0):
    """The four-class 2-D Gaussian mixture of the APG toy, scaled by 1/3 (std 1/6)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    x = MEANS[y] + rng.normal(scale=1 / 6, size=(n, 2))
    return x.astype(np.float32), y.astype(np.int32)


@pytest.fixture(scope="module")
def trained():
    sched = diffusion.NoiseSchedule("cosine", train_steps=1000)
    model = diffusion.MLPDenoiser(data_dim=2, num_classes=4, hidden=64, depth=3, seed=1)
    x, y = mixture(2048, seed=0)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = diffusion.train(model, sched, opt, x, y, steps=600, batch_size=256, label_dropout=0.1, seed=2)
    return sched, model, losses


def test_schedule_alphas_and_timesteps():
    s = diffusion.NoiseSchedule("cosine")
    a = s.alphas_cumprod
    assert a.shape == (1000,) and a.dtype == np.float64
    assert np.all(np.diff(a) < 0) and a[0] > 0.99 and a[-1] < 1e-3
    assert list(s.timesteps(4)) == [750, 500, 250, 0]
    z = diffusion.NoiseSchedule("scaled_linear", zero_terminal_snr=True, spacing="trailing", prediction="v_prediction")
    assert z.alphas_cumprod[-1] == 0 and z.timesteps(4)[0] == 999
    lin = diffusion.NoiseSchedule("linear", train_steps=10)
    assert np.allclose(1 - lin.alphas_cumprod[:1], [1e-4])
    f = diffusion.NoiseSchedule(prediction="flow", flow_shift=3.0)
    t = f.timesteps(5)
    assert t[0] == 1000 and np.all(np.diff(t) < 0) and t[-1] > 0
    s.close()
    with pytest.raises(gradus.GradusError):
        s.timesteps(4)


def test_training_lowers_the_loss(trained):
    _, _, losses = trained
    assert losses.shape == (600,) and np.all(np.isfinite(losses))
    assert losses[-100:].mean() < 0.7 * losses[:50].mean()


@pytest.mark.parametrize("guidance,kw", [
    ("none", {}),
    ("cfg", dict(scale=3.0)),
    ("apg", dict(scale=3.0, apg_eta=0.0, apg_norm_threshold=1.0, apg_momentum=-0.5)),
    ("apg", dict(scale=2.0, formulation="original", space="x0", apg_eta=0.0, norm_dims=[-1])),
])
def test_guided_samples_land_in_their_class(trained, guidance, kw):
    sched, model, _ = trained
    labels = np.repeat(np.arange(4), 32)
    s = diffusion.sample(model, sched, labels, steps=25, guidance=guidance, seed=3, **kw)
    a = s.numpy()
    assert s.dtype == np.float32 and a.shape == (128, 2) and np.all(np.isfinite(a))
    # each class's samples sit nearest their own mean (the quadrant of the mixture component)
    for c in range(4):
        centre = a[labels == c].mean(axis=0)
        assert np.argmin(np.linalg.norm(MEANS - centre, axis=1)) == c, (guidance, c, centre)


def test_samplers_cfg_rescale_and_unconditional_label(trained):
    sched, model, _ = trained
    for sampler, eta in [("ddpm", 0.0), ("ddim", 1.0)]:
        a = diffusion.sample(model, sched, [0, 1, 2, 3, 4], steps=20, sampler=sampler, eta=eta, seed=4).numpy()
        assert a.shape == (5, 2) and np.all(np.isfinite(a))
    # CFG-rescale matches per-sample stds: meant for images, on 2-D points it only has to stay finite
    a = diffusion.sample(model, sched, [0, 1, 2, 3], steps=20, guidance="cfg-rescale", scale=3.0).numpy()
    assert a.shape == (4, 2) and np.all(np.isfinite(a))


def test_sampling_is_deterministic_with_a_seed(trained):
    sched, model, _ = trained
    kw = dict(steps=10, guidance="apg", scale=4.0, apg_momentum=-0.5)
    a = diffusion.sample(model, sched, [0, 1, 2, 3] * 4, seed=7, **kw).numpy()
    b = diffusion.sample(model, sched, [0, 1, 2, 3] * 4, seed=7, **kw).numpy()
    c = diffusion.sample(model, sched, [0, 1, 2, 3] * 4, seed=8, **kw).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_training_is_deterministic_with_a_seed():
    x, y = mixture(256, seed=5)
    sched = diffusion.NoiseSchedule("linear")
    runs = []
    for _ in range(2):
        m = diffusion.MLPDenoiser(num_classes=4, hidden=16, seed=3)
        losses = diffusion.train(m, sched, optim.AdamW(m.parameters(), lr=1e-2), x, y, steps=20, batch_size=32, seed=9)
        runs.append((losses, m.state_dict()))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert all(np.array_equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])


def test_denoiser_is_a_model(trained, tmp_path):
    sched, model, _ = trained
    names = [n for n, _ in model.named_parameters()]
    assert "input.weight" in names and any(n.startswith("conditioning.") for n in names)
    x = gradus.tensor(np.zeros((3, 2), np.float32))
    out = model(x, [10, 500, 999], [0, 1, 4])
    assert out.shape == (3, 2)
    out.sum().backward()
    assert model.parameter("input.weight").grad is not None
    model.zero_grad()
    path = tmp_path / "denoiser.safetensors"
    model.save(path)
    other = diffusion.MLPDenoiser(data_dim=2, num_classes=4, hidden=64, depth=3, seed=99).load(path)
    a = diffusion.sample(model, sched, [0, 1, 2, 3], steps=10, seed=1).numpy()
    b = diffusion.sample(other, sched, [0, 1, 2, 3], steps=10, seed=1).numpy()
    assert np.array_equal(a, b)


def test_conv_denoiser_with_flow_matching_and_image_grid(tmp_path):
    sched = diffusion.NoiseSchedule(prediction="flow", train_steps=1000)
    model = diffusion.ConvDenoiser(num_classes=2, height=8, width=8, base_width=4, dtype=np.float64, seed=0)
    imgs = np.where(np.arange(64).reshape(1, 1, 8, 8) % 8 < 4, 0.8, -0.8) * np.array([1, -1]).reshape(2, 1, 1, 1)
    imgs = np.repeat(imgs, 3, axis=0)
    losses = diffusion.train(model, sched, optim.Adam(model.parameters(), lr=1e-3), imgs, [0, 1] * 3, steps=3,
                             batch_size=0)
    assert np.all(np.isfinite(losses))
    s = diffusion.sample(model, sched, [0, 1, 2, 0], steps=4, guidance="cfg", scale=2.0)
    assert s.shape == (4, 1, 8, 8) and np.all(np.isfinite(s.numpy()))
    path = diffusion.save_image_grid(s, tmp_path / "grid.png", columns=2, upscale=3)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    pts = tmp_path / "points.png"
    diffusion.save_image_grid(np.array([[0, 0], [1, 1], [np.nan, 2], [1e30, -1e30]], np.float32), pts,
                              labels=[0, 1, 2, 3])
    assert open(pts, "rb").read(4) == b"\x89PNG"


def _raises(status, fn, *a, **k):
    with pytest.raises(gradus.GradusError) as e:
        fn(*a, **k)
    assert e.value.status == status and e.value.message, (e.value.status, e.value.message)


def test_bad_input_raises_gradus_error(trained, tmp_path):
    sched, model, _ = trained
    inv = errors.INVALID_ARGUMENT
    _raises(inv, diffusion.NoiseSchedule, "quadratic")
    _raises(inv, diffusion.NoiseSchedule, train_steps=1)
    _raises(inv, diffusion.NoiseSchedule, beta_end=2.0, kind="linear")
    _raises(inv, diffusion.NoiseSchedule, zero_terminal_snr=True)          # with epsilon prediction
    _raises(inv, diffusion.MLPDenoiser, num_classes=0)
    _raises(inv, diffusion.ConvDenoiser, height=27)
    _raises(inv, diffusion.sample, model, sched, [0], guidance="magic")
    _raises(inv, diffusion.sample, model, sched, [0], scale=math.nan)
    _raises(inv, diffusion.sample, model, sched, [5])                        # 4 is the null label, 5 is out
    _raises(inv, diffusion.sample, model, sched, [])
    _raises(inv, diffusion.sample, model, sched, [0], steps=0)
    _raises(inv, diffusion.sample, model, sched, [0], sampler="flow_euler")   # not a flow schedule
    _raises(inv, diffusion.sample, model, sched, [0], guidance="apg", norm_dims=[0])
    _raises(inv, diffusion.sample, model, sched, [0], guidance="cfg_rescale", guidance_rescale=2.0)
    _raises(inv, diffusion.train, model, sched, None, np.zeros((4, 2), np.float32), [0, 1, 2, 4])
    _raises(errors.SHAPE_MISMATCH, diffusion.train, model, sched, None, np.zeros((4, 3), np.float32), [0, 1, 2, 3])
    _raises(errors.SHAPE_MISMATCH, diffusion.train, model, sched, None, np.zeros((4, 2), np.float32), [0, 1])
    _raises(errors.SHAPE_MISMATCH, model, np.zeros((2, 3), np.float32), 10, [0, 1])
    _raises(errors.SHAPE_MISMATCH, model, np.zeros((2, 2), np.float32), [1, 2, 3], [0, 1])
    _raises(inv, model.forward, np.zeros((2, 2), np.float32))
    plain = nn.Sequential(nn.Linear(2, 2))
    _raises(inv, diffusion.sample, plain, sched, [0])
    _raises(inv, diffusion.train, model, sched, optim.Adam(plain.parameters()), np.zeros((4, 2), np.float32),
            [0, 1, 2, 3])                                                    # optimizer over another model
    _raises(errors.SHAPE_MISMATCH, diffusion.save_image_grid, np.zeros((2, 3), np.float32), tmp_path / "x.png")
    _raises(inv, diffusion.save_image_grid, np.zeros((2, 2), np.float32), tmp_path / "x.png", labels=[0, -1])
    _raises(inv, diffusion.save_image_grid, np.zeros((2, 1, 4, 4), np.float32), tmp_path / "x.png", upscale=0)

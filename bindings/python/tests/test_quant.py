"""gradus.quant: fake quantization of tensors and of a model's Linear layers; bad configurations raise."""
import numpy as np
import pytest

import gradus
from gradus import errors, nn, optim, quant


def test_fake_quantize_int2_and_ste_gradient():
    x = gradus.tensor([0.1, -0.7, 0.26, 1.0], requires_grad=True)
    q = quant.fake_quantize(x, quant.QuantConfig(bits=2))
    np.testing.assert_array_equal(q.numpy(), [0, -1, 0, 1])
    q.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 1, 1])
    clipped = gradus.tensor([0.5, 2.0], requires_grad=True)
    quant.fake_quantize(clipped, quant.QuantConfig(bits=1, estimator="clipped_ste", clip=1.0)).sum().backward()
    np.testing.assert_array_equal(clipped.grad.numpy(), [1, 0])


@pytest.mark.parametrize("cfg", [
    quant.QuantConfig(bits=4, format="nf4", granularity="group", group_size=32),
    quant.QuantConfig(bits=4, format="mxfp4", granularity="group", group_size=32),
    quant.QuantConfig(bits=4, format="fp4_e2m1", granularity="group", group_size=16),
    quant.QuantConfig(bits=4, format="bnb_fp4", granularity="group", group_size=64),
    quant.QuantConfig(bits=8, granularity="channel", axis=0),
    quant.QuantConfig(bits=3, symmetric=False, stochastic=True, seed=7),
])
def test_formats_round_trip_closely(cfg):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 64)).astype(np.float32)
    q = quant.fake_quantize(a, cfg).numpy()
    assert q.shape == a.shape and np.all(np.isfinite(q))
    assert np.abs(q - a).max() < 0.6 * np.abs(a).max()
    assert len(np.unique(q)) < len(np.unique(a))


def test_quantized_model_trains_and_dequantizes():
    ds = gradus.data.synthetic("moons", 256, seed=3)
    m = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2), seed=1)
    names = [n for n, _ in m.named_parameters()]
    quant.quantize(m, weights=quant.QuantConfig(bits=4, symmetric=False, granularity="group", group_size=16),
                   activations=quant.QuantConfig(bits=8))
    assert quant.quantized_layer_count(m) == 2
    assert [n for n, _ in m.named_parameters()] == names
    opt = optim.AdamW(m.parameters(), lr=0.02)
    losses = []
    for epoch in range(10):
        for x, y in ds.batches(64, seed=epoch):
            loss = nn.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert np.mean(losses[-8:]) < 0.6 * np.mean(losses[:4])
    x, _ = ds.batch(0, 8)
    q_out = m(x).numpy()
    quant.dequantize(m)
    assert quant.quantized_layer_count(m) == 0
    assert not np.array_equal(m(x).numpy(), q_out)  # the float forward differs from the 4-bit one


@pytest.mark.parametrize("kw", [
    dict(bits=0), dict(bits=9), dict(format="nf4"), dict(bits=4, format="mxfp4"), dict(bits=1, symmetric=False),
    dict(bits=4, format="nf4", stochastic=True), dict(estimator="clipped_ste", clip=0.0),
    dict(estimator="reste", reste_o=0.5), dict(estimator="reste", reste_t=float("nan")),
    dict(granularity="group", group_size=0), dict(granularity="group", group_size=7),
    dict(granularity="channel", axis=5), dict(format=99), dict(granularity=-1),
])
def test_bad_configurations_raise(kw):
    with pytest.raises(gradus.GradusError) as e:
        quant.fake_quantize(np.ones((4, 6), dtype=np.float32), quant.QuantConfig(**kw))
    assert e.value.status == errors.INVALID_ARGUMENT
    assert e.value.message


def test_bad_model_quantization_leaves_the_model_unchanged():
    m = nn.Sequential(nn.Linear(6, 3))
    with pytest.raises(gradus.GradusError) as e:
        quant.quantize(m, weights=quant.QuantConfig(granularity="group", group_size=7))
    assert e.value.status == errors.INVALID_ARGUMENT and "layer" in e.value.message
    assert quant.quantized_layer_count(m) == 0
    with pytest.raises(ValueError):
        quant.QuantConfig(format="int3").options()
    quant.quantize(m, activations=quant.QuantConfig(granularity="group", group_size=5))
    with pytest.raises(gradus.GradusError) as e:
        m(np.ones((1, 6), dtype=np.float32))
    assert e.value.status == errors.INVALID_ARGUMENT
    m.close()
    with pytest.raises(gradus.GradusError):
        quant.dequantize(m)


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("granularity", ["tensor", "channel", "group"])
def test_non_finite_inputs_give_nan_not_a_crash(symmetric, granularity):
    # +inf and -inf in one group made the asymmetric zero point NaN, and converting it to int32 killed the process
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    x[0, 1], x[0, 2], x[1, 3] = np.inf, -np.inf, np.nan
    t = gradus.tensor(x, requires_grad=True)
    q = quant.fake_quantize(t, quant.QuantConfig(bits=4, symmetric=symmetric, granularity=granularity, group_size=4))
    y = q.numpy()
    assert y.shape == (2, 8)
    assert not np.isfinite(y[0, 1]) and not np.isfinite(y[0, 2]) and np.isnan(y[1, 3])
    q.sum().backward()
    assert t.grad.numpy().shape == (2, 8)

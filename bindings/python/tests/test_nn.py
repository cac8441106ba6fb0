import os
import threading

import numpy as np
import pytest

import gradus
from gradus import nn


def make_model(seed=0, dtype=np.float32):
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2), seed=seed, dtype=dtype)


def test_parameters_by_name():
    m = make_model()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert m.parameter("2.bias").shape == (2,)
    with pytest.raises(gradus.GradusError) as e:
        m.parameter("nope")
    assert e.value.status == gradus.errors.NOT_FOUND
    # parameters share storage with the model and keep it alive
    p = m.parameters()[1]
    del m
    assert p.shape == (16,)


def train(model, ds, steps=150, lr=0.5, seed=0):
    opt = gradus.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(steps // 4):
        for x, y in ds.batches(64, seed=seed + epoch):
            loss = nn.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_training_reduces_loss_and_checkpoint_round_trip(tmp_path):
    ds = gradus.data.synthetic("moons", 256, seed=3)
    assert len(ds) == 256 and ds.sample_size == 2 and ds.num_classes == 2
    m = make_model(seed=1)
    losses = train(m, ds, steps=120)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    x, y = ds.batch(0, 256)
    acc = nn.accuracy(m(x), y)
    assert acc > 0.85
    path = tmp_path / "m.safetensors"
    gradus.save(m, path)
    m2 = make_model(seed=99)
    gradus.load(path, m2)
    np.testing.assert_array_equal(m2(x).numpy(), m(x).numpy())
    # the file is plain safetensors
    d = gradus.load(path)
    assert set(d) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    np.testing.assert_array_equal(d["0.bias"].numpy(), m.parameter("0.bias").numpy())


def test_save_load_dict(tmp_path):
    p = tmp_path / "d.safetensors"
    gradus.save({"a": gradus.tensor([1.0, 2.0]), "b": np.eye(2)}, p)
    d = gradus.load(p)
    np.testing.assert_array_equal(d["a"].numpy(), [1, 2])
    assert d["b"].dtype == np.float64


def test_losses():
    p = gradus.tensor([[0.5, 1.0]])
    t = gradus.tensor([[0.0, 1.0]])
    assert nn.mse_loss(p, t).item() == pytest.approx(0.125)
    assert nn.MSELoss("sum")(p, t).item() == pytest.approx(0.25)
    b = nn.binary_cross_entropy_with_logits(gradus.tensor([0.0]), gradus.tensor([1.0]))
    assert b.item() == pytest.approx(np.log(2), rel=1e-6)
    ce = nn.CrossEntropyLoss()(gradus.tensor([[0.0, 0.0]]), [1])
    assert ce.item() == pytest.approx(np.log(2), rel=1e-6)


def test_two_threads_train_separate_models():
    results, errors = {}, []

    def worker(seed):
        try:
            ds = gradus.data.synthetic("xor", 256, seed=seed)
            m = make_model(seed=seed)
            losses = train(m, ds, steps=60, seed=seed)
            results[seed] = (losses[0], losses[-1])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert set(results) == {1, 2}
    for first, last in results.values():
        assert last < first


@pytest.mark.skipif(not os.path.exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
                    reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_loads():
    ds = gradus.data.fashion_mnist("test", limit=100)
    assert len(ds) == 100 and ds.sample_size == 784 and ds.num_classes == 10
    x, y = ds.batch(0, 10)
    assert x.shape == (10, 784) and y.shape == (10,)
    assert 0.0 <= x.numpy().min() and x.numpy().max() <= 1.0


def test_models_and_datasets_close():
    with gradus.data.synthetic("spirals", 32, seed=1) as ds, make_model() as m:
        x, _ = ds.batch(0, 4)
        assert m(x).shape == (4, 2)
    with pytest.raises(gradus.GradusError) as e:
        len(ds)
    assert e.value.status == gradus.errors.INVALID_HANDLE
    with pytest.raises(gradus.GradusError):
        m(x)


def _stablemax_nll(x, y):
    """numpy float64 reference: -log(s(x_y) / sum_j s(x_j)), s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0)."""
    s = np.where(x >= 0, np.maximum(x, 0) + 1, 1 / (1 - np.minimum(x, 0)))
    return -np.log(s[np.arange(len(y)), y] / s.sum(axis=1))


def test_stablemax_cross_entropy_matches_numpy_and_never_collapses():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 5)) * 4
    x[0, 2] = 1000.0  # float32 softmax CE of this row is exactly 0; StableMax's is not
    y = np.array([2, 0, 1, 4, 3, 2])
    logits = gradus.tensor(x.astype(np.float32), requires_grad=True)
    per_row = nn.stablemax_cross_entropy(logits, y, reduction="none", dtype=np.float64)
    assert per_row.dtype == np.float64
    np.testing.assert_allclose(per_row.numpy(), _stablemax_nll(x.astype(np.float32).astype(np.float64), y), rtol=1e-12)
    assert per_row.numpy()[0] > 0
    assert nn.cross_entropy(gradus.tensor(x.astype(np.float32)), y, reduction="none").numpy()[0] == 0
    mean = nn.stablemax_cross_entropy(logits, y)
    assert mean.dtype == np.float32  # dtype=None: the logits' dtype
    mean.backward()
    g = logits.grad.numpy()
    assert g.dtype == np.float32 and np.all(np.isfinite(g)) and abs(g[0]).sum() > 0
    # finite differences on the float64 reference
    h, x64 = 1e-6, x.astype(np.float32).astype(np.float64)
    num = np.zeros_like(x64)
    for i in range(x64.shape[0]):
        for j in range(x64.shape[1]):
            e = np.zeros_like(x64); e[i, j] = h
            num[i, j] = (_stablemax_nll(x64 + e, y).mean() - _stablemax_nll(x64 - e, y).mean()) / (2 * h)
    np.testing.assert_allclose(g, num, rtol=1e-3, atol=1e-6)


def test_z_loss_matches_numpy():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 9))
    z = nn.z_loss(gradus.tensor(x), coefficient=1e-2)
    m = x.max(axis=1, keepdims=True)
    lz = (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))).ravel()
    np.testing.assert_allclose(z.item(), 1e-2 * np.mean(lz ** 2), rtol=1e-12)


def test_stablemax_and_z_loss_reject_bad_input():
    logits = gradus.tensor(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(gradus.GradusError):
        nn.stablemax_cross_entropy(logits, [0, 1, 2])          # 3 labels for 4 rows
    with pytest.raises(gradus.GradusError):
        nn.stablemax_cross_entropy(logits, [0, 1, 2, 3])       # label out of range
    with pytest.raises(gradus.GradusError):
        nn.z_loss(logits, coefficient=float("nan"))
    with pytest.raises(gradus.GradusError):
        nn.z_loss(gradus.tensor(np.zeros(3, dtype=np.float32)))  # not 2-d


@pytest.mark.parametrize("norm", [nn.BatchNorm1d(6, eps=1e-3, momentum=0.5),
                                  nn.GhostBatchNorm(6, ghost_batch_size=4, eps=1e-3, momentum=0.5)])
def test_batch_norm_layers_match_numpy_in_training_and_evaluation(norm, tmp_path):
    # Linear(3 -> 6) then the norm; weight/bias of the norm start at 1/0, so training output is x̂ per chunk.
    m = nn.Sequential(nn.Linear(3, 6), norm, seed=1, dtype=np.float64)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    x = np.random.default_rng(0).normal(size=(8, 3))
    h = x @ m.parameter("0.weight").numpy().T + m.parameter("0.bias").numpy()
    chunks = [4, 4] if isinstance(norm, nn.GhostBatchNorm) else [8]
    want, rm, rv, start = [], np.zeros(6), np.ones(6), 0
    for c in chunks:
        part = h[start:start + c]
        mu, var = part.mean(0), part.var(0)
        want.append((part - mu) / np.sqrt(var + 1e-3))
        rm, rv = 0.5 * rm + 0.5 * mu, 0.5 * rv + 0.5 * part.var(0, ddof=1)
        start += c
    got = m(gradus.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.concatenate(want), rtol=1e-12, atol=1e-12)
    m.eval()
    np.testing.assert_allclose(m(gradus.tensor(x)).numpy(), (h - rm) / np.sqrt(rv + 1e-3), rtol=1e-12, atol=1e-12)
    # The running statistics are buffers saved with the model.
    m.save(tmp_path / "bn.safetensors")
    m2 = nn.Sequential(nn.Linear(3, 6), norm, seed=2, dtype=np.float64).load(tmp_path / "bn.safetensors")
    m2.eval()
    np.testing.assert_array_equal(m2(gradus.tensor(x)).numpy(), m(gradus.tensor(x)).numpy())


def test_batch_norm_layers_reject_bad_configurations():
    for layer in [nn.BatchNorm1d(3, eps=-1), nn.BatchNorm1d(3, momentum=2), nn.BatchNorm1d(0),
                  nn.GhostBatchNorm(3, ghost_batch_size=0), nn.LayerNorm(3, eps=float("nan"))]:
        with pytest.raises(gradus.GradusError) as e:
            nn.Sequential(layer)
        assert e.value.status == gradus.errors.INVALID_ARGUMENT
    m = nn.Sequential(nn.BatchNorm1d(3))
    with pytest.raises(gradus.GradusError):
        m(gradus.tensor(np.ones((1, 3), np.float32)))  # one value per channel in training

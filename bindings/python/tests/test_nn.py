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

import gc
import sys

import numpy as np
import pytest

import gradus


def test_tensor_round_trip_and_queries():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gradus.tensor(a)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and len(t) == 2
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), a)
    d = gradus.tensor([[1.0, 2.0]], dtype=np.float64)
    assert d.dtype == np.float64
    assert gradus.tensor(3.5).item() == 3.5
    assert gradus.tensor(np.zeros((0, 4), np.float32)).shape == (0, 4)


def test_arithmetic_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ta, tb = gradus.tensor(a, dtype=np.float64), gradus.tensor(b, dtype=np.float64)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta - tb).numpy(), a - b)
    np.testing.assert_allclose((ta * tb).numpy(), a * b)
    np.testing.assert_allclose((ta / tb).numpy(), a / b)
    np.testing.assert_allclose((2 * ta + 1).numpy(), 2 * a + 1)
    np.testing.assert_allclose((1 - ta).numpy(), 1 - a)
    np.testing.assert_allclose((-ta).numpy(), -a)
    np.testing.assert_allclose((ta @ tb.T).numpy(), a @ b.T, rtol=1e-12)
    np.testing.assert_allclose(ta.sum().item(), a.sum())
    np.testing.assert_allclose(ta.sum(axis=1).numpy(), a.sum(axis=1))
    np.testing.assert_allclose(ta.mean(axis=0, keepdims=True).numpy(), a.mean(axis=0, keepdims=True))
    np.testing.assert_allclose(ta.relu().numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(ta.exp().numpy(), np.exp(a))
    np.testing.assert_allclose(ta.tanh().numpy(), np.tanh(a))
    np.testing.assert_allclose(ta.sigmoid().numpy(), 1 / (1 + np.exp(-a)))
    sm = np.exp(a) / np.exp(a).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(ta.softmax().numpy(), sm)
    np.testing.assert_allclose(ta.log_softmax().numpy(), np.log(sm))
    np.testing.assert_allclose(ta.reshape(4, 3).numpy(), a.reshape(4, 3))
    np.testing.assert_allclose(ta.reshape(-1).numpy(), a.reshape(-1))
    np.testing.assert_array_equal(ta.argmax(), a.argmax(axis=-1))
    # broadcasting
    np.testing.assert_allclose((ta + gradus.tensor(b[0], dtype=np.float64)).numpy(), a + b[0])


def test_backward_and_grad():
    x = gradus.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert x.requires_grad
    loss = (x * x).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
    x.grad = None
    assert x.grad is None
    x.grad = np.ones(3, dtype=np.float32)
    np.testing.assert_allclose(x.grad.numpy(), [1, 1, 1])
    w = gradus.tensor(np.eye(3), requires_grad=True, dtype=np.float64)
    v = gradus.tensor([[1.0, 2.0, 3.0]], dtype=np.float64)
    (v @ w).relu().mean().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.repeat(v.numpy().T, 3, axis=1) / 3)
    assert not x.detach().requires_grad


def test_gradcheck_composite_float64():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3))
    x = gradus.tensor(a, requires_grad=True, dtype=np.float64)

    def f(t):
        return ((t.tanh() * t).sigmoid().sum(axis=1) ** gradus.tensor(2.0, dtype=np.float64)).sum()

    f(x).backward()
    num = np.zeros_like(a)
    eps = 1e-6
    for i in np.ndindex(a.shape):
        p, m = a.copy(), a.copy()
        p[i] += eps
        m[i] -= eps
        num[i] = (f(gradus.tensor(p, dtype=np.float64)).item() - f(gradus.tensor(m, dtype=np.float64)).item()) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_no_grad():
    x = gradus.tensor([1.0, 2.0], requires_grad=True)
    assert gradus.is_grad_enabled()
    with gradus.no_grad():
        assert not gradus.is_grad_enabled()
        y = x * 2
    assert gradus.is_grad_enabled()
    assert not y.requires_grad

    @gradus.no_grad()
    def f():
        return (x * 3).requires_grad
    assert f() is False


def test_from_numpy_is_zero_copy_and_keeps_the_array_alive():
    a = np.arange(4, dtype=np.float32)
    t = gradus.from_numpy(a)
    a[0] = 42
    assert t.numpy()[0] == 42                   # library sees numpy's write
    t.add_(gradus.tensor(np.ones(4, np.float32)))
    assert a[3] == 4                            # numpy sees the library's write
    ref = sys.getrefcount(a)
    del a
    gc.collect()
    assert t.numpy()[3] == 4                    # still alive through the tensor
    tmod = sys.modules["gradus.tensor"]
    n = len(tmod._lent)
    t.close()
    assert len(tmod._lent) == n - 1             # the deleter released the array
    assert ref >= 2


def test_from_numpy_lends_the_arrays_own_memory():
    # The pointer the library hands back to the deleter is the one it read and wrote: numpy's own.
    tmod = sys.modules["gradus.tensor"]
    del tmod._released_pointers[:]
    for dtype in (np.float32, np.float64):
        a = np.zeros((300, 400), dtype=dtype)
        ptr = a.ctypes.data
        t = gradus.from_numpy(a)
        v = t.reshape(400, 300)                 # a view shares the same storage
        t.add_(gradus.ones([300, 400], dtype=dtype))
        assert a[299, 399] == 1
        t.close()
        assert ptr not in tmod._released_pointers      # the view still holds the storage
        v.close()
        assert tmod._released_pointers[-1] == ptr


def test_closed_tensors_raise_invalid_handle_on_every_fast_path():
    a, b = gradus.tensor([1.0, 2.0]), gradus.tensor([3.0, 4.0])
    b.close()
    for f in (lambda: a + b, lambda: b + a, lambda: b.ndim, lambda: b.shape, lambda: b.dtype, lambda: b.numel(),
              lambda: -b, lambda: a @ b, lambda: b.affine(1, 0), lambda: b * a):
        with pytest.raises(gradus.GradusError) as e:
            f()
        assert e.value.status == 8 and "closed" in e.value.message
    assert (a + a).numpy().tolist() == [2.0, 4.0]


def test_close_and_context_manager():
    with gradus.tensor([1.0]) as t:
        assert t.item() == 1.0
    with pytest.raises(gradus.GradusError) as e:
        t.numpy()
    assert e.value.status == 8
    t.close()  # idempotent


def test_views_keep_parents_alive():
    a = np.arange(6, dtype=np.float32)
    v = gradus.from_numpy(a).reshape(2, 3)
    del a
    gc.collect()
    np.testing.assert_array_equal(v.numpy(), np.arange(6).reshape(2, 3))

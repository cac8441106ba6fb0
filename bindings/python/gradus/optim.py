"""gradus.optim: plain SGD over parameters, with in-place updates done by the library (no recording)."""
from . import _ffi


class SGD:
    def __init__(self, params, lr=0.01):
        self.params = list(params)
        self.lr = float(lr)

    def step(self):
        for p in self.params:
            g = p.grad
            if g is not None:
                p.add_(g, alpha=-self.lr)
                g.close()

    def zero_grad(self):
        for p in self.params:
            _ffi.check(_ffi.gradus_tensor_set_grad(p._handle, None))

"""gradus.optim: the library's optimizers, shaped like torch.optim.

    opt = gradus.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = gradus.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
    for x, y in batches:
        loss = gradus.nn.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()

Every class runs the library's fused implementation (gradus_optimizer_*); defaults follow the papers and
PyTorch. Parameter groups (dicts with "params") each get their own optimizer in the library.
"""
from .. import _ffi
from . import lr_scheduler
from .optimizer import Optimizer

_BETAS = (0.9, 0.999)


class SGD(Optimizer):
    """SGD with optional momentum, dampening, coupled weight decay and Nesterov momentum (torch.optim.SGD)."""
    kind = _ffi.OPTIMIZER_SGD

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient (torch.optim.Adam)."""
    kind = _ffi.OPTIMIZER_ADAM

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))


class AdamW(Optimizer):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay (torch.optim.AdamW)."""
    kind = _ffi.OPTIMIZER_ADAMW

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))


class Adagrad(Optimizer):
    """AdaGrad (Duchi et al. 2011; torch.optim.Adagrad)."""
    kind = _ffi.OPTIMIZER_ADAGRAD

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))


AdaGrad = Adagrad


class AdaGradNorm(Optimizer):
    """AdaGrad-Norm (Ward, Wu & Bottou 2019): one scalar step size from the accumulated gradient norm."""
    kind = _ffi.OPTIMIZER_ADAGRADNORM

    def __init__(self, params, lr=1.0, b0=0.1):
        super().__init__(params, dict(lr=lr, b0=b0))


class AdaGradNormRowwise(Optimizer):
    """Row-wise AdaGrad-Norm: one accumulator per row of each weight matrix."""
    kind = _ffi.OPTIMIZER_ADAGRADNORM_ROWWISE

    def __init__(self, params, lr=1e-2, lr_decay=0.0, initial_accumulator_value=1e-2):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, initial_accumulator_value=initial_accumulator_value))


class DiffGrad(Optimizer):
    """diffGrad (Dubey et al. 2019): Adam damped by the change of the gradient."""
    kind = _ffi.OPTIMIZER_DIFFGRAD

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))


class AdamP(Optimizer):
    """AdamP (Heo et al. 2021): Adam with the radial component of scale-invariant weights projected out."""
    kind = _ffi.OPTIMIZER_ADAMP

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0, delta=0.1, wd_ratio=0.1,
                 nesterov=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, delta=delta,
                                      wd_ratio=wd_ratio, nesterov=nesterov))


class SGDP(Optimizer):
    """SGDP (Heo et al. 2021): SGD with AdamP's projection."""
    kind = _ffi.OPTIMIZER_SGDP

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, eps=1e-8,
                 delta=0.1, wd_ratio=0.1):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, eps=eps, delta=delta, wd_ratio=wd_ratio))


class SPAM(Optimizer):
    """SPAM (Huang et al. 2025): Adam with spike clipping and periodic momentum reset."""
    kind = _ffi.OPTIMIZER_SPAM

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-6, weight_decay=0.0, warmup_steps=150, threshold=5000.0,
                 interval=500):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps, threshold=threshold, interval=interval))


class StableSPAM(Optimizer):
    """Stable-SPAM (Huang et al. 2025): adaptive spike clipping, gradient normalisation and momentum reset
    around Adam. ``total_steps`` (None: unset) enables its schedule-aware parts."""
    kind = _ffi.OPTIMIZER_STABLE_SPAM

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0, gamma1=0.7, gamma2=0.9,
                 gamma3=0.999, total_steps=None, reset_interval=1000):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, gamma1=gamma1,
                                      gamma2=gamma2, gamma3=gamma3, total_steps=total_steps,
                                      reset_interval=reset_interval))


class OrthoSGD(Optimizer):
    """⊥Grad over SGD (Prieto et al. 2025): the gradient component parallel to the weights is removed."""
    kind = _ffi.OPTIMIZER_ORTHOGRAD_SGD

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))


class OrthoAdam(Optimizer):
    """⊥Grad over Adam (Prieto et al. 2025)."""
    kind = _ffi.OPTIMIZER_ORTHOGRAD_ADAM

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))


def OrthoGrad(params, base="sgd", **kwargs):
    """⊥Grad wrapping a base optimizer: ``base`` is "sgd"/"adam" or the class SGD/Adam."""
    bases = {"sgd": OrthoSGD, SGD: OrthoSGD, "adam": OrthoAdam, Adam: OrthoAdam}
    if base not in bases:
        raise ValueError(f"OrthoGrad base must be 'sgd', 'adam', SGD or Adam, got {base!r}")
    return bases[base](params, **kwargs)


class PerpAdamW(Optimizer):
    """⊥AdamW (Prieto et al. 2025): AdamW on the orthogonalised gradient."""
    kind = _ffi.OPTIMIZER_PERP_ADAMW

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))


class Adam8bit(Optimizer):
    """8-bit Adam (Dettmers et al. 2022; bitsandbytes.optim.Adam8bit): both moments stored blockwise in 8 bits,
    tensors below ``min_8bit_size`` elements in float. Weight decay is decoupled, as in bitsandbytes."""
    kind = _ffi.OPTIMIZER_ADAM8BIT

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0, min_8bit_size=4096):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      min_8bit_size=min_8bit_size))


class AdamW8bit(Optimizer):
    """8-bit AdamW (bitsandbytes.optim.AdamW8bit): Adam8bit with weight decay 1e-2 by default."""
    kind = _ffi.OPTIMIZER_ADAMW8BIT

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=1e-2, min_8bit_size=4096):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      min_8bit_size=min_8bit_size))


class StableSPAM8bit(Optimizer):
    """Stable-SPAM (Huang et al. 2025) with its Adam moments stored in 8 bits (see StableSPAM and Adam8bit)."""
    kind = _ffi.OPTIMIZER_STABLE_SPAM_8BIT

    def __init__(self, params, lr=1e-3, betas=_BETAS, eps=1e-8, weight_decay=0.0, gamma1=0.7, gamma2=0.9,
                 gamma3=0.999, total_steps=None, reset_interval=1000, min_8bit_size=4096):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, gamma1=gamma1,
                                      gamma2=gamma2, gamma3=gamma3, total_steps=total_steps,
                                      reset_interval=reset_interval, min_8bit_size=min_8bit_size))


__all__ = ["AdaGrad", "AdaGradNorm", "AdaGradNormRowwise", "Adagrad", "Adam", "Adam8bit", "AdamP", "AdamW", "AdamW8bit", "DiffGrad",
           "Optimizer", "OrthoAdam", "OrthoGrad", "OrthoSGD", "PerpAdamW", "SGD", "SGDP", "SPAM", "StableSPAM", "StableSPAM8bit",
           "lr_scheduler"]

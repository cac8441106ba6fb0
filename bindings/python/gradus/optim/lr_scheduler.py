"""gradus.optim.lr_scheduler: learning-rate schedules shaped like torch.optim.lr_scheduler.

A scheduler sets ``param_group["lr"]`` (which writes through to the library) to ``f(t)`` for t = 0, 1, ...:
construct it after the optimizer (t = 0 is applied at once), call ``step()`` after each ``optimizer.step()``.
The closed forms are those of the library's GRADUS_SCHEDULE_* kinds (and of PyTorch's chainable forms).
``refine`` derives a schedule from a previous run's gradient norms (the library's gradus_schedule_refine);
``PiecewiseLR`` applies it.
"""
import ctypes
import math

from .. import _ffi


class LRScheduler:
    """Base class: subclasses implement ``factor(t, base_lr)`` -> the learning rate at step t."""

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, t, base_lr):
        raise NotImplementedError

    def get_last_lr(self):
        return list(self._last_lr)

    def step(self):
        self.last_epoch += 1
        self._last_lr = [self.lr_at(self.last_epoch, b) for b in self.base_lrs]
        for g, lr in zip(self.optimizer.param_groups, self._last_lr):
            g["lr"] = lr

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state):
        self.base_lrs = list(state["base_lrs"])
        self.last_epoch = state["last_epoch"] - 1
        self.step()


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(t)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr):
        return base_lr * float(self.lr_lambda(t))


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (t // step_size) (GRADUS_SCHEDULE_STEP)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr):
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** t."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr):
        return base_lr * self.gamma ** t


class LinearLR(LRScheduler):
    """lr = base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)
    (torch.optim.lr_scheduler.LinearLR). start_factor=1, end_factor=0 is GRADUS_SCHEDULE_LINEAR."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if int(total_iters) <= 0:
            raise ValueError(f"total_iters must be positive, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = float(start_factor), float(end_factor), int(total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr):
        p = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * p)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min)(1 + cos(pi t / T_max)) / 2 (closed form; GRADUS_SCHEDULE_COSINE)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if int(T_max) <= 0:
            raise ValueError(f"T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class _Warmup(LRScheduler):
    def __init__(self, optimizer, warmup_steps, total_steps, last_epoch=-1):
        warmup_steps, total_steps = int(warmup_steps), int(total_steps)
        if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"need 0 <= warmup_steps <= total_steps and total_steps > 0, got {warmup_steps}, "
                             f"{total_steps}")
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        super().__init__(optimizer, last_epoch)


class WarmupLinearLR(_Warmup):
    """lr = base_lr * t / warmup_steps during warm-up, then linear decay to 0 at total_steps
    (GRADUS_SCHEDULE_WARMUP_LINEAR)."""

    def lr_at(self, t, base_lr):
        if t < self.warmup_steps:
            return base_lr * t / self.warmup_steps
        return base_lr * max(0.0, (self.total_steps - t) / max(1, self.total_steps - self.warmup_steps))


class WarmupCosineLR(_Warmup):
    """lr = base_lr * t / warmup_steps during warm-up, then cosine decay to 0 at total_steps
    (GRADUS_SCHEDULE_WARMUP_COSINE)."""

    def lr_at(self, t, base_lr):
        if t < self.warmup_steps:
            return base_lr * t / self.warmup_steps
        p = (t - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return base_lr * max(0.0, (1 + math.cos(math.pi * p)) / 2)


class PiecewiseLR(LRScheduler):
    """lr = base_lr * multipliers[min(t, len(multipliers) - 1)] (GRADUS_SCHEDULE_PIECEWISE), e.g. the output of
    ``refine``. The multipliers are copied; they must be finite, >= 0, and at least one."""

    def __init__(self, optimizer, multipliers, last_epoch=-1):
        m = [float(v) for v in multipliers]
        if not m or not all(math.isfinite(v) and v >= 0 for v in m):
            raise ValueError("multipliers must be a non-empty sequence of finite values >= 0")
        self.multipliers = m
        super().__init__(optimizer, last_epoch)

    def lr_at(self, t, base_lr):
        return base_lr * self.multipliers[min(t, len(self.multipliers) - 1)]


def refine(gradient_norms, power=2.0, tau=0.1):
    """Schedule refinement (Defazio et al., "When, Why and How Much?"): learning-rate multipliers for a new run
    from the gradient norms logged in a previous run of the same setup, one per norm, with maximum 1 and a last
    value of 0. Use l2 norms with power 2 for SGD-type optimizers, l1 norms with power 1 for Adam-type; tau is the
    median filter's width as a fraction of the run (0.1 as the paper). Returns a list of floats; pass it to
    ``PiecewiseLR``. O(n log n). Raises GradusError (INVALID_ARGUMENT) for fewer than 2 norms, a norm that is not
    finite and positive, a power that is not finite and positive (or so large that |power * ln(norm)| > 1e300), a
    tau that is negative or not finite, or more than 2^26 values once padded by twice the window."""
    norms = [float(v) for v in gradient_norms]
    n = len(norms)
    g = (ctypes.c_double * max(n, 1))(*norms)
    out = (ctypes.c_double * max(n, 1))()
    _ffi.check(_ffi.gradus_schedule_refine(g, n, float(power), float(tau), out))
    return list(out[:n])


__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "PiecewiseLR", "StepLR",
           "WarmupCosineLR", "WarmupLinearLR", "refine"]

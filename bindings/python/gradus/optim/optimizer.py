"""gradus.optim.Optimizer: a torch.optim-shaped front end over the library's optimizers (gradus_optimizer_*).

Each parameter group is one C optimizer over that group's tensors; its hyperparameters live in the group's
dict (``opt.param_groups[i]``), and assigning a key a live optimizer can change (lr, weight_decay, betas, eps,
momentum) updates the library at once. The update itself runs fused inside the library.
"""
import ctypes
import weakref

import numpy as np

from .. import _ffi
from .._lifetime import Closeable
from ..errors import GradusError
from ..tensor import Tensor, tensor

# Python name -> GRADUS_HPARAM_* key, for the scalar hyperparameters (betas is split into BETA1/BETA2).
_KEYS = {
    "lr": _ffi.HPARAM_LR, "weight_decay": _ffi.HPARAM_WEIGHT_DECAY, "eps": _ffi.HPARAM_EPS,
    "momentum": _ffi.HPARAM_MOMENTUM, "dampening": _ffi.HPARAM_DAMPENING, "nesterov": _ffi.HPARAM_NESTEROV,
    "lr_decay": _ffi.HPARAM_LR_DECAY, "initial_accumulator_value": _ffi.HPARAM_INITIAL_ACCUMULATOR,
    "b0": _ffi.HPARAM_B0, "delta": _ffi.HPARAM_DELTA, "wd_ratio": _ffi.HPARAM_WD_RATIO,
    "warmup_steps": _ffi.HPARAM_WARMUP_STEPS, "threshold": _ffi.HPARAM_THRESHOLD, "interval": _ffi.HPARAM_INTERVAL,
    "gamma1": _ffi.HPARAM_GAMMA1, "gamma2": _ffi.HPARAM_GAMMA2, "gamma3": _ffi.HPARAM_GAMMA3,
    "total_steps": _ffi.HPARAM_TOTAL_STEPS, "reset_interval": _ffi.HPARAM_RESET_INTERVAL,
    "min_8bit_size": _ffi.HPARAM_MIN_8BIT_SIZE,
}
# Keys a live optimizer can change (gradus_optimizer_set_hparam); the rest are fixed at creation.
_LIVE = {"lr", "weight_decay", "betas", "eps", "momentum"}


def _pairs(name, value):
    """[(GRADUS_HPARAM_*, float)] for one Python hyperparameter (None: not given)."""
    if value is None:
        return []
    if name == "betas":
        b1, b2 = value
        return [(_ffi.HPARAM_BETA1, float(b1)), (_ffi.HPARAM_BETA2, float(b2))]
    if name not in _KEYS:
        raise ValueError(f"unknown hyperparameter {name!r}")
    return [(_KEYS[name], float(value))]


class _Group(dict):
    """One parameter group: a dict of hyperparameters (and "params") whose live keys write through."""

    def __init__(self, owner, handle, values):
        super().__init__(values)
        self._owner = owner
        self._handle = handle

    def __setitem__(self, key, value):
        if key in _LIVE and self._handle is not None and self.get(key) != value:
            for k, v in _pairs(key, value):
                _ffi.check(_ffi.gradus_optimizer_set_hparam(self._owner._live(self._handle), k, v))
        elif key not in _LIVE and key in self and key != "params" and self.get(key) != value:
            raise GradusError(7, f"{key} is fixed when the optimizer is created (only {sorted(_LIVE)} change later)")
        super().__setitem__(key, value)


class Optimizer(Closeable):
    """Base class: ``kind`` is the GRADUS_OPTIMIZER_* value; ``defaults`` the hyperparameters (Python names).

    params: an iterable of Tensors, or of dicts ``{"params": [...], <hyperparameter overrides>}`` (param groups).
    """
    kind = None

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, not a Tensor")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self._handles = []
        self._finalizer = weakref.finalize(self, Optimizer._destroy_all, self._handles)
        for g in groups:
            self.add_param_group(g)

    @staticmethod
    def _destroy_all(handles):
        for h in handles:
            _ffi.gradus_optimizer_destroy(h)
        handles.clear()

    def _live(self, handle):
        if not self._finalizer.alive:
            raise GradusError(8, "optimizer is closed")
        return handle

    def add_param_group(self, group):
        """Adds a group (a dict with "params" and optional overrides of the defaults): a new C optimizer."""
        group = dict(group)
        ps = group.pop("params")
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer params must be gradus Tensors, got {type(p).__name__}")
        unknown = set(group) - set(self.defaults)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no hyperparameter(s) {sorted(unknown)}")
        values = {**self.defaults, **group}
        pairs = [kv for name, v in values.items() for kv in _pairs(name, v)]
        opts = _ffi.new_options(_ffi.gradus_optimizer_options)
        keys = _ffi.int_array(ctypes.c_int32, [k for k, _ in pairs], "hyperparameter key")
        vals = (ctypes.c_double * max(len(pairs), 1))(*[v for _, v in pairs])
        opts.hparam_keys, opts.hparam_values, opts.hparam_count = keys, vals, len(pairs)
        handles = (ctypes.c_void_p * max(len(ps), 1))(*[p._handle for p in ps])
        out = ctypes.c_void_p()
        _ffi.check(_ffi.gradus_optimizer_create(self.kind, handles, len(ps), ctypes.byref(opts), ctypes.byref(out)))
        self._handles.append(out)
        self.param_groups.append(_Group(self, out, {"params": ps, **values}))

    # ---- lifetime ----
    # close(), with-blocks: Closeable. Closing frees the library's optimizers (their state); the parameters stay.

    # ---- training ----
    def step(self, closure=None):
        """One update of every parameter from its gradient. ``closure`` (re-evaluates the loss) is optional."""
        loss = closure() if closure is not None else None
        for g in self.param_groups:
            _ffi.check(_ffi.gradus_optimizer_step(self._live(g._handle)))
        return loss

    def zero_grad(self, set_to_none=True):
        """Clears every parameter's gradient (gradients are always dropped, as with set_to_none=True)."""
        for g in self.param_groups:
            _ffi.check(_ffi.gradus_optimizer_zero_grad(self._live(g._handle)))

    def current_lr(self, group=0):
        """The learning rate the next step of ``group`` uses."""
        out = ctypes.c_double()
        _ffi.check(_ffi.gradus_optimizer_get_lr(self._live(self.param_groups[group]._handle), ctypes.byref(out)))
        return out.value

    def get_hparam(self, name, group=0):
        """The library's current value of a live hyperparameter of ``group`` ("lr" is the schedule's peak;
        "betas" gives the pair); raises GradusError for one the optimizer does not have."""
        h = self._live(self.param_groups[group]._handle)
        keys = [_ffi.HPARAM_BETA1, _ffi.HPARAM_BETA2] if name == "betas" else [_KEYS.get(name, -1)]
        values = []
        for k in keys:
            out = ctypes.c_double()
            _ffi.check(_ffi.gradus_optimizer_get_hparam(h, k, ctypes.byref(out)))
            values.append(out.value)
        return tuple(values) if name == "betas" else values[0]

    @property
    def step_count(self):
        """Steps taken (of the first group)."""
        out = ctypes.c_int64()
        _ffi.check(_ffi.gradus_optimizer_step_count(self._live(self.param_groups[0]._handle), ctypes.byref(out)))
        return out.value

    # ---- state ----
    @staticmethod
    def _group_state(handle):
        n = ctypes.c_size_t()
        _ffi.check(_ffi.gradus_optimizer_state_count(handle, ctypes.byref(n)))
        out = {}
        for i in range(n.value):
            size = ctypes.c_size_t()
            _ffi.check(_ffi.gradus_optimizer_state_name(handle, i, None, 0, ctypes.byref(size)))
            buf = ctypes.create_string_buffer(size.value + 1)
            _ffi.check(_ffi.gradus_optimizer_state_name(handle, i, buf, len(buf), ctypes.byref(size)))
            t = ctypes.c_void_p()
            _ffi.check(_ffi.gradus_optimizer_state_get(handle, i, ctypes.byref(t)))
            with Tensor(t.value) as tt:
                out[buf.value.decode()] = tt.numpy()
        return out

    def state_dict(self):
        """{"state": [per group {name: float64 array}], "param_groups": [hyperparameters per group]}."""
        return {
            "state": [self._group_state(self._live(g._handle)) for g in self.param_groups],
            "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups],
        }

    def load_state_dict(self, state_dict):
        """Restores ``state_dict()`` of an optimizer of the same kind over parameters of the same shapes."""
        states, groups = state_dict["state"], state_dict["param_groups"]
        if len(states) != len(self.param_groups) or len(groups) != len(self.param_groups):
            raise ValueError(f"state has {len(states)} groups, the optimizer {len(self.param_groups)}")
        for g, st, hp in zip(self.param_groups, states, groups):
            names = list(st)
            tensors = [tensor(np.asarray(st[n], dtype=np.float64), dtype=np.float64) for n in names]
            c_names = (ctypes.c_char_p * max(len(names), 1))(*[n.encode() for n in names])
            c_tensors = (ctypes.c_void_p * max(len(names), 1))(*[t._handle for t in tensors])
            _ffi.check(_ffi.gradus_optimizer_load_state(self._live(g._handle), c_names, c_tensors, len(names)))
            for t in tensors:
                t.close()
            for k in _LIVE & set(hp):
                g[k] = tuple(hp[k]) if k == "betas" else hp[k]

    def save(self, path):
        """Writes the state to a safetensors file (single-group optimizers; else use state_dict)."""
        if len(self.param_groups) != 1:
            raise ValueError("save() writes one parameter group; use state_dict() for several")
        _ffi.check(_ffi.gradus_optimizer_save(self._live(self.param_groups[0]._handle), str(path).encode()))

    def load(self, path):
        """Reads a state written by save()."""
        if len(self.param_groups) != 1:
            raise ValueError("load() reads one parameter group; use load_state_dict() for several")
        _ffi.check(_ffi.gradus_optimizer_load(self._live(self.param_groups[0]._handle), str(path).encode()))
        return self

    def __repr__(self):
        hp = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hp})"


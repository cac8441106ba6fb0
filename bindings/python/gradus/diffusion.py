"""gradus.diffusion: class-conditional diffusion models, mirroring the "Diffusion" section of gradus.h.

    import numpy as np, gradus
    from gradus import diffusion
    sched = diffusion.NoiseSchedule("cosine")
    model = diffusion.MLPDenoiser(data_dim=2, num_classes=4, hidden=64)
    losses = diffusion.train(model, sched, gradus.optim.Adam(model.parameters(), lr=2e-3), x, y, steps=500)
    s = diffusion.sample(model, sched, labels=[0] * 64, guidance="apg", scale=10, steps=30, seed=1)
    diffusion.save_image_grid(s, "apg.png", labels=[0] * 64)

A denoiser is a gradus model (``parameters()``, ``save``/``load``, ``gradus.optim`` optimizers); calling it takes
timesteps and labels besides x. Label ``num_classes`` is the null label: models are trained with label dropout, so
one model gives the conditional and the unconditional prediction that CFG and APG combine. Every failure raises
gradus.GradusError.
"""
import ctypes
import weakref

import numpy as np

from . import _ffi
from ._lifetime import Closeable
from .errors import INVALID_ARGUMENT, INVALID_HANDLE, SHAPE_MISMATCH, GradusError
from .nn import Sequential, _labels
from .optim import Adam
from .tensor import Tensor, _result, as_tensor

_KINDS = {"linear": _ffi.NOISE_SCHEDULE_LINEAR, "scaled_linear": _ffi.NOISE_SCHEDULE_SCALED_LINEAR,
          "cosine": _ffi.NOISE_SCHEDULE_COSINE, "squaredcos_cap_v2": _ffi.NOISE_SCHEDULE_COSINE}
_SPACINGS = {"leading": _ffi.TIMESTEP_SPACING_LEADING, "trailing": _ffi.TIMESTEP_SPACING_TRAILING,
             "linspace": _ffi.TIMESTEP_SPACING_LINSPACE}
_PREDICTIONS = {"epsilon": _ffi.PREDICTION_EPSILON, "v_prediction": _ffi.PREDICTION_V, "v": _ffi.PREDICTION_V,
                "sample": _ffi.PREDICTION_SAMPLE, "flow": _ffi.PREDICTION_FLOW}
_SAMPLERS = {"ddpm": _ffi.SAMPLER_DDPM, "ddim": _ffi.SAMPLER_DDIM, "flow_euler": _ffi.SAMPLER_FLOW_EULER,
             "euler": _ffi.SAMPLER_FLOW_EULER}
_GUIDANCE = {"none": _ffi.GUIDANCE_NONE, None: _ffi.GUIDANCE_NONE, "cfg": _ffi.GUIDANCE_CFG,
             "cfg_rescale": _ffi.GUIDANCE_CFG_RESCALE, "apg": _ffi.GUIDANCE_APG}
_FORMULATIONS = {"diffusers": _ffi.GUIDANCE_FORMULATION_DIFFUSERS, "original": _ffi.GUIDANCE_FORMULATION_ORIGINAL}
_SPACES = {"model_output": _ffi.GUIDANCE_SPACE_MODEL_OUTPUT, "x0": _ffi.GUIDANCE_SPACE_X0}


def _choice(table, name, what):
    key = name.replace("-", "_").lower() if isinstance(name, str) else name
    if key not in table:
        names = ", ".join(sorted(k for k in table if isinstance(k, str)))
        raise GradusError(INVALID_ARGUMENT, f"unknown {what} {name!r} (one of: {names})")
    return table[key]


def _i32p(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


class NoiseSchedule(Closeable):
    """The forward process (gradus_noise_schedule): betas of ``kind`` ("linear", "scaled_linear", "cosine") over
    ``train_steps``, optionally rescaled to zero terminal SNR; what the model predicts ("epsilon", "v_prediction",
    "sample", or "flow" for rectified flow); how sampling timesteps are spaced ("leading", "trailing", "linspace").
    beta_start/beta_end default to the kind's (diffusers) values."""

    def __init__(self, kind="cosine", train_steps=1000, beta_start=None, beta_end=None, max_beta=0.999,
                 zero_terminal_snr=False, spacing="leading", steps_offset=0, prediction="epsilon", flow_shift=1.0):
        o = _ffi.new_options(_ffi.gradus_noise_schedule_options, _choice(_KINDS, kind, "noise schedule"))
        o.train_steps = int(train_steps)
        if beta_start is not None:
            o.beta_start = float(beta_start)
        if beta_end is not None:
            o.beta_end = float(beta_end)
        o.max_beta = float(max_beta)
        o.zero_terminal_snr = 1 if zero_terminal_snr else 0
        o.spacing = _choice(_SPACINGS, spacing, "timestep spacing")
        o.steps_offset = int(steps_offset)
        o.prediction = _choice(_PREDICTIONS, prediction, "prediction type")
        o.flow_shift = float(flow_shift)
        out = ctypes.c_void_p()
        _ffi.check(_ffi.gradus_noise_schedule_create(ctypes.byref(o), ctypes.byref(out)))
        self._h = out
        self._finalizer = weakref.finalize(self, _ffi.gradus_noise_schedule_destroy, out)
        self.kind, self.train_steps, self.prediction = kind, int(train_steps), prediction
        self.is_flow = o.prediction == _ffi.PREDICTION_FLOW

    @property
    def _handle(self):
        if not self._finalizer.alive:
            raise GradusError(INVALID_HANDLE, "noise schedule is closed")
        return self._h

    @property
    def alphas_cumprod(self):
        """abar_t for t = 0 .. train_steps - 1 (numpy float64)."""
        with _result(_ffi.gradus_noise_schedule_alphas_cumprod, self._handle) as t:
            return t.numpy()

    def timesteps(self, steps):
        """Model timesteps of a ``steps``-step sampling chain, noisiest first (numpy float64)."""
        n = int(steps)
        buf = (ctypes.c_double * max(n, 1))()
        _ffi.check(_ffi.gradus_noise_schedule_timesteps(self._handle, n, buf, max(n, 0)))
        return np.array(buf[:n], dtype=np.float64)

    def __repr__(self):
        return f"NoiseSchedule({self.kind!r}, train_steps={self.train_steps}, prediction={self.prediction!r})"


class Denoiser(Sequential):
    """A class-conditional denoiser (a gradus model). ``model(x, timesteps, labels)`` gives the prediction
    (recorded for autodiff); labels run 0..num_classes, num_classes meaning unconditional."""

    def __init__(self, kind, fields, dtype=np.float32, seed=0):
        o = _ffi.new_options(_ffi.gradus_denoiser_options, kind)
        for k, v in fields.items():
            setattr(o, k, int(v))
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise GradusError(INVALID_ARGUMENT, f"denoisers are float32 or float64, not {self.dtype}")
        dt = _ffi.DTYPE_FLOAT64 if self.dtype == np.float64 else _ffi.DTYPE_FLOAT32
        out = ctypes.c_void_p()
        _ffi.check(_ffi.gradus_model_create_denoiser(ctypes.byref(o), dt, int(seed), ctypes.byref(out)))
        self._h = out
        self._finalizer = weakref.finalize(self, _ffi.gradus_model_destroy, out)
        self.layers = []
        self.num_classes = int(o.num_classes)
        self._fields = dict(fields)

    def __call__(self, x, timesteps, labels):
        return self.denoise(x, timesteps, labels)

    def forward(self, x, timesteps=None, labels=None):
        if timesteps is None or labels is None:
            raise GradusError(INVALID_ARGUMENT, "a denoiser needs timesteps and labels: model(x, timesteps, labels)")
        return self.denoise(x, timesteps, labels)

    def denoise(self, x, timesteps, labels):
        """The prediction for x (B, sample shape...) with one timestep and one label per row."""
        x = as_tensor(x, dtype=self.dtype)
        lab = _labels(labels)
        ts = np.ascontiguousarray(np.asarray(timesteps, dtype=np.float64).reshape(-1))
        if ts.size == 1 and lab.size != 1:
            ts = np.full(lab.size, ts[0])
        if ts.size != lab.size:
            raise GradusError(SHAPE_MISMATCH, f"{ts.size} timesteps for {lab.size} labels")
        return _result(_ffi.gradus_model_denoise, self._h, x._handle,
                       ts.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), _i32p(lab), lab.size)

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v}" for k, v in self._fields.items()) + ")"


class MLPDenoiser(Denoiser):
    """Conditional MLP for points (B, data_dim): ``depth`` SiLU layers ``hidden`` wide, time and class embeddings
    added to each."""

    def __init__(self, data_dim=2, num_classes=10, hidden=128, depth=3, dtype=np.float32, seed=0):
        super().__init__(_ffi.DENOISER_MLP, dict(data_dim=data_dim, num_classes=num_classes, hidden=hidden,
                                                 depth=depth), dtype, seed)
        self.sample_shape = (int(data_dim),)


class ConvDenoiser(Denoiser):
    """Conditional one-level U-Net for images (B, channels, height, width) with even sizes (28x28 by default)."""

    def __init__(self, num_classes=10, channels=1, height=28, width=28, base_width=16, dtype=np.float32, seed=0):
        super().__init__(_ffi.DENOISER_CONV, dict(num_classes=num_classes, channels=channels, height=height,
                                                  width=width, base_width=base_width), dtype, seed)
        self.sample_shape = (int(channels), int(height), int(width))


def train(model, schedule, optimizer, x, labels, steps=100, batch_size=128, label_dropout=0.1, seed=0):
    """Trains ``model`` on (x, labels) for ``steps`` optimizer steps with label dropout; returns the losses (numpy).

    optimizer: a single-group gradus.optim optimizer over the model's parameters, or None for Adam at lr 1e-3.
    x: (N, sample shape...) array or Tensor; labels: N classes in 0..num_classes-1. batch_size rows are drawn per
    step (with replacement; 0 = all rows). Same inputs and seed give the same model."""
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=1e-3)
    if len(optimizer.param_groups) != 1:
        raise GradusError(INVALID_ARGUMENT, "diffusion.train takes an optimizer with one parameter group")
    x = as_tensor(x, dtype=model.dtype)
    lab = _labels(labels)
    o = _ffi.new_options(_ffi.gradus_diffusion_train_options)
    o.steps, o.batch_size, o.label_dropout, o.seed = int(steps), int(batch_size), float(label_dropout), int(seed)
    losses = (ctypes.c_double * max(int(steps), 1))()
    _ffi.check(_ffi.gradus_diffusion_train(model._h, schedule._handle, optimizer._live(optimizer.param_groups[0]._handle),
                                           x._handle, _i32p(lab), lab.size, ctypes.byref(o), losses))
    return np.array(losses[:max(int(steps), 0)], dtype=np.float64)


def sample(model, schedule, labels, steps=50, sampler=None, eta=0.0, guidance="cfg", scale=7.5,
           formulation="diffusers", guidance_rescale=None, apg_eta=1.0, apg_norm_threshold=15.0, apg_momentum=0.0,
           norm_dims=None, space="model_output", seed=0):
    """Draws one sample per label (num_classes: unconditional) as a float32 Tensor (N, sample shape...).

    sampler: "ddpm", "ddim" (eta) or "flow_euler" (None: flow_euler for flow schedules, else ddim).
    guidance: "none", "cfg", "cfg_rescale" or "apg"; scale is the guidance scale (diffusers' form u + s(c - u),
    or c + s(c - u) with formulation="original"). guidance_rescale: phi (None: 0.7 for cfg_rescale, else 0).
    APG: apg_eta (weight of the parallel part; diffusers 1, the paper 0), apg_norm_threshold r, apg_momentum beta
    (0: none; the paper uses -0.5), norm_dims (axes; None = all but the batch). space: "model_output" or "x0"."""
    kind = _choice(_GUIDANCE, guidance, "guidance")
    o = _ffi.new_options(_ffi.gradus_sample_options, kind)
    if sampler is None:
        sampler = "flow_euler" if schedule.is_flow else "ddim"
    o.sampler = _choice(_SAMPLERS, sampler, "sampler")
    o.steps, o.eta, o.scale = int(steps), float(eta), float(scale)
    o.formulation = _choice(_FORMULATIONS, formulation, "guidance formulation")
    if guidance_rescale is not None:
        o.guidance_rescale = float(guidance_rescale)
    o.apg_eta, o.apg_norm_threshold, o.apg_momentum = float(apg_eta), float(apg_norm_threshold), float(apg_momentum)
    dims = None
    if norm_dims is not None:
        dims = _ffi.int_array(ctypes.c_int32, norm_dims, "norm_dims entry")
        o.apg_norm_dims, o.apg_norm_dim_count = ctypes.cast(dims, ctypes.POINTER(ctypes.c_int32)), len(norm_dims)
    o.space = _choice(_SPACES, space, "guidance space")
    o.seed = int(seed)
    lab = _labels(labels)
    return _result(_ffi.gradus_diffusion_sample, model._h, schedule._handle, ctypes.byref(o), _i32p(lab), lab.size)


def save_image_grid(samples, path, labels=None, columns=8, value_range=(-1.0, 1.0), padding=2, upscale=1,
                    plot_size=256, plot_extent=4.0):
    """Writes samples as a PNG: images (N, 1 or 3, H, W) as a grid (value_range mapped to black..white), or 2-D
    points (N, 2) as a scatter plot coloured by ``labels``."""
    t = as_tensor(samples)
    o = _ffi.new_options(_ffi.gradus_image_grid_options)
    o.columns, o.padding, o.upscale, o.plot_size = int(columns), int(padding), int(upscale), int(plot_size)
    o.value_min, o.value_max = float(value_range[0]), float(value_range[1])
    o.plot_extent = float(plot_extent)
    lab = _labels(labels) if labels is not None else None
    _ffi.check(_ffi.gradus_image_grid_save(t._handle, _i32p(lab) if lab is not None else None,
                                           0 if lab is None else lab.size, ctypes.byref(o), str(path).encode()))
    return str(path)


__all__ = ["ConvDenoiser", "Denoiser", "MLPDenoiser", "NoiseSchedule", "sample", "save_image_grid", "train"]

"""The pre-training recipe: every knob in one frozen dataclass, and the per-micrograph draw.

Why a recipe object: the shipped backbone must be reproducible from the repository alone. A
:class:`PretrainConfig` plus its seed fixes every simulated micrograph, the model's random
initialisation, the batch order and the optimizer schedule, and it is written into the weights'
metadata so the model card can say exactly what the backbone saw.

Why these particle types: the demo (and the simulator's defaults) use one 160 A protein made with
``type_seed`` 0. The backbone must not have seen that protein, or the demo would measure memory,
not few-shot adaptation. Pre-training therefore uses *other* proteins: diameters outside
:data:`DEMO_EXCLUDED_BAND_A` and shape seeds from :data:`PRETRAIN_TYPE_SEED_BASE` on (never 0),
several types per micrograph, each micrograph drawing its own SNR, defocus, pixel size, density,
noise colour and junk. The pixel size varies (so apparent sizes in pixels overlap the demo's
40 px, as real data sets of many pixel sizes do), but the 3-D shapes never repeat the demo's.

Why so many kinds of field (recipe v2): the v1 backbone saw sparse blobs in one rendering style
and transferred poorly to real micrographs. Each micrograph now draws a shape family per protein
(:mod:`samcryo_core.simulate.shapes`), a coverage from sparse to 40 % with touching particles,
ice-thickness gradients, every kind of junk (carbon, ice, ethane, holes, crystals, aggregates,
filaments) and an export style (raw float or counts MRC, CryoPPP-style 8-bit PNG/JPG, denoised),
and a share of the examples are real labelled micrographs
(:mod:`samcryo_core.pretraining.real`), any data set of which can be left out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from samcryo_core.errors import ConfigError
from samcryo_core.simulate import FAMILIES, STYLES, SimulationParams

#: The demo's particle: 160 A, simulator ``type_seed`` 0 (``samcryo simulate`` defaults).
DEMO_DIAMETER_A = 160.0
DEMO_TYPE_SEED = 0
#: No pre-training protein has a diameter in this band around the demo's (Angstrom).
DEMO_EXCLUDED_BAND_A = (145.0, 175.0)
#: Pre-training proteins: their diameters (A) and the first of their shape seeds.
PRETRAIN_DIAMETERS_A = (96.0, 112.0, 128.0, 140.0, 180.0, 200.0, 224.0, 250.0)
PRETRAIN_TYPE_SEED_BASE = 1000
#: With ``more_junk``, each of filaments, ethane, holes in the ice and ice crystals appears on
#: this share of the micrographs (a model tile is only ~25 particle diameters wide: more would
#: bury the particles).
MORE_JUNK_PROBABILITY = 0.2


def _check_pair(value: tuple[float, float], key: str, lo: float = 0.0) -> None:
    if len(value) != 2 or not lo <= value[0] <= value[1]:
        raise ConfigError(
            f"pretrain.{key}",
            f"expected (low, high) with {lo} <= low <= high, got {value!r}",
            "give two numbers, the smaller first",
        )


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a pre-training run (see docs/demo_backbone.md).

    Model and optimisation
        variant: SAM variant trained from scratch (``cpu_small``; ``tiny`` for tests).
        steps: optimizer steps (the run is deterministic for a fixed ``steps`` and ``seed``).
        batch_size: micrographs per step (each one freshly simulated, never repeated).
        lr: peak AdamW learning rate; weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up; then a cosine decay to ``min_lr_fraction * lr``.
        grad_clip: global gradient-norm clip (ViTs trained from scratch spike without it).
        template_init: start the patch embedding as matched blob filters (see ``init.py``).
        seed: seeds the model initialisation and every simulated micrograph.
        threads: torch CPU threads.
        max_minutes: stop early after this much wall time (None: run all ``steps``). A time
            limit makes the result depend on the machine's speed: use ``steps`` for releases.

    Simulated data (one draw per micrograph, see :func:`draw_simulation_params`)
        micrograph_size: simulated micrograph side in pixels (binned to the working scale by
            ``normalize_micrograph``, exactly as users' micrographs are, then one model tile cut).
        particle_px: the working scale the backbone is trained at (diameter in model-input px;
            recorded in the exported metadata as its ``working_scale``).
        scale_jitter: training micrographs are binned to ``particle_px`` times a factor drawn
            log-uniformly in ``[1 / (1 + j), 1 + j]``, so the backbone tolerates size errors and
            mixed samples (validation uses ``particle_px`` exactly).
        pixel_size_A: (low, high) pixel size, Angstrom.
        diameters_A: the pre-training proteins' diameters (none inside the demo's band).
        type_seeds: number of different 3-D shapes per diameter (seeds base, base + 1, ...).
        type_seed_base: first shape seed (never the demo's 0).
        types_per_micrograph: (low, high) number of proteins mixed on one micrograph.
        n_particles: (low, high) particles attempted per micrograph.
        touching_fraction: (low, high) fraction of deliberately touching particles.
        snr: (low, high) SNR, drawn log-uniformly (the target range).
        snr_start, curriculum_fraction: SNR curriculum. The first micrographs are drawn from
            ``snr_start`` (particles plainly visible), and both ends of the range move
            log-linearly to ``snr`` over the first ``curriculum_fraction`` of the steps. Without
            it a from-scratch ViT on SNR 0.003-0.03 predicted only background for 60 steps
            (loss flat at 1.25); with it the model first learns what a particle is, then how
            to find it in noise.
        defocus_um: (low, high) defocus, micrometres.
        dose_e_per_A2: (low, high) dose (sets the noise level together with the pixel size).
        noise_low_freq_rise: (low, high) extra low-frequency noise power.
        detector_cutoff: (low, high) detector half-power frequency, cycles/pixel.
        junk: carbon edges, ice and aggregates on (they are background in the targets).
        more_junk: also filaments (1-2), an ethane cluster, a hole in the ice and an ice crystal,
            each on :data:`MORE_JUNK_PROBABILITY` of the micrographs.
        shape_families: the shape families a protein draws from (uniformly, one per protein).
        coverage: (low, high) area fraction covered by particles, drawn uniformly (None: place
            ``n_particles`` instead, the v1 recipe).
        ice_gradient, ice_meniscus: (low, high) relative ice-thickness changes, uniform.
        styles: export styles drawn uniformly per micrograph (``float``, ``counts``, ``png8``,
            ``jpg``, ``denoised``); png_window_sigma (log-uniform), jpeg_quality and
            denoise_factor (uniform) are drawn in their (low, high) ranges.
        tile_field: simulate only the field one model tile needs (the micrograph side is
            ``img_size`` times the binning factor, at most ``micrograph_size``), instead of a
            whole ``micrograph_size`` micrograph (v1); crowded fields then stay cheap.

    Real data (:mod:`samcryo_core.pretraining.real`; off while ``real_root`` is None)
        real_root: the folder of the real sets (``<set>/<split>/images/*.png``).
        real_centres: the folder of their derived centres (scripts/derive_centres.py).
        real_sets: the sets to use; leave_out: sets never read (the leave-one-dataset-out proof).
        real_fraction: share of training examples that are random tiles of real ``train``
            micrographs (set chosen uniformly, then micrograph, scale jitter and one of the 8
            symmetries of the square); their ``valid`` micrographs join the validation.

    Validation (fixed micrographs of the pre-training proteins, never trained on)
        val_micrographs: how many; val_every: validate every this many steps (and at the end);
        val_snr: their SNR (the simulator's default 0.01).
        select_on: which validation pool picks the exported step: ``sim`` (the simulated
            micrographs), ``real`` (the real sets' valid micrographs) or ``all``.
    """

    variant: str = "cpu_small"
    steps: int = 300
    batch_size: int = 1
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 10
    min_lr_fraction: float = 0.05
    grad_clip: float = 1.0
    template_init: bool = True
    seed: int = 0
    threads: int = 2
    max_minutes: float | None = None
    micrograph_size: int = 1024
    particle_px: float = 20.0
    scale_jitter: float = 0.3
    pixel_size_A: tuple[float, float] = (3.5, 4.6)
    diameters_A: tuple[float, ...] = PRETRAIN_DIAMETERS_A
    type_seeds: int = 3
    type_seed_base: int = PRETRAIN_TYPE_SEED_BASE
    types_per_micrograph: tuple[int, int] = (1, 3)
    n_particles: tuple[int, int] = (30, 130)
    touching_fraction: tuple[float, float] = (0.0, 0.3)
    snr: tuple[float, float] = (0.03, 0.3)
    snr_start: tuple[float, float] = (0.1, 0.5)
    curriculum_fraction: float = 0.5
    defocus_um: tuple[float, float] = (0.8, 3.5)
    dose_e_per_A2: tuple[float, float] = (25.0, 60.0)
    noise_low_freq_rise: tuple[float, float] = (0.3, 2.0)
    detector_cutoff: tuple[float, float] = (0.25, 0.4)
    junk: bool = True
    more_junk: bool = True
    shape_families: tuple[str, ...] = tuple(FAMILIES)
    coverage: tuple[float, float] | None = (0.02, 0.4)
    ice_gradient: tuple[float, float] = (0.0, 1.0)
    ice_meniscus: tuple[float, float] = (0.0, 1.5)
    styles: tuple[str, ...] = STYLES
    png_window_sigma: tuple[float, float] = (3.0, 70.0)
    jpeg_quality: tuple[int, int] = (60, 95)
    denoise_factor: tuple[float, float] = (3.0, 15.0)
    tile_field: bool = True
    real_root: str | None = None
    real_centres: str | None = None
    real_sets: tuple[str, ...] = ("10028", "10059", "10947")
    leave_out: tuple[str, ...] = ()
    real_fraction: float = 0.25
    val_micrographs: int = 6
    val_every: int = 50
    val_snr: float = 0.1
    select_on: str = "sim"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError (key ``pretrain.<field>``) for values that cannot work."""
        for key in ("steps", "batch_size", "threads", "type_seeds", "micrograph_size"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"pretrain.{key}", "must be >= 1", "give a positive integer")
        if not self.lr > 0:
            raise ConfigError("pretrain.lr", f"must be > 0, got {self.lr}", "use e.g. 6e-4")
        if not (self.particle_px >= 4 and self.scale_jitter >= 0):
            raise ConfigError("pretrain.particle_px", f"working scale {self.particle_px} px with jitter "
                              f"{self.scale_jitter}", "use particle_px >= 4 and scale_jitter >= 0")
        if self.val_micrographs < 0 or self.val_every < 1:
            raise ConfigError(
                "pretrain.val_every", "val_micrographs >= 0 and val_every >= 1 needed", "use e.g. 8 and 20"
            )
        if self.type_seed_base <= DEMO_TYPE_SEED < self.type_seed_base + self.type_seeds:
            raise ConfigError(
                "pretrain.type_seed_base",
                "the shape seeds include the demo's seed 0",
                f"use a base above {DEMO_TYPE_SEED}, e.g. {PRETRAIN_TYPE_SEED_BASE}",
            )
        lo, hi = DEMO_EXCLUDED_BAND_A
        inside = [d for d in self.diameters_A if lo <= d <= hi]
        if not self.diameters_A or inside:
            raise ConfigError(
                "pretrain.diameters_A",
                f"{inside or 'no diameters'}: pre-training proteins "
                f"must differ from the demo's {DEMO_DIAMETER_A:g} A",
                f"use diameters outside {lo:g}-{hi:g} A",
            )
        for key in (
            "pixel_size_A",
            "snr",
            "defocus_um",
            "dose_e_per_A2",
            "detector_cutoff",
            "touching_fraction",
            "noise_low_freq_rise",
        ):
            _check_pair(getattr(self, key), key)
        if self.snr[0] <= 0 or self.pixel_size_A[0] <= 0:
            raise ConfigError("pretrain.snr", "SNR and pixel size must be positive", "fix the ranges")
        for key in ("ice_gradient", "ice_meniscus", "png_window_sigma", "jpeg_quality", "denoise_factor"):
            _check_pair(getattr(self, key), key)
        if self.coverage is not None:
            _check_pair(self.coverage, "coverage")
            if not self.coverage[0] > 0 and self.coverage[1] <= 0.6:
                raise ConfigError("pretrain.coverage", f"{self.coverage!r}", "use fractions in (0, 0.6]")
        bad = [f for f in self.shape_families if f not in FAMILIES]
        bad += [s for s in self.styles if s not in STYLES]
        if bad or not self.shape_families or not self.styles:
            raise ConfigError("pretrain.shape_families", f"unknown or missing families/styles {bad}",
                              f"families: {', '.join(FAMILIES)}; styles: {', '.join(STYLES)}")
        if self.select_on not in ("sim", "real", "all"):
            raise ConfigError("pretrain.select_on", f"{self.select_on!r}", "use sim, real or all")
        if not 0 <= self.real_fraction <= 1:
            raise ConfigError("pretrain.real_fraction", f"{self.real_fraction}", "use a share in [0, 1]")
        if self.real_root is not None:
            if self.real_centres is None:
                raise ConfigError("pretrain.real_centres", "real_root is set but real_centres is not",
                                  "give the folder scripts/derive_centres.py wrote")
            unknown = [s for s in self.leave_out if s not in self.real_sets]
            if unknown:
                raise ConfigError("pretrain.leave_out", f"{unknown} are not in real_sets {self.real_sets}",
                                  "leave out one of the real sets")
        _check_pair(self.types_per_micrograph, "types_per_micrograph", 1)
        _check_pair(self.n_particles, "n_particles", 1)
        if self.types_per_micrograph[1] > len(self.diameters_A):
            raise ConfigError(
                "pretrain.types_per_micrograph",
                "more types per micrograph than diameters",
                f"use at most {len(self.diameters_A)}",
            )

    def to_dict(self) -> dict:
        """Plain-data copy (JSON-ready; tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def snr_range(config: PretrainConfig, progress: float) -> tuple[float, float]:
    """The SNR range at ``progress`` (fraction of the run done, 0..1) under the curriculum."""
    frac = config.curriculum_fraction
    t = 1.0 if frac <= 0 else min(1.0, max(0.0, progress) / frac)
    lo, hi = (
        math.exp((1 - t) * math.log(a) + t * math.log(b))
        for a, b in zip(config.snr_start, config.snr, strict=True)
    )
    return lo, hi


def draw_simulation_params(
    config: PretrainConfig,
    rng: np.random.Generator,
    *,
    snr: float | None = None,
    progress: float = 1.0,
    v2_rng: np.random.Generator | None = None,
) -> SimulationParams:
    """Draw the simulator parameters of one pre-training micrograph.

    ``snr`` fixes the SNR (validation); otherwise it is log-uniform in :func:`snr_range` at
    ``progress`` (fraction of the run done; 1.0 = the target range ``config.snr``). The recipe-v2
    parameters (families, coverage, ice, style, more junk) are drawn from ``v2_rng`` when given,
    so ``rng`` is consumed exactly as by the v1 recipe.
    """
    k = int(rng.integers(config.types_per_micrograph[0], config.types_per_micrograph[1] + 1))
    diameters = tuple(float(d) for d in rng.choice(config.diameters_A, size=k, replace=False))
    type_seed = config.type_seed_base + int(rng.integers(config.type_seeds))
    if snr is None:
        lo, hi = snr_range(config, progress)
        snr = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    pixel = float(rng.uniform(*config.pixel_size_A))
    size = int(config.micrograph_size)
    # Keep every protein between 4 px and a quarter of the micrograph (the simulator's limits).
    pixel = float(np.clip(pixel, max(diameters) / (size / 4), min(diameters) / 4.0))
    v1 = dict(
        shape=(size, size),
        pixel_size_A=pixel,
        diameters_A=diameters,
        type_weights=tuple(float(w) for w in rng.uniform(0.3, 1.0, size=k)),
        type_seed=type_seed,
        n_particles=int(rng.integers(config.n_particles[0], config.n_particles[1] + 1)),
        touching_fraction=float(rng.uniform(*config.touching_fraction)),
        defocus_um=tuple(config.defocus_um),
        snr=float(snr),
        dose_e_per_A2=float(rng.uniform(*config.dose_e_per_A2)),
        noise_low_freq_rise=float(rng.uniform(*config.noise_low_freq_rise)),
        detector_cutoff=float(rng.uniform(*config.detector_cutoff)),
        illumination_gradient=float(rng.uniform(0.0, 0.05)),
        junk=bool(config.junk),
        carbon_probability=0.4,
        ice_blobs=(0, 2),
        aggregates=(0, 3),
    )
    # Recipe v2 draws come after v1's (or from their own stream), so a v1 configuration draws the
    # same v1 parameters.
    rng = v2_rng if v2_rng is not None else rng
    families = tuple(str(f) for f in rng.choice(config.shape_families, size=k))
    coverage = float(rng.uniform(*config.coverage)) if config.coverage is not None else None
    style = str(rng.choice(config.styles))
    lo, hi = config.png_window_sigma
    v2 = dict(
        shape_families=families,
        coverage=coverage,
        ice_gradient=float(rng.uniform(*config.ice_gradient)),
        ice_meniscus=float(rng.uniform(*config.ice_meniscus)),
        style=style,
        png_window_sigma=math.exp(rng.uniform(math.log(lo), math.log(hi))),
        jpeg_quality=int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)),
        denoise_factor=float(rng.uniform(*config.denoise_factor)),
    )
    if config.more_junk:  # each kind on a MORE_JUNK_PROBABILITY share of the micrographs
        on = rng.uniform(size=4) < MORE_JUNK_PROBABILITY
        v2.update(filaments=(1, 2) if on[0] else (0, 0), ethane_clusters=(1, 1) if on[1] else (0, 0),
                  ice_holes=(1, 1) if on[2] else (0, 0), ice_crystals=(1, 1) if on[3] else (0, 0))
    return SimulationParams(**v1, **v2)


def working_scale_record(config: PretrainConfig) -> dict:
    """The working scale a backbone pre-trained with ``config`` declares (its metadata JSON).

    ``particle_px`` is the size micrographs were binned to; the tolerated range is every size the
    backbone saw: the scale jitter times the spread of a micrograph's mixed particle types around
    their geometric mean (the binning rule of :mod:`samcryo_core.preprocess.scale`).
    """
    mixed = config.types_per_micrograph[1] > 1
    spread = math.sqrt(max(config.diameters_A) / min(config.diameters_A)) if mixed else 1.0
    j = 1.0 + config.scale_jitter
    lo, hi = config.particle_px / j / spread, config.particle_px * j * spread
    return {"particle_px": config.particle_px, "range_px": [round(lo, 2), round(hi, 2)],
            "source": "pre-training recipe (particle_px, scale_jitter, diameters_A)"}

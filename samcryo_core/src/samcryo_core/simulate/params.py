"""Every knob of the micrograph simulator, in one validated dataclass.

Why one frozen dataclass: the simulator feeds tests, the demo, benchmarks and backbone
pre-training, and each of them must be able to say *exactly* which data it used. A frozen
``SimulationParams`` plus a seed reproduces a micrograph bit for bit, and ``dataclasses.replace``
makes variants (lower SNR, no junk) without mutating a shared default.

Units are the field's: Angstrom for sizes, micrometres for defocus, kV, mm for Cs, electrons per
square Angstrom for dose. Frequencies are in cycles per pixel (Nyquist = 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from samcryo_core.errors import ConfigError


def _pair(value: tuple[float, float], key: str, lo: float = -math.inf, hi: float = math.inf) -> None:
    if len(value) != 2 or not value[0] <= value[1]:
        raise ConfigError(key, f"expected a (low, high) pair with low <= high, got {value!r}",
                          "give two numbers, the smaller first")
    if value[0] < lo or value[1] > hi:
        raise ConfigError(key, f"{value!r} is outside [{lo}, {hi}]", f"use values in [{lo}, {hi}]")


@dataclass(frozen=True)
class SimulationParams:
    """Parameters of :func:`samcryo_core.simulate.simulate_micrograph` (see docs/simulator.md).

    Geometry
        shape: ``(H, W)`` = (rows, cols) of the micrograph; non-square is fine.
        pixel_size_A: pixel size in Angstrom (written to the MRC header).

    Particles
        diameters_A: one diameter (Angstrom) per particle *type*; class ids are 1, 2, ... in
            this order (RELION class numbers are 1-based).
        type_weights: relative abundance of each type (``None``: equal).
        type_seed: seed of the 3-D shapes of the types. Kept apart from the micrograph seed so
            that every micrograph of a dataset shows the *same* proteins.
        n_particles: particles to place per micrograph (fewer if they do not fit).
        particles_per_megapixel: if set, overrides ``n_particles`` as
            ``round(value * H * W / 1e6)``, so density stays constant across shapes.
        min_distance_factor: centre distance of two non-touching particles is at least this times
            the mean diameter of the pair (1.0 = discs may just touch).
        touching_fraction: fraction of particles deliberately placed touching/overlapping an
            already placed one (pairs, chains, clusters) to exercise watershed splitting.
        touching_distance: centre distance of a touching pair, as a (low, high) fraction of the
            pair's mean diameter.
        border_margin_factor: particle centres stay this many diameters away from the border.

    Optics (RELION CTF convention, see ``ctf.py``)
        defocus_um: (low, high) of the per-micrograph mean defocus, micrometres, positive =
            underfocus (drawn uniformly).
        astigmatism_um: maximum ``|DefocusU - DefocusV|`` (drawn uniformly in [0, max]).
        voltage_kV, cs_mm, amplitude_contrast: microscope constants.
        bfactor_A2: B-factor of the CTF envelope ``exp(-B k^2 / 4)``, square Angstrom.

    Signal and noise
        snr: variance of the CTF-modulated particle signal over the particle discs divided by
            the background noise variance (default 0.01; 0.003 is very hard but supported).
        dose_e_per_A2: sets the background noise level, ``1 / sqrt(dose * pixel_size^2)`` in
            units of the unscattered beam (the image background is about 1.0).
        noise_low_freq_rise: extra noise power at zero frequency relative to the white level
            (1.0 = twice the white power at k = 0).
        noise_low_freq_width: width (cycles/pixel) of that Gaussian low-frequency rise.
        detector_cutoff: half-power frequency (cycles/pixel) of a 4th-order Butterworth
            detector/binning filter applied to signal and noise alike (default 0.3 matches the
            4x-binned CryoPPP PNGs); ``None`` = flat (Fourier-cropped data).
        illumination_gradient: relative change of the beam intensity across the image along a
            random direction (0 disables).

    Junk (never in the truth; marked in ``junk_mask``)
        junk: master switch; ``False`` disables all of the below.
        carbon_probability: chance that a micrograph shows a carbon edge.
        carbon_fraction: (low, high) fraction of the image covered by carbon.
        carbon_curved_probability: chance that the edge is a hole rim (circle arc) rather than
            a straight line.
        carbon_darkening: amplitude darkening of the carbon (fraction of the beam).
        carbon_texture: amplitude of the carbon's phase texture, in background-noise std.
        ice_blobs: (low, high) number of ice contamination blobs per micrograph (inclusive).
        ice_diameter_factor: (low, high) blob diameter in multiples of the largest particle
            diameter.
        ice_darkening: (low, high) amplitude darkening at a blob's core (fraction of the beam).
        aggregates: (low, high) number of protein aggregates per micrograph (inclusive).
        aggregate_diameter_factor: (low, high) aggregate size in multiples of the largest
            particle diameter.
        junk_clearance_factor: particle discs stay this many diameters clear of the junk mask.
        filaments: (low, high) number of filaments (protein, CTF-filtered like particles).
        filament_width_factor: (low, high) filament width in multiples of the largest diameter.
        ethane_clusters: (low, high) number of clusters of small dark ethane droplets.
        ice_holes: (low, high) number of holes in the ice (bright, no particles).
        ice_crystals: (low, high) number of hexagonal ice crystals.

    Shapes and crowding
        shape_families: one shape family per particle type, or one for all (``blob``,
            ``elongated``, ``flat``, ``ring``, ``symmetric``, ``membrane``, ``pseudoatomic``; see
            :mod:`samcryo_core.simulate.shapes`).
        coverage: if set, particles are placed until their discs cover this fraction of the
            image (0-0.6; overrides ``n_particles`` and ``particles_per_megapixel``); placement
            stops earlier only when no free spot is left.
        ice_gradient: relative change of the ice thickness across the image along a random
            direction (0.5 = from 75 % to 125 % of the mean); thicker ice transmits less.
        ice_meniscus: relative thickening of the ice one field width away from a random point
            (the bowl-shaped ice of a hole, thin in the middle, thick towards the rim).

    Rendering style (how the micrograph is exported; see :mod:`samcryo_core.simulate.styles`)
        style: ``float`` (intensity with Gaussian shot noise, the original), ``counts`` (raw
            counting-mode electron counts, Poisson), ``png8`` (contrast-normalized 8-bit, the
            CryoPPP style), ``jpg`` (the same, JPEG-compressed) or ``denoised`` (the smooth,
            low-noise look of a denoised micrograph).
        png_window_sigma: half-width of the 8-bit grey window in noise standard deviations
            (CryoPPP PNGs: about 10-70, so particles span only a few grey levels).
        jpeg_quality: JPEG quality of the ``jpg`` style (1-95).
        denoise_factor: the ``denoised`` style divides the noise by this and smooths it.

    Output
        keep_clean: also return the noise-free image and the particle-only signal (tests,
            SNR checks); costs two extra arrays.
        seed: default seed of :func:`simulate_micrograph` when no ``rng``/seed is passed.
    """

    shape: tuple[int, int] = (1024, 1024)
    pixel_size_A: float = 4.0
    diameters_A: tuple[float, ...] = (160.0,)
    type_weights: tuple[float, ...] | None = None
    type_seed: int = 0
    n_particles: int = 80
    particles_per_megapixel: float | None = None
    min_distance_factor: float = 1.05
    touching_fraction: float = 0.0
    touching_distance: tuple[float, float] = (0.6, 0.9)
    border_margin_factor: float = 0.5
    defocus_um: tuple[float, float] = (1.0, 3.0)
    astigmatism_um: float = 0.1
    voltage_kV: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.1
    bfactor_A2: float = 100.0
    snr: float = 0.01
    dose_e_per_A2: float = 40.0
    noise_low_freq_rise: float = 1.0
    noise_low_freq_width: float = 0.03
    detector_cutoff: float | None = 0.3
    illumination_gradient: float = 0.005
    junk: bool = True
    carbon_probability: float = 0.5
    carbon_fraction: tuple[float, float] = (0.1, 0.3)
    carbon_curved_probability: float = 0.5
    carbon_darkening: float = 0.06
    carbon_texture: float = 0.5
    ice_blobs: tuple[int, int] = (0, 2)
    ice_diameter_factor: tuple[float, float] = (2.0, 5.0)
    ice_darkening: tuple[float, float] = (0.3, 0.7)
    aggregates: tuple[int, int] = (0, 2)
    aggregate_diameter_factor: tuple[float, float] = (1.5, 3.0)
    junk_clearance_factor: float = 0.25
    filaments: tuple[int, int] = (0, 0)
    filament_width_factor: tuple[float, float] = (0.3, 1.0)
    ethane_clusters: tuple[int, int] = (0, 0)
    ice_holes: tuple[int, int] = (0, 0)
    ice_crystals: tuple[int, int] = (0, 0)
    shape_families: tuple[str, ...] = ("blob",)
    coverage: float | None = None
    ice_gradient: float = 0.0
    ice_meniscus: float = 0.0
    style: str = "float"
    png_window_sigma: float = 10.0
    jpeg_quality: int = 90
    denoise_factor: float = 8.0
    keep_clean: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        # Normalise sequences to tuples so params hash, compare and print the same everywhere.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        H, W = self.shape if len(self.shape) == 2 else (0, 0)
        if len(self.shape) != 2 or H < 32 or W < 32:
            raise ConfigError("shape", f"need (H, W) of at least 32 x 32, got {self.shape!r}",
                              "give rows and columns, e.g. 1024 1024")
        object.__setattr__(self, "shape", (int(H), int(W)))
        if not self.pixel_size_A > 0:
            raise ConfigError("pixel_size_A", f"must be positive, got {self.pixel_size_A}",
                              "give the pixel size in Angstrom, e.g. 4.0")
        if not self.diameters_A or any(not d > 0 for d in self.diameters_A):
            raise ConfigError("diameters_A", f"need at least one positive diameter, got {self.diameters_A!r}",
                              "give particle diameters in Angstrom, e.g. 160")
        if max(self.diameters_A) / self.pixel_size_A < 4:
            raise ConfigError("diameters_A", "particles are smaller than 4 pixels",
                              "use larger diameters or a smaller pixel size")
        if max(self.diameters_A) / self.pixel_size_A > min(self.shape) / 2:
            raise ConfigError("diameters_A", "particles are larger than half the micrograph",
                              "use smaller diameters, a larger pixel size or a larger shape")
        if self.type_weights is not None and (
            len(self.type_weights) != len(self.diameters_A) or any(w < 0 for w in self.type_weights)
            or sum(self.type_weights) <= 0
        ):
            raise ConfigError("type_weights", "need one non-negative weight per diameter, not all zero",
                              "give as many weights as diameters, or leave it unset")
        if self.n_particles < 0:
            raise ConfigError("n_particles", "must be >= 0", "give a particle count")
        if self.particles_per_megapixel is not None and self.particles_per_megapixel < 0:
            raise ConfigError("particles_per_megapixel", "must be >= 0", "give a density or leave it unset")
        if not 0 <= self.touching_fraction <= 1:
            raise ConfigError("touching_fraction", f"must be in [0, 1], got {self.touching_fraction}",
                              "use e.g. 0.1 for 10% touching particles")
        _pair(self.touching_distance, "touching_distance", 0.1, 1.5)
        if not self.min_distance_factor > 0:
            raise ConfigError("min_distance_factor", "must be positive", "use e.g. 1.05")
        if self.border_margin_factor < 0:
            raise ConfigError("border_margin_factor", "must be >= 0", "use e.g. 0.5")
        _pair(self.defocus_um, "defocus_um", 0.05, 20.0)
        for key in ("astigmatism_um", "cs_mm", "bfactor_A2", "illumination_gradient", "carbon_darkening",
                    "carbon_texture", "noise_low_freq_rise", "junk_clearance_factor"):
            if getattr(self, key) < 0:
                raise ConfigError(key, "must be >= 0", "use 0 to disable")
        if not self.voltage_kV > 0:
            raise ConfigError("voltage_kV", "must be positive", "use e.g. 300")
        if not 0 <= self.amplitude_contrast < 1:
            raise ConfigError("amplitude_contrast", "must be in [0, 1)", "use e.g. 0.1")
        if not self.snr > 0:
            raise ConfigError("snr", f"must be positive, got {self.snr}", "use e.g. 0.01 (0.003 = very hard)")
        if not self.dose_e_per_A2 > 0:
            raise ConfigError("dose_e_per_A2", "must be positive", "use e.g. 40")
        if not self.noise_low_freq_width > 0:
            raise ConfigError("noise_low_freq_width", "must be positive", "use e.g. 0.03 cycles/pixel")
        if self.detector_cutoff is not None and not self.detector_cutoff > 0:
            raise ConfigError("detector_cutoff", "must be positive", "use e.g. 0.3, or None for flat")
        if self.illumination_gradient >= 1:
            raise ConfigError("illumination_gradient", "must be < 1", "use e.g. 0.03")
        for key in ("carbon_probability", "carbon_curved_probability"):
            if not 0 <= getattr(self, key) <= 1:
                raise ConfigError(key, "must be a probability in [0, 1]", "use e.g. 0.5")
        _pair(self.carbon_fraction, "carbon_fraction", 0.0, 0.9)
        _pair(self.ice_blobs, "ice_blobs", 0, 1000)
        _pair(self.aggregates, "aggregates", 0, 1000)
        _pair(self.ice_diameter_factor, "ice_diameter_factor", 0.5, 50.0)
        _pair(self.aggregate_diameter_factor, "aggregate_diameter_factor", 1.0, 20.0)
        _pair(self.ice_darkening, "ice_darkening", 0.0, 0.99)
        for key in ("filaments", "ethane_clusters", "ice_holes", "ice_crystals"):
            _pair(getattr(self, key), key, 0, 1000)
        _pair(self.filament_width_factor, "filament_width_factor", 0.05, 5.0)
        from samcryo_core.simulate.shapes import FAMILIES
        from samcryo_core.simulate.styles import STYLES

        bad = [f for f in self.shape_families if f not in FAMILIES]
        if bad or len(self.shape_families) not in (1, len(self.diameters_A)):
            raise ConfigError("shape_families", f"{self.shape_families!r}: need one family per diameter or "
                              "one for all, each a known family", f"use {', '.join(FAMILIES)}")
        if self.coverage is not None and not 0 < self.coverage <= 0.6:
            raise ConfigError("coverage", f"must be in (0, 0.6], got {self.coverage}",
                              "use e.g. 0.1 (sparse) to 0.4 (crowded), or leave it unset")
        for key in ("ice_gradient", "ice_meniscus"):
            if not 0 <= getattr(self, key) <= 2:
                raise ConfigError(key, "must be in [0, 2]", "use e.g. 0.3, or 0 to disable")
        if self.style not in STYLES:
            raise ConfigError("style", f"unknown style {self.style!r}", f"use one of {', '.join(STYLES)}")
        if not self.png_window_sigma > 0:
            raise ConfigError("png_window_sigma", "must be positive", "use e.g. 10")
        if not 1 <= self.jpeg_quality <= 95:
            raise ConfigError("jpeg_quality", "must be in [1, 95]", "use e.g. 90")
        if not self.denoise_factor >= 1:
            raise ConfigError("denoise_factor", "must be >= 1", "use e.g. 8")

    def family_of(self, type_index: int) -> str:
        """The shape family of particle type ``type_index`` (0-based)."""
        return self.shape_families[type_index if len(self.shape_families) > 1 else 0]

    @property
    def diameters_px(self) -> tuple[float, ...]:
        """Particle diameters in pixels, one per type."""
        return tuple(d / self.pixel_size_A for d in self.diameters_A)

    def particle_count(self) -> int:
        """Number of particles to try to place on one micrograph.

        With ``coverage`` this is an upper bound (placement stops once the coverage is reached):
        enough of the smallest particles to cover it even if each added only a third of its disc.
        """
        if self.coverage is not None:
            disc = math.pi / 4.0 * min(self.diameters_px) ** 2
            return int(math.ceil(self.coverage * self.shape[0] * self.shape[1] / (disc / 3.0))) + 1
        if self.particles_per_megapixel is not None:
            return int(round(self.particles_per_megapixel * self.shape[0] * self.shape[1] / 1e6))
        return int(self.n_particles)

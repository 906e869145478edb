"""The oracle of ``bench_oracle.py``: a pre-whitened matched filter told everything about a
simulated micrograph, and the ideal detection SNRs of its particles.

What it knows that no picker does: the exact protein (template = mean of its projections over
random rotations, centre of mass at the box centre, or a bank of single projections), the
micrograph's true CTF times the detector's amplitude transfer (exactly as
``simulate/micrograph.py`` forms the image), the noise power spectrum (``noise.noise_power``), so
the filter is ``G = conj(T_ctf) / N`` (protein is dark: the score is the correlation with
``-T_ctf``), and the junk mask (junk filled with the background median, no peaks on junk). Its
output is a z-score: the noise std follows from the filter and the noise spectrum. numpy/scipy
only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

# --------------------------------------------------------------------------------------------
# The oracle filter
# --------------------------------------------------------------------------------------------

def _projections(params, class_index: int, box: int, centre: float, rotations) -> np.ndarray:
    """Sum of the projections of particle type ``class_index`` (0-based) at ``rotations`` in a
    ``box`` x ``box`` canvas, centred at pixel ``(centre, centre)``."""
    from samcryo_core.simulate.micrograph import particle_types
    from samcryo_core.simulate.particles import add_projection

    ptype = particle_types(params.diameters_A, params.type_seed)[class_index]
    canvas = np.zeros((box, box), np.float64)
    for rotation in rotations:
        add_projection(canvas, centre, centre, ptype.centres_A, ptype.sigmas_A, ptype.masses, rotation,
                       params.pixel_size_A)
    return canvas


def render_template(params, *, n_rotations: int = 64, rotation_seed: int = 0, bin_factor: int = 1,
                    class_index: int = 0) -> tuple[np.ndarray, int]:
    """Rotation-averaged projection of the particle type, at the original or a binned pixel size.

    Returns ``(box, centre)``: a square float64 image whose centre of mass is at pixel
    ``(centre, centre)``. For ``bin_factor > 1`` the template is rendered at the original pixel
    size and Fourier-binned with the same ``fourier_resample`` that ``normalize_micrograph`` uses
    (alias-free, and the same half-pixel convention, so the binned centre is an integer pixel).
    """
    from samcryo_core.preprocess.fourier import fourier_resample
    from samcryo_core.simulate.particles import random_rotations

    d = params.diameters_A[class_index] / params.pixel_size_A
    # Box: twice the diameter (blob tails reach 3.5 sigma past the disc), a multiple of 2 x bin.
    step = 2 * bin_factor
    box = int(math.ceil(2 * d / step) * step)
    centre_binned = box // bin_factor // 2
    centre = (centre_binned + 0.5) * bin_factor - 0.5  # original-pixel position that bins onto it
    rotations = random_rotations(n_rotations, np.random.default_rng(rotation_seed))
    canvas = _projections(params, class_index, box, centre, rotations) / n_rotations
    if bin_factor == 1:
        return canvas, int(centre)
    out = fourier_resample(canvas, (box // bin_factor, box // bin_factor)).astype(np.float64)
    return out, centre_binned


def render_bank(params, n: int, rotation_seed: int = 1, class_index: int = 0) -> list[tuple[np.ndarray, int]]:
    """``n`` single projections of particle type ``class_index`` (0-based) at random orientations
    (each centred)."""
    from samcryo_core.simulate.particles import random_rotations

    box = int(math.ceil(params.diameters_A[class_index] / params.pixel_size_A)) * 2
    rotations = random_rotations(n, np.random.default_rng(rotation_seed))
    return [(_projections(params, class_index, box, box // 2, rotations[r : r + 1]), box // 2)
            for r in range(n)]


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """``(x, y)`` = (column, row) centre of mass of a non-negative image."""
    w = np.clip(img, 0, None)
    ys, xs = np.indices(img.shape)
    return float((w * xs).sum() / w.sum()), float((w * ys).sum() / w.sum())


def template_spectrum(box: np.ndarray, centre: int, shape: tuple[int, int]) -> np.ndarray:
    """``rfft2`` of the template placed in an ``(H, W)`` canvas with its centre at pixel (0, 0)."""
    canvas = np.zeros(shape, np.float64)
    b = box.shape[0]
    canvas[:b, :b] = box
    canvas = np.roll(canvas, (-centre, -centre), axis=(0, 1))
    return scipy.fft.rfft2(canvas)


def rfft_weights(shape: tuple[int, int]) -> np.ndarray:
    """How often each ``rfft2`` column stands for itself in the full spectrum (1 or 2)."""
    W = shape[1]
    w = np.full(W // 2 + 1, 2.0)
    w[0] = 1.0
    if W % 2 == 0:
        w[-1] = 1.0
    return w[None, :]


@dataclass
class OracleFilter:
    """The pre-whitened matched filter of one micrograph on one pixel grid.

    Attributes:
        G: ``rfft2`` grid filter ``conj(T_ctf) / N`` (``T_ctf`` = template x CTF x detector
            amplitude, ``N`` = relative noise power).
        noise_power: ``N`` on the same grid.
        map_noise_std: standard deviation of the filter output for the simulator's noise
            (``sigma x`` unit-variance noise of spectrum ``N``), so ``output / map_noise_std`` is a
            z-score.
    """

    G: np.ndarray
    noise_power: np.ndarray
    map_noise_std: float

    @property
    def shape(self) -> tuple[int, int]:
        """The (padded) real-space grid the filter is defined on."""
        return self.G.shape[0], 2 * (self.G.shape[1] - 1)


def padded_shape(shape: tuple[int, int], pad: int) -> tuple[int, int]:
    """``shape`` plus ``pad`` on each axis, rounded up to an even FFT-friendly size."""
    def fast_even(n: int) -> int:
        m = scipy.fft.next_fast_len(n, real=True)
        while m % 2:
            m = scipy.fft.next_fast_len(m + 1, real=True)
        return m
    return fast_even(shape[0] + pad), fast_even(shape[1] + pad)


def oracle_filter(mic, template: tuple[np.ndarray, int], shape: tuple[int, int], bin_factor: int = 1,
                  noise_sigma: float | None = None) -> OracleFilter:
    """The matched filter of ``mic`` (true CTF, noise spectrum) on an ``(H, W)`` grid (pass the
    padded grid of :func:`padded_shape` so correlations do not wrap around the image).

    With ``bin_factor`` ``s`` the grid has pixel size ``s x`` the original; the detector and the
    noise spectrum are functions of the frequency in cycles per *original* pixel, so they are
    evaluated at ``k / s`` (the binned grid holds exactly the low-frequency part of the original
    spectrum after Fourier cropping).
    """
    transfer, N = _optics(mic, shape, bin_factor)
    T = template_spectrum(template[0], template[1], shape) * transfer
    G = np.conj(T) / N
    # Noise sigma * n, n unit variance with spectrum ~ N: E|FFT(n)_k|^2 = HW N(k) / mean_full(N).
    # Output variance = sum_full |G|^2 E|FFT(n)|^2 / (HW)^2.
    w = rfft_weights(shape)
    HW = shape[0] * shape[1]
    mean_N = float((w * N).sum()) / HW
    var = float((w * np.abs(G) ** 2 * N).sum()) / (HW * mean_N)
    sigma = mic.noise_std if noise_sigma is None else noise_sigma
    return OracleFilter(G=G, noise_power=N, map_noise_std=float(sigma * math.sqrt(var)))


def _optics(mic, shape: tuple[int, int], bin_factor: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Signal transfer (CTF x detector amplitude) and relative noise power of ``mic`` on a grid."""
    from samcryo_core.simulate.ctf import relion_ctf
    from samcryo_core.simulate.noise import detector_power, frequency_radius, noise_power

    p = mic.params
    ctf = relion_ctf(
        shape, p.pixel_size_A * bin_factor,
        defocus_u_A=mic.defocus_u_um * 1e4, defocus_v_A=mic.defocus_v_um * 1e4,
        azimuth_deg=mic.astigmatism_angle_deg, voltage_kV=p.voltage_kV, cs_mm=p.cs_mm,
        amplitude_contrast=p.amplitude_contrast, bfactor_A2=p.bfactor_A2,
    ).astype(np.float64)
    k = frequency_radius(shape).astype(np.float64) / bin_factor
    transfer = ctf * np.sqrt(detector_power(k, p.detector_cutoff).astype(np.float64))
    N = noise_power(k, p.noise_low_freq_rise, p.noise_low_freq_width, p.detector_cutoff).astype(np.float64)
    return transfer, N


def filled(image: np.ndarray, junk: np.ndarray) -> np.ndarray:
    """The image with junk pixels set to the median of the rest (the oracle knows the junk)."""
    out = np.asarray(image, np.float64).copy()
    if junk.any() and (~junk).any():
        out[junk] = float(np.median(out[~junk]))
    return out


def input_spectrum(image: np.ndarray, junk: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``rfft2`` of the junk-filled, mean-subtracted image, zero-padded to ``shape`` (zero is the
    background mean: no wrap-around)."""
    x = filled(image, junk)
    x -= x[~junk].mean() if (~junk).any() else x.mean()
    padded = np.zeros(shape, np.float64)
    padded[: image.shape[0], : image.shape[1]] = x
    return scipy.fft.rfft2(padded)


def score_map(image: np.ndarray, junk: np.ndarray, filt: OracleFilter,
              noise_std: float | None = None) -> np.ndarray:
    """Matched-filter z-score map: high where a dark particle like the template sits.

    The raw correlation is negated because protein is dark (``image = 1 - c S``). ``noise_std``
    overrides the analytic output std (the model input is rescaled by the standardisation, so
    there it is measured robustly instead).
    """
    H, W = image.shape
    out = -scipy.fft.irfft2(input_spectrum(image, junk, filt.shape) * filt.G, s=filt.shape)[:H, :W]
    return out / (filt.map_noise_std if noise_std is None else noise_std)


def bank_score_map(mic, bank_spectra: list[np.ndarray], shape: tuple[int, int],
                   labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Max over an orientation bank of per-template matched-filter z-scores (a GLRT over
    orientation) and the label (e.g. particle type) of the template giving the max at each pixel.
    ``bank_spectra`` are :func:`template_spectrum` s on the padded ``shape``."""
    transfer, N = _optics(mic, shape)
    Xw = (input_spectrum(mic.image, mic.junk_mask, shape) * (transfer / N)).astype(np.complex64)
    w = rfft_weights(shape)
    HW = shape[0] * shape[1]
    mean_N = float((w * N).sum()) / HW
    t2n = (w * transfer**2 / N).astype(np.float32)
    H, W = mic.image.shape
    best = np.full((H, W), -np.inf, np.float32)
    label = np.zeros((H, W), np.int64)
    for T, lab in zip(bank_spectra, labels, strict=True):
        std = mic.noise_std * math.sqrt(float((t2n * (T.real**2 + T.imag**2)).sum()) / (HW * mean_N))
        z = -scipy.fft.irfft2(Xw * np.conj(T), s=shape)[:H, :W] / np.float32(std)
        label[z > best] = lab
        np.maximum(best, z, out=best)
    return best.astype(np.float64), label


def max_over_types(maps) -> tuple[np.ndarray, np.ndarray]:
    """Pixelwise max of per-type z-score maps (a GLRT over particle type) and the 0-based type
    index of the max (ties: the first type)."""
    best: np.ndarray | None = None
    arg: np.ndarray | None = None
    for i, z in enumerate(maps):
        if best is None:
            best, arg = z.copy(), np.zeros(z.shape, np.int64)
            continue
        better = z > best
        arg[better] = i  # type: ignore[index]
        np.maximum(best, z, out=best)
    if best is None or arg is None:
        raise ValueError("no score maps")
    return best, arg


def robust_std(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation: the noise std of a map that also holds particles."""
    med = np.median(values)
    return float(1.4826 * np.median(np.abs(values - med)))


def find_peaks(z: np.ndarray, junk: np.ndarray, min_distance: float,
               border: float) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of ``z`` (``[N, 2]`` x, y and their scores, best first), none on junk or in
    the border margin (where the simulator puts no centre).

    Junk and margin pixels are set to the map minimum *before* the search rather than peaks being
    dropped after it: a particle just inside the margin whose response peaks a few pixels outside
    it then still gives a maximum on the allowed side, and a junk response cannot suppress a
    particle peak next to it.
    """
    from skimage.feature import peak_local_max

    allowed = ~junk
    b = max(0, int(math.ceil(border)))
    if b:
        allowed = allowed.copy()
        allowed[:b] = allowed[-b:] = False
        allowed[:, :b] = allowed[:, -b:] = False
    if not allowed.any():
        return np.zeros((0, 2)), np.zeros(0)
    zz = np.where(allowed, z, z[allowed].min() - 1.0)
    rc = peak_local_max(zz, min_distance=max(1, int(min_distance)), exclude_border=False,
                        threshold_abs=-np.inf)
    if len(rc):
        rc = rc[allowed[rc[:, 0], rc[:, 1]]]
    scores = z[rc[:, 0], rc[:, 1]] if len(rc) else np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    xy = rc[order][:, ::-1].astype(np.float64).reshape(-1, 2)
    return xy, scores[order].astype(np.float64)


# --------------------------------------------------------------------------------------------
# Ideal detection SNRs
# --------------------------------------------------------------------------------------------

def _signal_spectra(mic) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``rfft2`` of the clean particle signal, the relative noise power ``N`` on the same grid,
    the rfft column weights and the full-spectrum mean of ``N`` (the d' computations' inputs)."""
    from samcryo_core.simulate.noise import frequency_radius, noise_power

    p = mic.params
    shape = mic.particle_signal.shape
    S = scipy.fft.rfft2(mic.particle_signal.astype(np.float64))
    N = noise_power(frequency_radius(shape).astype(np.float64), p.noise_low_freq_rise, p.noise_low_freq_width,
                    p.detector_cutoff).astype(np.float64)
    w = rfft_weights(shape)
    return S, N, w, float((w * N).sum()) / (shape[0] * shape[1])


def ske_dprime(mic) -> float:
    """Root-mean-square signal-known-exactly detection SNR ``d'`` of the particles of ``mic``.

    ``d'^2 = sum_k |S(k)|^2 / E|noise(k)|^2`` for the micrograph's exact particle signal (each
    particle's own projection, CTF and detector; needs ``params.keep_clean``) against the
    simulator's coloured noise; summed over all particles (they barely overlap) and divided by
    their number. This is what an observer who knows the particle, its orientation *and its
    position* could reach: the Bayes bound of detection at a known location.
    """
    if mic.particle_signal is None or mic.n_particles == 0:
        return float("nan")
    S, N, w, mean_N = _signal_spectra(mic)
    HW = mic.particle_signal.shape[0] * mic.particle_signal.shape[1]
    d2_total = float((w * np.abs(S) ** 2 / N).sum()) * mean_N / (HW * mic.noise_std**2)
    return math.sqrt(d2_total / mic.n_particles)


def ske_dprime_per_particle(mic) -> np.ndarray:
    """SKE ``d'`` of each particle of ``mic`` (same order as ``mic.x``), for mixtures.

    The micrograph holds one clean particle signal for all particles, so each particle's ``d'^2``
    is its share of the *whitened* signal energy (``irfft2(S / sqrt(N))^2``, which sums to the
    total ``d'^2`` of :func:`ske_dprime` by Parseval), every pixel given to the nearest particle
    centre. Exact in total; per particle approximate where particles touch (cross terms).
    """
    if mic.particle_signal is None or mic.n_particles == 0:
        return np.zeros(0)
    from scipy.ndimage import distance_transform_edt

    shape = mic.particle_signal.shape
    S, N, _w, mean_N = _signal_spectra(mic)
    energy = scipy.fft.irfft2(S / np.sqrt(N), s=shape) ** 2 * (mean_N / mic.noise_std**2)
    seeds = np.zeros(shape, np.int64)
    r = np.clip(np.rint(mic.y).astype(int), 0, shape[0] - 1)
    c = np.clip(np.rint(mic.x).astype(int), 0, shape[1] - 1)
    seeds[r, c] = np.arange(1, mic.n_particles + 1)
    _, (ri, ci) = distance_transform_edt(seeds == 0, return_indices=True)
    d2 = np.bincount(seeds[ri, ci].ravel(), weights=energy.ravel(), minlength=mic.n_particles + 1)[1:]
    return np.sqrt(d2)


def integrated_snr(snr: float, diameter_px: float) -> dict:
    """``snr x disc area`` and its square root: the matched-filter SNR for a uniform disc signal
    in white noise (the back-of-the-envelope number the nominal SNR suggests)."""
    area = math.pi * (0.5 * diameter_px) ** 2
    return {"disc_area_px": round(area, 1), "integrated_snr": round(snr * area, 4),
            "ideal_detection_snr": round(math.sqrt(snr * area), 4)}

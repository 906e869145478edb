#!/usr/bin/env python
"""How detectable are simulated particles at all? An oracle matched filter at each nominal SNR.

Why: the simulator's SNR (``SimulationParams.snr``) is the variance of the CTF-modulated particle
signal over the particle discs divided by the per-pixel noise variance. Whether an F1 reported for
some picker at some nominal SNR is plausible depends on how much detection information the
micrographs hold, which no learned picker can reveal. This benchmark measures an upper bound in
practice: a template matcher told everything a real picker does not know: the exact protein
(template = mean of its projections over random rotations, centre of mass at the box centre), each
micrograph's true CTF times the detector transfer, the noise power spectrum (the pre-whitened
matched filter ``G = conj(T_ctf) / N``; protein is dark, so the score is the correlation with
``-T_ctf``), the junk mask (junk filled with the background median, no peaks on junk) and the best
threshold in hindsight (per micrograph, and one pooled over the set).

Peaks are local maxima of the z-scored filter output (noise std from the filter and the noise
spectrum) at least ``0.5 x`` the smallest diameter apart, outside the simulator's border margin.
They are scored with samcryo's evaluation: thresholds from
:func:`samcryo_core.evaluation.score.best_f1`, counts from ``match_picks``, each true particle
matched within half its own diameter, pooled over micrographs.

* ``--bank K``: also the max over K single-projection templates per type (an oracle that knows the
  3-D structure, not only the mean projection; with a few dozen random orientations it does not
  help: the look-elsewhere effect over templates eats the gain).
* ``--diameters-A D1 D2 ...`` (as ``samcryo simulate``; class ids 1, 2, ...): one template and
  filter per type, score = pixelwise max of the per-type z-maps (the type of the max is the pick's
  type); per class: recall, how often a matched pick's type is right, z at truth and rms SKE ``d'``.
* ``--model-size S``: the same oracle on ``normalize_micrograph``'s output binned to ``S`` pixels
  a side (default half the side: the demo's 40 px particles at ``cpu_small``'s working scale).

Also reported: the integrated SNR ``snr x disc area`` and its square root (a white-noise matched
filter on a uniform disc), the exact signal-known-exactly ``d'`` of each particle (its own
projection and CTF through the coloured noise: the Bayes bound at a known location) and the mean
z at the true centres.

The micrographs are the demo's unseen ones: ``samcryo simulate --seed 2`` with the CLI's
parameters (micrograph ``i`` uses ``micrograph_seed(2, i)``). The random draws do not depend on
the SNR, so every SNR shows the same particles, CTFs, junk and noise; only the signal scale changes.

    .venv/bin/python benchmarks/bench_oracle.py            # 5 SNRs + chance x 10 micrographs, ~4 min
    .venv/bin/python benchmarks/bench_oracle.py --quick    # 2 SNRs x 2 micrographs at 256 px
    .venv/bin/python benchmarks/bench_oracle.py --diameters-A 130 160 190 --out \
        benchmarks/results/oracle_mixture.json               # the demo's three particle sizes

Writes benchmarks/results/oracle.json and oracle.md (``--out``, ``--md``). numpy/scipy only,
single-threaded.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.fft  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/bench_oracle.py` and `import benchmarks.bench_oracle`
    sys.path.insert(0, str(ROOT))

DEFAULT_SNRS = (0.3, 0.1, 0.03, 0.01, 0.003)
#: SNR of the "chance" row: the same micrographs with the particle signal scaled to nothing.
CHANCE_SNR = 1e-9
DEMO_PICK_SEED = 2  # scripts/run_demo.sh: samcryo simulate --out-dir demo_data/pick --seed 2
DISTANCE_FRACTION = 0.5  # match radius and peak spacing, in diameters (project standard)


# --------------------------------------------------------------------------------------------
# Data: the demo's unseen micrographs
# --------------------------------------------------------------------------------------------

def demo_params(snr: float, shape: tuple[int, int] = (1024, 1024),
                diameters_A: tuple[float, ...] | list[float] | None = None, **overrides):
    """The ``SimulationParams`` that ``samcryo simulate --snr SNR [--diameters-A D ...]`` builds
    (CLI defaults otherwise; ``diameters_A=None`` keeps the CLI's default particle type).

    Parsed through the CLI's own argument parser and mapped the way ``cli/simulate.run`` maps it,
    so a change of a CLI default shows up here too.
    """
    from samcryo_core.cli.simulate import add_arguments
    from samcryo_core.simulate import SimulationParams

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--out-dir", "unused", "--n", "1", "--snr", repr(float(snr)),
            "--shape", str(shape[0]), str(shape[1])]
    if diameters_A is not None:
        argv += ["--diameters-A", *(repr(float(d)) for d in diameters_A)]
    a = parser.parse_args(argv)
    kw = dict(
        shape=(a.shape[0], a.shape[1]), pixel_size_A=a.pixel_size, diameters_A=tuple(a.diameters_A),
        n_particles=a.particles_per_micrograph, snr=a.snr, defocus_um=(a.defocus_um[0], a.defocus_um[1]),
        junk=not a.no_junk, touching_fraction=a.touching_fraction, type_seed=a.type_seed,
    )
    kw.update(overrides)
    return SimulationParams(**kw)


def demo_micrograph(params, index: int, dataset_seed: int = DEMO_PICK_SEED):
    """Micrograph ``index`` of ``simulate_dataset(..., params, seed=dataset_seed)`` (not written)."""
    from samcryo_core.simulate.dataset import micrograph_seed
    from samcryo_core.simulate.micrograph import simulate_micrograph

    return simulate_micrograph(params, micrograph_seed(dataset_seed, index))


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
                   labels: list[int] | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Max over an orientation bank of per-template matched-filter z-scores (a GLRT over
    orientation). ``bank_spectra`` are :func:`template_spectrum` s on the padded ``shape``.

    With ``labels`` (one per template, e.g. its particle type) it returns ``(z, label map)``: the
    label of the template that gives the max at each pixel.
    """
    transfer, N = _optics(mic, shape)
    Xw = (input_spectrum(mic.image, mic.junk_mask, shape) * (transfer / N)).astype(np.complex64)
    w = rfft_weights(shape)
    HW = shape[0] * shape[1]
    mean_N = float((w * N).sum()) / HW
    t2n = (w * transfer**2 / N).astype(np.float32)
    H, W = mic.image.shape
    best = np.full((H, W), -np.inf, np.float32)
    label = np.zeros((H, W), np.int64) if labels is not None else None
    for t, T in enumerate(bank_spectra):
        std = mic.noise_std * math.sqrt(float((t2n * (T.real**2 + T.imag**2)).sum()) / (HW * mean_N))
        z = -scipy.fft.irfft2(Xw * np.conj(T), s=shape)[:H, :W] / np.float32(std)
        if label is not None:
            label[z > best] = labels[t]  # type: ignore[index]
        np.maximum(best, z, out=best)
    if label is not None:
        return best.astype(np.float64), label
    return best.astype(np.float64)


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
# Scoring: samcryo's evaluation at the best thresholds in hindsight
# --------------------------------------------------------------------------------------------

@dataclass
class Picks:
    """Peaks of one micrograph (original frame, best first) and its truth.

    With several particle types ``truth_class`` holds each true particle's class id and
    ``pick_class`` each peak's type (class id of the template giving the max); both stay ``None``
    for one type.
    """

    name: str
    xy: np.ndarray
    score: np.ndarray
    truth_xy: np.ndarray
    truth_diameter_px: np.ndarray
    shape: tuple[int, int]
    truth_class: np.ndarray | None = None
    pick_class: np.ndarray | None = None

    @property
    def max_distance(self) -> np.ndarray:
        """Match radius of each true particle: half its own diameter."""
        return DISTANCE_FRACTION * self.truth_diameter_px

    def scored(self):
        """As the evaluation code's :class:`~samcryo_core.evaluation.score.Scored` (FOM = z)."""
        from samcryo_core.evaluation.score import Scored

        picks = pd.DataFrame({"x": self.xy[:, 0], "y": self.xy[:, 1], "fom": self.score,
                              "diameter_px": np.nan})
        truth = pd.DataFrame({"x": self.truth_xy[:, 0], "y": self.truth_xy[:, 1],
                              "diameter_px": self.truth_diameter_px})
        return Scored(self.name, picks, truth, self.shape)


def best_threshold(picks: list[Picks]) -> float:
    """The z threshold of the best pooled F1 (:func:`samcryo_core.evaluation.score.best_f1`);
    ``inf`` (keep nothing) when no threshold finds a true particle."""
    from samcryo_core.evaluation.score import best_f1

    f1, threshold = best_f1([pk.scored() for pk in picks], DISTANCE_FRACTION)
    if threshold is None or (f1 == 0.0 and sum(len(pk.truth_xy) for pk in picks)):
        return math.inf
    return threshold


def _counts_at(picks: list[Picks], thresholds: list[float]) -> dict:
    """Pooled TP/FP/FN and P/R/F1 from ``match_picks`` on the peaks scoring ``>=`` each
    micrograph's threshold (the project's scorer, as every other benchmark uses it)."""
    from samcryo_core.evaluation.matching import match_picks, scores

    tp = fp = fn = 0
    for pk, t in zip(picks, thresholds, strict=True):
        keep = pk.score >= t
        m = match_picks(pk.xy[keep], pk.truth_xy, pk.max_distance)
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
    p, r, f1 = scores(tp, fp, fn)
    return {"f1": round(f1, 4), "precision": round(p, 4), "recall": round(r, 4), "tp": tp, "fp": fp, "fn": fn}


def _class_counts_at(picks: list[Picks], thresholds: list[float]) -> dict[str, dict]:
    """Per true class at the given thresholds: truths, matched truths (``match_picks`` pairs),
    recall, and the fraction of matched picks whose type is the truth's class."""
    from samcryo_core.evaluation.matching import match_picks

    classes = sorted({int(c) for pk in picks if pk.truth_class is not None for c in pk.truth_class})
    n_truth = dict.fromkeys(classes, 0)
    tp = dict.fromkeys(classes, 0)
    type_ok = dict.fromkeys(classes, 0)
    for pk, t in zip(picks, thresholds, strict=True):
        if pk.truth_class is None:
            continue
        for c in pk.truth_class:
            n_truth[int(c)] += 1
        keep = pk.score >= t
        m = match_picks(pk.xy[keep], pk.truth_xy, pk.max_distance)
        kept_class = pk.pick_class[keep] if pk.pick_class is not None else None
        for i, j, _ in m.pairs:
            c = int(pk.truth_class[j])
            tp[c] += 1
            if kept_class is not None and int(kept_class[i]) == c:
                type_ok[c] += 1
    out = {}
    for c in classes:
        out[str(c)] = {
            "n_truth": n_truth[c], "tp": tp[c],
            "recall": round(tp[c] / n_truth[c], 4) if n_truth[c] else None,
            "type_correct_of_matched": round(type_ok[c] / tp[c], 4) if tp[c] else None,
        }
    return out


def sweep(picks: list[Picks]) -> dict:
    """Best-in-hindsight thresholds, per micrograph and one pooled over all micrographs, and the
    counts ``match_picks`` gives there."""
    per_mic_thr = [best_threshold([pk]) for pk in picks]
    global_thr = best_threshold(picks)
    per_mic = [{"micrograph": pk.name, "n_truth": len(pk.truth_xy), "n_peaks": len(pk.xy),
                "best_threshold_z": None if math.isinf(t) else round(t, 3), **_counts_at([pk], [t])}
               for pk, t in zip(picks, per_mic_thr, strict=True)]
    out = {
        "best_per_micrograph_threshold": _counts_at(picks, per_mic_thr),
        "best_pooled_threshold": {"threshold_z": None if math.isinf(global_thr) else round(global_thr, 3),
                                  **_counts_at(picks, [global_thr] * len(picks))},
        "per_micrograph": per_mic,
    }
    if any(pk.truth_class is not None for pk in picks):
        out["per_class"] = {"best_per_micrograph_threshold": _class_counts_at(picks, per_mic_thr),
                            "best_pooled_threshold": _class_counts_at(picks, [global_thr] * len(picks))}
    return out


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


def ske_dprime(mic, n_shown: int | None = None) -> float:
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
    return math.sqrt(d2_total / (n_shown or mic.n_particles))


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


# --------------------------------------------------------------------------------------------
# One SNR
# --------------------------------------------------------------------------------------------

def _model_scale_picks(mic, name: str, templates: list[tuple[np.ndarray, int]], bin_factor: int,
                       min_distance: float, border: float,
                       class_ids: np.ndarray | None = None) -> tuple[Picks, list[float]]:
    """Oracle peaks on the model input (``normalize_micrograph`` binned by ``bin_factor``: the
    working scale is chosen so the sample's diameter lands there), mapped to the original frame.

    One template per particle type; each type's map is z-scaled robustly and the score is their
    pixelwise max. ``class_ids`` (one per template) marks a mixture: the picks then carry truth
    and pick classes. Returns the picks and each type's robust map std.
    """
    from samcryo_core.particles.diameter import as_diameter, typical_diameter
    from samcryo_core.preprocess.normalize import normalize_micrograph

    p = mic.params
    diameter_A = as_diameter([min(p.diameters_A), max(p.diameters_A)])  # as config.yaml gives it
    img, mapping = normalize_micrograph(
        mic.image, name=name, source=name, pixel_size_A=p.pixel_size_A, diameter_A=diameter_A,
        particle_px=typical_diameter(diameter_A) / p.pixel_size_A / bin_factor)
    content = img.astype(np.float64)
    h, w = content.shape
    yy, xx = np.indices((h, w))
    xo, yo = mapping.to_original(xx, yy)
    H, W = mic.image.shape
    junk = mic.junk_mask[np.clip(np.rint(yo).astype(int), 0, H - 1),
                         np.clip(np.rint(xo).astype(int), 0, W - 1)]
    maps, stds = [], []
    for template in templates:
        filt = oracle_filter(mic, template, padded_shape((h, w), template[0].shape[0]), bin_factor=bin_factor)
        z_raw = score_map(content, junk, filt, noise_std=1.0)
        std = robust_std(z_raw[~junk]) if (~junk).any() else 1.0
        maps.append(z_raw / std)
        stds.append(std)
    z, ztype = max_over_types(maps)
    xy, score = find_peaks(z, junk, min_distance / bin_factor, border / bin_factor)
    pick_class = None
    if class_ids is not None:
        pick_class = class_ids[ztype[xy[:, 1].astype(int), xy[:, 0].astype(int)]]
    ox, oy = mapping.to_original(xy[:, 0], xy[:, 1])
    truth = np.stack([mic.x, mic.y], axis=1)
    truth_class = mic.class_id if class_ids is not None else None
    return Picks(name, np.stack([ox, oy], axis=1), score, truth, np.asarray(mic.diameter_px, np.float64),
                 (H, W), truth_class, pick_class), stds


def _rms(values: list[float]) -> float | None:
    v = [x for x in values if not math.isnan(x)]
    return round(float(np.sqrt(np.mean(np.square(v)))), 4) if v else None


def _recall_by_class(res: dict, which: str) -> dict[str, float | None]:
    return {c: v["recall"] for c, v in res["per_class"][which].items()}


def run_snr(snr: float, *, n: int, shape: tuple[int, int], n_rotations: int, dataset_seed: int,
            model_size: int | None, bank: int = 0, diameters_A: tuple[float, ...] | None = None) -> dict:
    """Oracle F1 and detection SNRs of ``n`` demo-like micrographs at one nominal SNR.

    ``diameters_A`` as ``samcryo simulate --diameters-A`` (``None``: the CLI default); with
    several types the score is the max over the types' z-score maps and the row also holds
    per-class numbers (``per_class``, ``recall_by_class_*``).
    """
    t0 = time.perf_counter()
    params = demo_params(snr, shape, diameters_A, keep_clean=True)
    diams = params.diameters_px
    n_types = len(diams)
    mixture = n_types > 1
    class_ids = np.arange(1, n_types + 1) if mixture else None
    d = min(diams)  # peak spacing and border: the smallest type (one type: its diameter)
    templates = [render_template(params, n_rotations=n_rotations, class_index=i) for i in range(n_types)]
    min_distance = DISTANCE_FRACTION * d
    border = params.border_margin_factor * d
    bin_factor = None
    if model_size is not None:
        bin_factor = max(shape) // model_size
        if bin_factor * model_size != max(shape) or bin_factor < 2:
            raise SystemExit(f"--model-size must divide the micrograph side by an integer >= 2, "
                             f"got {model_size}")
        templates_binned = [render_template(params, n_rotations=n_rotations, bin_factor=bin_factor,
                                            class_index=i) for i in range(n_types)]
    pshape = padded_shape(shape, max(t[0].shape[0] for t in templates))
    bank_spectra: list[np.ndarray] = []
    bank_labels: list[int] = []
    for i in range(n_types if bank else 0):
        for b, c in render_bank(params, bank, class_index=i):
            bank_spectra.append(template_spectrum(b, c, pshape).astype(np.complex64))
            bank_labels.append(i + 1)
    picks_bank: list[Picks] = []
    picks, picks_model, dprimes, z_at_truth, std_ratio, model_std = [], [], [], [], [], []
    z_by_class: dict[int, list[float]] = {i + 1: [] for i in range(n_types)}
    dprime_by_class: dict[int, list[float]] = {i + 1: [] for i in range(n_types)}
    truth_diams: list[float] = []
    n_particles = 0
    for i in range(n):
        mic = demo_micrograph(params, i, dataset_seed)
        name = f"pick_{i:04d}"
        n_particles += mic.n_particles
        truth_diams.extend(mic.diameter_px.tolist())
        maps = []
        for template in templates:
            filt = oracle_filter(mic, template, pshape)
            zt = score_map(mic.image, mic.junk_mask, filt)
            # Measured vs analytic noise of the map (a check of the whitening and of the z-scale).
            std_ratio.append(robust_std(zt[~mic.junk_mask]))
            maps.append(zt)
        z, ztype = max_over_types(maps)
        del maps
        if mic.n_particles:
            r = np.clip(np.rint(mic.y).astype(int), 0, shape[0] - 1)
            c = np.clip(np.rint(mic.x).astype(int), 0, shape[1] - 1)
            z_at_truth.extend(z[r, c].tolist())
            for cls, v in zip(mic.class_id.tolist(), z[r, c].tolist(), strict=True):
                z_by_class[int(cls)].append(v)
        xy, score = find_peaks(z, mic.junk_mask, min_distance, border)
        truth = np.stack([mic.x, mic.y], axis=1)
        diam = np.asarray(mic.diameter_px, np.float64)  # each matched within half its own size
        truth_class = mic.class_id if mixture else None
        pick_class = class_ids[ztype[xy[:, 1].astype(int), xy[:, 0].astype(int)]] if mixture else None
        picks.append(Picks(name, xy, score, truth, diam, shape, truth_class, pick_class))
        dprimes.append(ske_dprime(mic))
        if mixture:
            for cls, v in zip(mic.class_id.tolist(), ske_dprime_per_particle(mic).tolist(), strict=True):
                dprime_by_class[int(cls)].append(v)
        if bank_spectra:
            bank_class = None
            if mixture:
                zb, lb = bank_score_map(mic, bank_spectra, pshape, labels=bank_labels)
            else:
                zb = bank_score_map(mic, bank_spectra, pshape)
            bxy, bscore = find_peaks(zb, mic.junk_mask, min_distance, border)
            if mixture:
                bank_class = lb[bxy[:, 1].astype(int), bxy[:, 0].astype(int)]
            picks_bank.append(Picks(name, bxy, bscore, truth, diam, shape, truth_class, bank_class))
        if bin_factor is not None:
            pk, s = _model_scale_picks(mic, name, templates_binned, bin_factor,  # type: ignore[arg-type]
                                       min_distance, border, class_ids)
            picks_model.append(pk)
            model_std.append(s)
    res = sweep(picks)
    d_ok = [v for v in dprimes if not math.isnan(v)]
    # Mixtures: the disc area of the integrated SNR is the mean over the true particles.
    d_int = d if not mixture or not truth_diams else math.sqrt(float(np.mean(np.square(truth_diams))))
    row = {
        "snr": snr,
        "n_micrographs": n,
        "n_particles": n_particles,
        **integrated_snr(snr, d_int),
        "ske_dprime_rms": round(float(np.sqrt(np.mean(np.square(d_ok)))), 4) if d_ok else None,
        "oracle_mean_z_at_truth": round(float(np.mean(z_at_truth)), 4) if z_at_truth else None,
        "oracle_median_z_at_truth": round(float(np.median(z_at_truth)), 4) if z_at_truth else None,
        "map_robust_std_over_analytic": round(float(np.median(std_ratio)), 4),
        "f1_best_per_micrograph_threshold": res["best_per_micrograph_threshold"]["f1"],
        "f1_best_pooled_threshold": res["best_pooled_threshold"]["f1"],
    }
    if mixture:
        row["integrated_snr_diameter_px"] = round(d_int, 3)
        row["recall_by_class_best_per_micrograph_threshold"] = _recall_by_class(
            res, "best_per_micrograph_threshold")
        row["recall_by_class_best_pooled_threshold"] = _recall_by_class(res, "best_pooled_threshold")
        per_class = []
        for k in range(n_types):
            cls = k + 1
            own = res["per_class"]["best_per_micrograph_threshold"].get(str(cls), {})
            pooled = res["per_class"]["best_pooled_threshold"].get(str(cls), {})
            zc = z_by_class[cls]
            per_class.append({
                "class_id": cls, "diameter_A": params.diameters_A[k], "diameter_px": diams[k],
                "n_particles": len(zc),
                "ske_dprime_rms": _rms(dprime_by_class[cls]),
                "oracle_mean_z_at_truth": round(float(np.mean(zc)), 4) if zc else None,
                "recall_best_per_micrograph_threshold": own.get("recall"),
                "recall_best_pooled_threshold": pooled.get("recall"),
                "type_correct_of_matched_best_pooled_threshold": pooled.get("type_correct_of_matched"),
            })
        row["per_class"] = per_class
    row["original_scale"] = res
    if bin_factor is not None:
        res_m = sweep(picks_model)
        row["model_scale"] = {"model_size": model_size, "bin_factor": bin_factor,
                              "pixel_size_A": params.pixel_size_A * bin_factor,
                              "z_scale": "map / (1.4826 x MAD over non-junk pixels)"
                                         + (", per type, then max over types" if mixture else ""),
                              **res_m}
        row["model_f1_best_per_micrograph_threshold"] = res_m["best_per_micrograph_threshold"]["f1"]
        row["model_f1_best_pooled_threshold"] = res_m["best_pooled_threshold"]["f1"]
        if mixture:
            row["model_recall_by_class_best_pooled_threshold"] = _recall_by_class(
                res_m, "best_pooled_threshold")
    if picks_bank:
        res_b = sweep(picks_bank)
        row["orientation_bank"] = {"n_templates": bank * n_types if mixture else bank,
                                   "statistic": "max over templates of z", **res_b}
        row["bank_f1_best_per_micrograph_threshold"] = res_b["best_per_micrograph_threshold"]["f1"]
        row["bank_f1_best_pooled_threshold"] = res_b["best_pooled_threshold"]["f1"]
        if mixture:
            row["bank_recall_by_class_best_pooled_threshold"] = _recall_by_class(
                res_b, "best_pooled_threshold")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def _snr_label(snr: float) -> str:
    return "~0 (chance)" if snr == CHANCE_SNR else f"{snr:g}"


def _slash(values) -> str:
    return "/".join(f"{v:g}" for v in values)


def _table(cols: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
                      *("| " + " | ".join(r) + " |" for r in rows)]) + "\n\n"


def markdown(result: dict) -> str:
    """A short table of the oracle's numbers for docs and reviews (per type too for mixtures)."""
    s = result["settings"]
    diameters = s.get("diameters_A") or [s["diameter_A"]]
    mixture = len(diameters) > 1
    model, bank = s["model_size"] is not None, s.get("bank", 0)
    cols = ["SNR", "integrated SNR (snr x disc)", "sqrt", "SKE d' (rms)", "mean z at truth",
            "oracle F1 (best thr / mic)", "oracle F1 (one pooled thr)"]
    cols += [f"recall {dA:g} A (one pooled thr)" for dA in diameters] if mixture else []
    cols += [f"F1 at model input {s['model_size']} (best thr / mic)", "(one pooled thr)"] if model else []
    cols += [f"F1 orientation bank x{bank} (best thr / mic)", "(one pooled thr)"] if bank else []
    rows = []
    for r in result["rows"]:
        cells = [_snr_label(r["snr"]), f"{r['integrated_snr']:.3g}", f"{r['ideal_detection_snr']:.3g}",
                 f"{r['ske_dprime_rms']:.3g}", f"{r['oracle_mean_z_at_truth']:.3g}",
                 f"{r['f1_best_per_micrograph_threshold']:.3f}", f"{r['f1_best_pooled_threshold']:.3f}"]
        if mixture:
            cells += [_fmt(r["recall_by_class_best_pooled_threshold"].get(str(k + 1)), ".3f")
                      for k in range(len(diameters))]
        for prefix in (["model_"] if model else []) + (["bank_"] if bank else []):
            cells += [f"{r[prefix + 'f1_best_per_micrograph_threshold']:.3f}",
                      f"{r[prefix + 'f1_best_pooled_threshold']:.3f}"]
        rows.append(cells)
    radius = s["match_distance_px"] if mixture else [s["match_distance_px"]]
    data = (f"Data: {s['n_micrographs']} micrographs per SNR, {s['shape'][0]} x {s['shape'][1]} at "
            f"{s['pixel_size_A']} A/px, particles {_slash(diameters)} A = "
            f"{_slash(s.get('diameters_px') or [s['diameter_px']])} px, junk on: the demo's unseen set "
            f"(`samcryo simulate --seed {s['dataset_seed']}"
            + (f" --diameters-A {' '.join(f'{v:g}' for v in diameters)}" if mixture else "")
            + f"`), same particles/CTF/noise at every SNR. Templates: the mean of {s['n_rotations']} "
            + ("projections per type; score = max over types of their z-scores" if mixture else "projections")
            + f". Peaks >= {s['min_distance_px']:g} px apart, border {s['border_px']:g} px; each true "
            f"particle matched within half its own diameter ({_slash(radius)} px), pooled.\n\n")
    per_class = ""
    if mixture:
        cls_rows = [[_snr_label(r["snr"]), str(c["class_id"]),
                     f"{c['diameter_A']:g} A ({c['diameter_px']:g} px)", str(c["n_particles"]),
                     _fmt(c["ske_dprime_rms"], ".3g"), _fmt(c["oracle_mean_z_at_truth"], ".3g"),
                     _fmt(c["recall_best_per_micrograph_threshold"], ".3f"),
                     _fmt(c["recall_best_pooled_threshold"], ".3f"),
                     _fmt(c["type_correct_of_matched_best_pooled_threshold"], ".3f")]
                    for r in result["rows"] for c in r["per_class"]]
        per_class = ("Per particle type (recall = matched true particles of the class / its true particles, "
                     "at the thresholds of the F1 above; type right = matched picks whose max-z type is the "
                     "class; d' split between particles by nearest centre):\n\n"
                     + _table(["SNR", "class", "diameter", "particles", "SKE d' (rms)", "mean z at truth",
                               "recall (best thr / mic)", "recall (one pooled thr)",
                               "type right (one pooled thr)"], cls_rows))
    m = result["machine"]
    return (
        "# Oracle matched-filter detectability of simulated particles\n\n"
        f"{result['what']}\n\n" + data + _table(cols, rows) + per_class
        + "* integrated SNR = snr x disc area (mixtures: the mean disc); sqrt = detection SNR of a "
        "white-noise matched filter on a uniform disc. SKE d' = detection SNR of each particle's exact "
        "signal through the coloured noise (known position and orientation: a Bayes bound).\n"
        "* mean z at truth = the oracle's z-score at the true centres (orientation-averaged template, "
        "so below d'). Orientation bank: max z over single-projection templates at random orientations.\n"
        "* best thr / mic: each micrograph its own best threshold; one pooled thr: the single z "
        "threshold best over all micrographs.\n\n"
        f"Command: `{result['command']}`. {m['cpu_model']}, {result['seconds']} s; numpy {m['numpy']}, "
        f"scipy {m['scipy']}, scikit-image {result['versions']['scikit_image']}; "
        f"samcryo_core @ {m['git_commit']}, {m['date_utc']}.\n"
    )


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    from samcryo_core.io.atomic import atomic_write_text

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--snrs", type=float, nargs="+", default=None,
                   help=f"nominal SNRs (default {DEFAULT_SNRS})")
    p.add_argument("--n", type=int, default=None, help="micrographs per SNR (default 10)")
    p.add_argument("--shape", type=int, default=None, help="micrograph side in px (default 1024, the demo's)")
    p.add_argument("--n-rotations", type=int, default=64, help="projections averaged into the template")
    p.add_argument("--diameters-A", type=float, nargs="+", default=None, metavar="D",
                   help="particle types in Angstrom, as `samcryo simulate --diameters-A` (class ids "
                        "1, 2, ...; default: the simulate CLI's default)")
    p.add_argument("--seed", type=int, default=DEMO_PICK_SEED,
                   help="data set seed (default 2: the demo's unseen set)")
    p.add_argument("--model-size", type=int, default=None,
                   help="also run on normalize_micrograph output binned to this side (default: side / 2, the "
                        "demo's 40 px particles at cpu_small's 20 px working scale; 0 = skip)")
    p.add_argument("--bank", type=int, default=None,
                   help="also score a bank of this many single-projection templates, max z (default 16; "
                        "quick 4; 0 = skip)")
    p.add_argument("--no-chance", dest="chance", action="store_false",
                   help=f"skip the chance row (SNR {CHANCE_SNR:g}: same micrographs, no particle signal)")
    p.add_argument("--quick", action="store_true", help="2 micrographs, SNRs 1 and 0.01, 256 px (smoke run)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/oracle.json")
    p.add_argument("--md", type=Path, default=None, help="markdown table (default: --out with .md)")
    args = p.parse_args(argv)
    quick = args.quick
    snrs = tuple(args.snrs) if args.snrs else ((1.0, 0.01) if quick else DEFAULT_SNRS)
    n = args.n if args.n is not None else (2 if quick else 10)
    side = args.shape if args.shape is not None else (256 if quick else 1024)
    model_size = None if args.model_size == 0 else (args.model_size or side // 2)
    shape = (side, side)
    bank = args.bank if args.bank is not None else (4 if quick else 16)
    md_path = args.md or args.out.with_suffix(".md")
    diameters_A = tuple(args.diameters_A) if args.diameters_A else None

    import skimage

    from benchmarks.common import machine_info

    t0 = time.perf_counter()
    rows = []
    for snr in snrs + ((CHANCE_SNR,) if args.chance else ()):
        row = run_snr(snr, n=n, shape=shape, n_rotations=args.n_rotations, dataset_seed=args.seed,
                      model_size=model_size, bank=bank, diameters_A=diameters_A)
        rows.append(row)
        extra = (f", model input F1 {row['model_f1_best_per_micrograph_threshold']:.3f}"
                 if model_size else "")
        if bank:
            extra += f", bank x{bank} F1 {row['bank_f1_best_per_micrograph_threshold']:.3f}"
        if "recall_by_class_best_pooled_threshold" in row:
            extra += ", recall by class (pooled thr) " + " / ".join(
                f"{c}: {_fmt(v, '.3f')}" for c, v in row["recall_by_class_best_pooled_threshold"].items())
        print(f"SNR {snr:g}: integrated {row['integrated_snr']:.3g} (sqrt {row['ideal_detection_snr']:.3g}), "
              f"SKE d' {row['ske_dprime_rms']:.3g}, z at truth {row['oracle_mean_z_at_truth']:.3g}; "
              f"oracle F1 {row['f1_best_per_micrograph_threshold']:.3f} (per-mic thr) / "
              f"{row['f1_best_pooled_threshold']:.3f} (pooled thr){extra}  [{row['seconds']} s]",
              file=sys.stderr, flush=True)
    params = demo_params(snrs[0], shape, diameters_A)
    d = min(params.diameters_px)
    mixture = len(params.diameters_A) > 1
    result = {
        "what": "particle F1 of an oracle pre-whitened matched filter (true protein, true CTF, true noise "
                "spectrum, junk mask, best threshold in hindsight) on the demo's simulated micrographs: an "
                "upper bound in practice for any picker at each nominal SNR",
        "settings": {
            "snrs": list(snrs), "chance_snr": CHANCE_SNR if args.chance else None, "n_micrographs": n,
            "shape": list(shape), "pixel_size_A": params.pixel_size_A, "diameter_A": min(params.diameters_A),
            "diameter_px": d,
            **({"diameters_A": list(params.diameters_A), "diameters_px": list(params.diameters_px),
                "class_ids": list(range(1, len(params.diameters_A) + 1)),
                "type_weights": None if params.type_weights is None else list(params.type_weights),
                "diameter_note": "diameter_A/diameter_px: the smallest type (peak spacing, border)",
                "score": "pixelwise max over types of the per-type z-score maps (GLRT over type)"}
               if mixture else {}),
            "particles_requested": params.n_particles, "junk": params.junk,
            "defocus_um": list(params.defocus_um), "dataset_seed": args.seed,
            "micrograph_seeds": "samcryo_core.simulate.dataset.micrograph_seed(seed, i), i = 0..n-1",
            "n_rotations": args.n_rotations, "template_rotation_seed": 0,
            "filter": "conj(T x CTF x sqrt(detector)) / noise_power, "
                      "score = -correlation / analytic noise std",
            "junk_handling": "junk pixels filled with the non-junk median; peaks on junk dropped",
            "min_distance_px": DISTANCE_FRACTION * d, "border_px": params.border_margin_factor * d,
            "match_distance_px": ([DISTANCE_FRACTION * v for v in params.diameters_px] if mixture
                                  else DISTANCE_FRACTION * d),
            "model_size": model_size, "bank": bank,
            "bank_rotation_seed": 1, "quick": quick,
            "simulation_params": {k: (list(v) if isinstance(v, tuple) else v)
                                  for k, v in asdict(params).items() if k not in ("snr", "keep_clean")},
        },
        "rows": rows,
        "versions": {"scikit_image": skimage.__version__},
        "machine": machine_info(),
        "threads": 1,
        "seconds": round(time.perf_counter() - t0, 1),
        "command": "python benchmarks/bench_oracle.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    atomic_write_text(md_path, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

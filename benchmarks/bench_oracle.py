#!/usr/bin/env python
"""How detectable are simulated particles at all? An oracle matched filter at each nominal SNR.

Why: the simulator's SNR (``SimulationParams.snr``) is the variance of the CTF-modulated particle
signal over the particle discs divided by the per-pixel noise variance. Whether an F1 reported
for some picker at some nominal SNR is plausible depends on how much detection information the
micrographs hold, which no learned picker can reveal. This benchmark measures an upper bound in
practice: a template matcher that is told everything a real picker does not know,

* the exact protein: the template is the average of its projections over many random rotations
  (``particle_types`` + ``add_projection``, centre of mass at the box centre),
* the micrograph's true CTF (``relion_ctf`` with the drawn DefocusU/V/angle, times the detector
  amplitude transfer, exactly as ``simulate/micrograph.py`` forms the image),
* the noise power spectrum (``noise.noise_power`` with the parameters' values), so the filter is
  the pre-whitened matched filter ``G = conj(T_ctf) / N`` (particles are dark: the score is the
  correlation with ``-T_ctf``),
* the junk mask (junk pixels are filled with the background median before filtering, and peaks
  on junk are dropped),
* the best threshold in hindsight (per micrograph, and the single threshold best over the pooled
  set).

Peaks are local maxima of the noise-normalised filter output (z-score; the noise std is computed
analytically from the filter and the noise spectrum) at least ``0.5 x diameter`` apart
(``skimage.feature.peak_local_max``), outside the simulator's border margin; they are scored with
``samcryo_core.evaluation.matching.match_picks`` within ``0.5 x diameter``, pooled over micrographs.

An optional orientation bank (``--bank K``: the max over K single-projection templates of their
z-scores) tests whether knowing the 3-D structure beyond the mean projection helps; with a few
dozen random orientations it does not (the look-elsewhere effect over templates eats the gain).
Neither variant is a strict bound: a learned picker may marginalise over orientation better.

Several particle types (``--diameters-A D1 D2 ...``, as ``samcryo simulate --diameters-A``; class
ids 1, 2, ... in that order): one orientation-averaged template per type, one oracle filter per
type and micrograph, and the score is the pixelwise max of the per-type z-score maps (a GLRT over
type; the type of the max is the pick's type). Peaks are ``0.5 x`` the *smallest* diameter apart
and the border is the simulator's margin of the smallest; each true particle is matched within
half its *own* diameter (``match_picks`` with one distance per true particle). Per class it
reports the recall at the chosen thresholds, how often a matched pick's type is right, the mean
z at the true centres and the rms SKE ``d'`` (each particle's share of the whitened signal
energy, split between particles by nearest centre: exact in total, approximate per particle
where particles touch). The orientation bank and the model-input run take mixtures the same way
(bank: K projections per type, max over all).

Besides F1 it reports the "integrated SNR" ``snr x disc area`` and its square root (the detection
SNR of a white-noise matched filter over a uniform disc), the exact signal-known-exactly detection
SNR ``d'`` of each particle (its own projection and CTF, through the real coloured noise spectrum:
the Bayes bound for a known location) and the mean oracle z-score at the true centres.

The micrographs are the demo's unseen ones: ``samcryo simulate --seed 2`` (``simulate_dataset``
with ``seed=2``: micrograph ``i`` uses ``micrograph_seed(2, i)``) with the CLI's parameters, so
SNR 0.1 and 0.01 are exactly the micrographs the demo picks. The random draws do not depend on
the SNR, so every SNR shows the same particles, CTFs, junk and noise realisation; only the signal
scale changes. Optionally the same oracle runs on the model input (``normalize_micrograph`` to
512, i.e. 8 A/px after Fourier cropping and robust standardisation).

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

def render_template(params, *, n_rotations: int = 64, rotation_seed: int = 0, bin_factor: int = 1,
                    class_index: int = 0) -> tuple[np.ndarray, int]:
    """Rotation-averaged projection of the particle type, at the original or a binned pixel size.

    Returns ``(box, centre)``: a square float64 image whose centre of mass is at pixel
    ``(centre, centre)``. For ``bin_factor > 1`` the template is rendered at the original pixel
    size and Fourier-cropped with the same ``fourier_resample`` that ``normalize_micrograph`` uses
    (alias-free, and the same half-pixel convention, so the binned centre is an integer pixel).
    """
    from samcryo_core.preprocess.fourier import fourier_resample
    from samcryo_core.simulate.micrograph import particle_types
    from samcryo_core.simulate.particles import add_projection, random_rotations

    ptype = particle_types(params.diameters_A, params.type_seed)[class_index]
    d = ptype.diameter_A / params.pixel_size_A
    # Box: twice the diameter (blob tails reach 3.5 sigma past the disc), a multiple of 2 x bin.
    step = 2 * bin_factor
    box = int(math.ceil(2 * d / step) * step)
    centre_binned = box // bin_factor // 2
    centre = (centre_binned + 0.5) * bin_factor - 0.5  # original-pixel position that bins onto it
    canvas = np.zeros((box, box), np.float64)
    rotations = random_rotations(n_rotations, np.random.default_rng(rotation_seed))
    for r in range(n_rotations):
        add_projection(canvas, centre, centre, ptype.centres_A, ptype.sigmas_A, ptype.masses,
                       rotations[r], params.pixel_size_A)
    canvas /= n_rotations
    if bin_factor == 1:
        return canvas, int(centre)
    out = fourier_resample(canvas, (box // bin_factor, box // bin_factor)).astype(np.float64)
    return out, centre_binned


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


def render_bank(params, n: int, rotation_seed: int = 1, class_index: int = 0) -> list[tuple[np.ndarray, int]]:
    """``n`` single projections of particle type ``class_index`` (0-based) at random orientations
    (each centred)."""
    from samcryo_core.simulate.micrograph import particle_types
    from samcryo_core.simulate.particles import add_projection, random_rotations

    ptype = particle_types(params.diameters_A, params.type_seed)[class_index]
    d = ptype.diameter_A / params.pixel_size_A
    box = int(math.ceil(d)) * 2
    c = box // 2
    rotations = random_rotations(n, np.random.default_rng(rotation_seed))
    out = []
    for r in range(n):
        canvas = np.zeros((box, box), np.float64)
        add_projection(canvas, c, c, ptype.centres_A, ptype.sigmas_A, ptype.masses, rotations[r],
                       params.pixel_size_A)
        out.append((canvas, c))
    return out


def bank_score_map(mic, bank_spectra: list[np.ndarray], shape: tuple[int, int],
                   labels: list[int] | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Max over an orientation bank of per-template matched-filter z-scores (a GLRT over
    orientation): the oracle that also knows the particle's 3-D structure, not only its mean
    projection. ``bank_spectra`` are :func:`template_spectrum` s on the padded ``shape``.

    With ``labels`` (one per template, e.g. its particle type) it returns ``(z, label map)``: the
    label of the template that gives the max at each pixel.
    """
    transfer, N = _optics(mic, shape)
    x = filled(mic.image, mic.junk_mask)
    x -= x[~mic.junk_mask].mean() if (~mic.junk_mask).any() else x.mean()
    H, W = mic.image.shape
    padded = np.zeros(shape, np.float64)
    padded[:H, :W] = x
    Xw = (scipy.fft.rfft2(padded) * (transfer / N)).astype(np.complex64)
    w = rfft_weights(shape)
    HW = shape[0] * shape[1]
    mean_N = float((w * N).sum()) / HW
    t2n = (w * transfer**2 / N).astype(np.float32)
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


def filled(image: np.ndarray, junk: np.ndarray) -> np.ndarray:
    """The image with junk pixels set to the median of the rest (the oracle knows the junk)."""
    out = np.asarray(image, np.float64).copy()
    if junk.any() and (~junk).any():
        out[junk] = float(np.median(out[~junk]))
    return out


def score_map(image: np.ndarray, junk: np.ndarray, filt: OracleFilter,
              noise_std: float | None = None) -> np.ndarray:
    """Matched-filter z-score map: high where a dark particle like the template sits.

    The image is mean-subtracted and junk-filled; the raw correlation is negated because protein
    is dark (``image = 1 - c S``). ``noise_std`` overrides the analytic output std (the model
    input is rescaled by the standardisation, so there it is measured robustly instead).
    """
    x = filled(image, junk)
    x -= x[~junk].mean() if (~junk).any() else x.mean()
    H, W = image.shape
    padded = np.zeros(filt.shape, np.float64)  # zero = the background mean: no wrap-around
    padded[:H, :W] = x
    out = -scipy.fft.irfft2(scipy.fft.rfft2(padded) * filt.G, s=filt.shape)[:H, :W]
    std = filt.map_noise_std if noise_std is None else noise_std
    return out / std


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
# Scoring: every threshold at once, checked with match_picks
# --------------------------------------------------------------------------------------------

@dataclass
class Picks:
    """Peaks of one micrograph (original frame, best first) and its truth.

    ``max_distance`` is one match radius or one per true particle (half its own diameter).
    With several particle types ``truth_class`` holds each true particle's class id and
    ``pick_class`` each peak's type (class id of the template giving the max); both stay ``None``
    for one type.
    """

    name: str
    xy: np.ndarray
    score: np.ndarray
    truth_xy: np.ndarray
    max_distance: float | np.ndarray
    truth_class: np.ndarray | None = None
    pick_class: np.ndarray | None = None


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)


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
    """Best-in-hindsight thresholds: per micrograph and one pooled over all micrographs.

    Every threshold is swept at once: with the peaks ranked by score, the cumulative sum of
    ``incremental_tp`` is the maximum matching among the top ``k`` peaks (equal to the Hungarian
    count of ``match_picks``), so TP/FP/FN at every cut-off are one ``cumsum``. The chosen
    thresholds are then re-scored with ``match_picks`` itself.
    """
    from samcryo_core.evaluation.matching import incremental_tp

    per_mic_thr: list[float] = []
    per_mic: list[dict] = []
    all_score, all_gain, n_truth = [], [], 0
    for pk in picks:
        gain = incremental_tp(pk.xy, pk.truth_xy, pk.max_distance)
        M = len(pk.truth_xy)
        n_truth += M
        all_score.append(pk.score)
        all_gain.append(gain)
        if len(gain):
            tp = np.cumsum(gain)
            k = np.arange(1, len(gain) + 1)
            f1 = _f1(tp, k - tp, M - tp)
            last = np.append(pk.score[1:] != pk.score[:-1], True)  # cut only between distinct scores
            f1 = np.where(last, f1, -1.0)
            j = int(np.argmax(f1))
            thr = float(pk.score[j]) if f1[j] > (0.0 if M else -1.0) else math.inf
        else:
            thr = math.inf
        per_mic_thr.append(thr)
        per_mic.append({"micrograph": pk.name, "n_truth": M, "n_peaks": len(pk.xy),
                        "best_threshold_z": None if math.isinf(thr) else round(thr, 3)})
    score = np.concatenate(all_score) if all_score else np.zeros(0)
    gain = np.concatenate(all_gain) if all_gain else np.zeros(0, np.int64)
    order = np.argsort(-score, kind="stable")
    score, gain = score[order], gain[order]
    global_thr = math.inf
    if len(gain):
        tp = np.cumsum(gain)
        k = np.arange(1, len(gain) + 1)
        f1 = _f1(tp, k - tp, n_truth - tp)
        last = np.append(score[1:] != score[:-1], True)
        f1 = np.where(last, f1, -1.0)
        j = int(np.argmax(f1))
        global_thr = float(score[j])
    own = _counts_at(picks, per_mic_thr)
    pooled = _counts_at(picks, [global_thr] * len(picks))
    for row, pk, t in zip(per_mic, picks, per_mic_thr, strict=True):
        row.update({k: v for k, v in _counts_at([pk], [t]).items()})
    out = {
        "best_per_micrograph_threshold": own,
        "best_pooled_threshold": {"threshold_z": None if math.isinf(global_thr) else round(global_thr, 3),
                                  **pooled},
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

def _model_scale_picks(mic, name: str, model_size: int, templates: list[tuple[np.ndarray, int]],
                       bin_factor: int, min_distance: float, border: float, max_distance: float | np.ndarray,
                       class_ids: np.ndarray | None = None) -> tuple[Picks, list[float]]:
    """Oracle peaks on the model input (``normalize_micrograph``), mapped to the original frame.

    One template per particle type; each type's map is z-scaled robustly and the score is their
    pixelwise max. ``class_ids`` (one per template) marks a mixture: the picks then carry truth
    and pick classes. Returns the picks and each type's robust map std.
    """
    from samcryo_core.preprocess.normalize import normalize_micrograph

    img, mapping = normalize_micrograph(mic.image, model_size, name=name, source=name,
                                        pixel_size_A=mic.params.pixel_size_A)
    rows, cols = mapping.content_slice()
    content = img[rows, cols].astype(np.float64)
    h, w = content.shape
    yy, xx = np.indices((h, w))
    xo, yo = mapping.to_original(xx + mapping.pad_x, yy + mapping.pad_y)
    H, W = mic.image.shape
    rows_o = np.clip(np.rint(yo).astype(int), 0, H - 1)
    junk = mic.junk_mask[rows_o, np.clip(np.rint(xo).astype(int), 0, W - 1)]
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
    ox, oy = mapping.to_original(xy[:, 0] + mapping.pad_x, xy[:, 1] + mapping.pad_y)
    truth = np.stack([mic.x, mic.y], axis=1)
    truth_class = mic.class_id if class_ids is not None else None
    return Picks(name, np.stack([ox, oy], axis=1), score, truth, max_distance, truth_class, pick_class), stds


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
        max_distance = DISTANCE_FRACTION * np.asarray(mic.diameter_px, np.float64)  # each its own size
        truth_class = mic.class_id if mixture else None
        pick_class = class_ids[ztype[xy[:, 1].astype(int), xy[:, 0].astype(int)]] if mixture else None
        picks.append(Picks(name, xy, score, truth, max_distance, truth_class, pick_class))
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
            picks_bank.append(Picks(name, bxy, bscore, truth, max_distance, truth_class, bank_class))
        if bin_factor is not None:
            pk, s = _model_scale_picks(mic, name, model_size, templates_binned, bin_factor,  # type: ignore[arg-type]
                                       min_distance, border, max_distance, class_ids)
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

def markdown(result: dict) -> str:
    """A short table of the oracle's numbers for docs and reviews."""
    s = result["settings"]
    model = s["model_size"] is not None
    diameters = s.get("diameters_A") or [s["diameter_A"]]
    mixture = len(diameters) > 1
    cols = ["SNR", "integrated SNR (snr x disc)", "sqrt", "SKE d' (rms)", "mean z at truth",
            "oracle F1 (best thr / mic)", "oracle F1 (one pooled thr)"]
    if mixture:
        cols += [f"recall {dA:g} A (one pooled thr)" for dA in diameters]
    if model:
        cols += [f"F1 at model input {s['model_size']} (best thr / mic)", "(one pooled thr)"]
    bank = s.get("bank", 0)
    if bank:
        cols += [f"F1 orientation bank x{bank} (best thr / mic)", "(one pooled thr)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in result["rows"]:
        snr = "~0 (chance)" if r["snr"] == CHANCE_SNR else f"{r['snr']:g}"
        cells = [snr, f"{r['integrated_snr']:.3g}", f"{r['ideal_detection_snr']:.3g}",
                 f"{r['ske_dprime_rms']:.3g}", f"{r['oracle_mean_z_at_truth']:.3g}",
                 f"{r['f1_best_per_micrograph_threshold']:.3f}", f"{r['f1_best_pooled_threshold']:.3f}"]
        if mixture:
            cells += [_fmt(r["recall_by_class_best_pooled_threshold"].get(str(k + 1)), ".3f")
                      for k in range(len(diameters))]
        if model:
            cells += [f"{r['model_f1_best_per_micrograph_threshold']:.3f}",
                      f"{r['model_f1_best_pooled_threshold']:.3f}"]
        if bank:
            cells += [f"{r['bank_f1_best_per_micrograph_threshold']:.3f}",
                      f"{r['bank_f1_best_pooled_threshold']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    m = result["machine"]
    if mixture:
        px = "/".join(f"{v:g}" for v in s["diameters_px"])
        data = (
            f"Data: {s['n_micrographs']} micrographs per SNR, {s['shape'][0]} x {s['shape'][1]} at "
            f"{s['pixel_size_A']} A/px, {len(diameters)} particle types "
            f"{'/'.join(f'{v:g}' for v in diameters)} A = {px} px (class ids "
            f"{'/'.join(str(k + 1) for k in range(len(diameters)))}, "
            f"{'equal odds' if s.get('type_weights') is None else 'weights ' + str(s['type_weights'])}), "
            f"junk on: the demo's unseen set (`samcryo simulate --seed {s['dataset_seed']} --diameters-A "
            f"{' '.join(f'{v:g}' for v in diameters)}`), same particles/CTF/noise at every SNR. "
            f"Templates: per type the mean of {s['n_rotations']} projections; score = pixelwise max over "
            f"types of their z-scores. Peaks >= {s['min_distance_px']:g} px apart (half the smallest "
            f"diameter), border {s['border_px']:g} px; each true particle matched within half its own "
            f"diameter ({'/'.join(f'{v:g}' for v in s['match_distance_px'])} px, match_picks), pooled.\n\n"
        )
        cls_cols = ["SNR", "class", "diameter", "particles", "SKE d' (rms)", "mean z at truth",
                    "recall (best thr / mic)", "recall (one pooled thr)", "type right (one pooled thr)"]
        cls_lines = ["| " + " | ".join(cls_cols) + " |", "|" + "---|" * len(cls_cols)]
        for r in result["rows"]:
            snr = "~0 (chance)" if r["snr"] == CHANCE_SNR else f"{r['snr']:g}"
            for c in r["per_class"]:
                cls_lines.append("| " + " | ".join([
                    snr, str(c["class_id"]), f"{c['diameter_A']:g} A ({c['diameter_px']:g} px)",
                    str(c["n_particles"]), _fmt(c["ske_dprime_rms"], ".3g"),
                    _fmt(c["oracle_mean_z_at_truth"], ".3g"),
                    _fmt(c["recall_best_per_micrograph_threshold"], ".3f"),
                    _fmt(c["recall_best_pooled_threshold"], ".3f"),
                    _fmt(c["type_correct_of_matched_best_pooled_threshold"], ".3f"),
                ]) + " |")
        per_class_md = (
            "Per particle type (recall = matched true particles of the class / its true particles, at "
            "the thresholds chosen for the pooled F1 above):\n\n" + "\n".join(cls_lines) + "\n\n"
        )
        notes = (
            "* mixtures: integrated SNR uses the mean disc area of the true particles; per-type SKE d' "
            "splits the whitened particle signal energy between particles by nearest centre (exact in "
            "total); type right = fraction of matched picks whose max-z type is the true class.\n"
        )
    else:
        data = (
            f"Data: {s['n_micrographs']} micrographs per SNR, {s['shape'][0]} x {s['shape'][1]} at "
            f"{s['pixel_size_A']} A/px, {s['diameter_px']:g} px particles, junk on: the demo's unseen set "
            f"(`samcryo simulate --seed {s['dataset_seed']}`), same particles/CTF/noise at every SNR. "
            f"Template: mean of {s['n_rotations']} projections. Peaks >= {s['min_distance_px']:g} px apart, "
            f"border {s['border_px']:g} px; matched within {s['match_distance_px']:g} px (match_picks), "
            "pooled.\n\n"
        )
        per_class_md = notes = ""
    return (
        "# Oracle matched-filter detectability of simulated particles\n\n"
        f"{result['what']}\n\n"
        + data
        + "\n".join(lines) + "\n\n"
        + per_class_md
        + "* integrated SNR = snr x disc area; sqrt = detection SNR of a white-noise matched filter on a "
        "uniform disc (back of the envelope).\n"
        "* SKE d' = signal-known-exactly detection SNR of each particle's exact signal through the "
        "simulator's coloured noise (known position and orientation: a Bayes bound).\n"
        "* mean z at truth = the oracle filter's z-score at the true centres (template = orientation "
        "average, so below d').\n"
        "* orientation bank: max over single-projection templates at random orientations of their "
        "z-scores (knows the 3-D structure, not only the mean projection; more templates, more noise "
        "peaks).\n"
        "* best thr / mic: each micrograph its own best threshold; one pooled thr: the single z "
        "threshold best over all micrographs.\n"
        + notes + "\n"
        f"Command: `{result['command']}`. {m['cpu_model']}, {result['seconds']} s; numpy {m['numpy']}, "
        f"scipy {m['scipy']}, scikit-image {result['versions']['scikit_image']}; "
        f"samcryo_core @ {m['git_commit']}, "
        f"{m['date_utc']}.\n"
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
                   help="also run on normalize_micrograph output of this size (default: side / 2; 0 = skip)")
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

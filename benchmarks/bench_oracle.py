#!/usr/bin/env python
"""How detectable are simulated particles at all? An oracle matched filter at each nominal SNR.

Why: the simulator's SNR (``SimulationParams.snr``) is the variance of the CTF-modulated particle
signal over the particle discs divided by the per-pixel noise variance. Whether an F1 reported for
some picker at some nominal SNR is plausible depends on how much detection information the
micrographs hold, which no learned picker can reveal. This benchmark measures an upper bound in
practice: a pre-whitened matched filter told the exact protein, each micrograph's true CTF, the
noise spectrum and the junk mask (``oracle_filter.py``), with the best threshold in hindsight
(per micrograph, and one pooled over the set).

Peaks are local maxima of the filter's z-score map at least ``0.5 x`` the smallest diameter
apart, outside the simulator's border margin. They are scored with samcryo's evaluation:
thresholds from :func:`samcryo_core.evaluation.score.best_f1`, counts from ``match_picks``, each
true particle matched within half its own diameter, pooled over micrographs.

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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/bench_oracle.py` and `import benchmarks.bench_oracle`
    sys.path.insert(0, str(ROOT))

from benchmarks.oracle_filter import (  # noqa: E402
    bank_score_map,
    find_peaks,
    integrated_snr,
    max_over_types,
    oracle_filter,
    padded_shape,
    render_bank,
    render_template,
    robust_std,
    score_map,
    ske_dprime,
    ske_dprime_per_particle,
    template_spectrum,
)

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
# One SNR
# --------------------------------------------------------------------------------------------

def _model_scale_picks(mic, name: str, templates: list[tuple[np.ndarray, int]], bin_factor: int,
                       min_distance: float, border: float,
                       class_ids: np.ndarray | None = None) -> Picks:
    """Oracle peaks on the model input (``normalize_micrograph`` binned by ``bin_factor``: the
    working scale is chosen so the sample's diameter lands there), mapped to the original frame.

    One template per particle type; each type's map is z-scaled robustly and the score is their
    pixelwise max. ``class_ids`` (one per template) marks a mixture: the picks then carry truth
    and pick classes.
    """
    from samcryo_core.particles.diameter import as_diameter, typical_diameter
    from samcryo_core.preprocess.normalize import normalize_micrograph

    p = mic.params
    diameter_A = as_diameter([min(p.diameters_A), max(p.diameters_A)])  # as a config gives it
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
    maps = []
    for template in templates:
        filt = oracle_filter(mic, template, padded_shape((h, w), template[0].shape[0]), bin_factor=bin_factor)
        z_raw = score_map(content, junk, filt, noise_std=1.0)
        maps.append(z_raw / (robust_std(z_raw[~junk]) if (~junk).any() else 1.0))
    z, ztype = max_over_types(maps)
    xy, score = find_peaks(z, junk, min_distance / bin_factor, border / bin_factor)
    pick_class = None if class_ids is None else class_ids[_at(ztype, xy)]
    ox, oy = mapping.to_original(xy[:, 0], xy[:, 1])
    truth = np.stack([mic.x, mic.y], axis=1)
    truth_class = mic.class_id if class_ids is not None else None
    return Picks(name, np.stack([ox, oy], axis=1), score, truth, np.asarray(mic.diameter_px, np.float64),
                 (H, W), truth_class, pick_class)


def _rms(values: list[float]) -> float | None:
    v = [x for x in values if not math.isnan(x)]
    return round(float(np.sqrt(np.mean(np.square(v)))), 4) if v else None


def _at(label_map: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Values of ``label_map`` at integer peak positions ``xy`` (x, y)."""
    return label_map[xy[:, 1].astype(int), xy[:, 0].astype(int)]


def _headline(res: dict, prefix: str, mixture: bool) -> dict:
    """The F1s (and per-class recalls of a mixture) of one :func:`sweep` as row keys."""
    which = ("best_per_micrograph_threshold", "best_pooled_threshold")
    out = {f"{prefix}f1_{w}": res[w]["f1"] for w in which}
    if mixture:
        out.update({f"{prefix}recall_by_class_{w}": {c: v["recall"] for c, v in res["per_class"][w].items()}
                    for w in which})
    return out


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
    types = range(len(diams))
    mixture = len(diams) > 1
    class_ids = np.arange(1, len(diams) + 1)
    d = min(diams)  # peak spacing and border: the smallest type (one type: its diameter)
    min_distance, border = DISTANCE_FRACTION * d, params.border_margin_factor * d
    templates = [render_template(params, n_rotations=n_rotations, class_index=i) for i in types]
    bin_factor = None
    if model_size is not None:
        bin_factor = max(shape) // model_size
        if bin_factor * model_size != max(shape) or bin_factor < 2:
            raise SystemExit(f"--model-size must divide the micrograph side by an integer >= 2, "
                             f"got {model_size}")
        binned = [render_template(params, n_rotations=n_rotations, bin_factor=bin_factor, class_index=i)
                  for i in types]
    pshape = padded_shape(shape, max(t[0].shape[0] for t in templates))
    bank_set = [(template_spectrum(b, c, pshape).astype(np.complex64), i + 1)
                for i in (types if bank else []) for b, c in render_bank(params, bank, class_index=i)]
    picks: dict[str, list[Picks]] = {"": [], "model_": [], "bank_": []}
    z_by_class: dict[int, list[float]] = {int(c): [] for c in class_ids}
    dprime_by_class: dict[int, list[float]] = {int(c): [] for c in class_ids}
    dprimes, std_ratio, truth_diams = [], [], []
    for i in range(n):
        mic = demo_micrograph(params, i, dataset_seed)
        name = f"pick_{i:04d}"
        truth_diams.extend(mic.diameter_px.tolist())
        truth = np.stack([mic.x, mic.y], axis=1)
        truth_class = mic.class_id if mixture else None
        diam = np.asarray(mic.diameter_px, np.float64)  # each matched within half its own size
        maps = [score_map(mic.image, mic.junk_mask, oracle_filter(mic, t, pshape)) for t in templates]
        # Measured vs analytic noise of the map (a check of the whitening and of the z-scale).
        std_ratio += [robust_std(zt[~mic.junk_mask]) for zt in maps]
        z, ztype = max_over_types(maps)
        if mic.n_particles:
            z_truth = _at(z, np.clip(np.rint(truth), 0, [shape[1] - 1, shape[0] - 1]))
            for cls, v in zip(mic.class_id.tolist(), z_truth.tolist(), strict=True):
                z_by_class[int(cls)].append(v)
        xy, score = find_peaks(z, mic.junk_mask, min_distance, border)
        picks[""].append(Picks(name, xy, score, truth, diam, shape, truth_class,
                               class_ids[_at(ztype, xy)] if mixture else None))
        dprimes.append(ske_dprime(mic))
        if mixture:
            for cls, v in zip(mic.class_id.tolist(), ske_dprime_per_particle(mic).tolist(), strict=True):
                dprime_by_class[int(cls)].append(v)
        if bank_set:
            zb, lb = bank_score_map(mic, [t for t, _ in bank_set], pshape, [c for _, c in bank_set])
            bxy, bscore = find_peaks(zb, mic.junk_mask, min_distance, border)
            picks["bank_"].append(Picks(name, bxy, bscore, truth, diam, shape, truth_class,
                                        _at(lb, bxy) if mixture else None))
        if bin_factor is not None:
            picks["model_"].append(_model_scale_picks(mic, name, binned, bin_factor, min_distance, border,
                                                      class_ids if mixture else None))
    res = sweep(picks[""])
    z_at_truth = [v for zs in z_by_class.values() for v in zs]
    # Mixtures: the disc area of the integrated SNR is the mean over the true particles.
    d_int = d if not mixture or not truth_diams else math.sqrt(float(np.mean(np.square(truth_diams))))
    row = {
        "snr": snr,
        "n_micrographs": n,
        "n_particles": len(truth_diams),
        **integrated_snr(snr, d_int),
        "ske_dprime_rms": _rms(dprimes),
        "oracle_mean_z_at_truth": round(float(np.mean(z_at_truth)), 4) if z_at_truth else None,
        "oracle_median_z_at_truth": round(float(np.median(z_at_truth)), 4) if z_at_truth else None,
        "map_robust_std_over_analytic": round(float(np.median(std_ratio)), 4),
        **_headline(res, "", mixture),
    }
    if mixture:
        row["integrated_snr_diameter_px"] = round(d_int, 3)
        row["per_class"] = []
        for k, cls in enumerate(class_ids.tolist()):
            own = res["per_class"]["best_per_micrograph_threshold"].get(str(cls), {})
            pooled = res["per_class"]["best_pooled_threshold"].get(str(cls), {})
            zc = z_by_class[cls]
            row["per_class"].append({
                "class_id": cls, "diameter_A": params.diameters_A[k], "diameter_px": diams[k],
                "n_particles": len(zc), "ske_dprime_rms": _rms(dprime_by_class[cls]),
                "oracle_mean_z_at_truth": round(float(np.mean(zc)), 4) if zc else None,
                "recall_best_per_micrograph_threshold": own.get("recall"),
                "recall_best_pooled_threshold": pooled.get("recall"),
                "type_correct_of_matched_best_pooled_threshold": pooled.get("type_correct_of_matched"),
            })
    row["original_scale"] = res
    if bin_factor is not None:
        res_m = sweep(picks["model_"])
        row["model_scale"] = {"model_size": model_size, "bin_factor": bin_factor,
                              "pixel_size_A": params.pixel_size_A * bin_factor,
                              "z_scale": "map / (1.4826 x MAD over non-junk pixels)"
                                         + (", per type, then max over types" if mixture else ""),
                              **res_m}
        row.update(_headline(res_m, "model_", mixture))
    if bank_set:
        res_b = sweep(picks["bank_"])
        row["orientation_bank"] = {"n_templates": len(bank_set), "statistic": "max over templates of z",
                                   **res_b}
        row.update(_headline(res_b, "bank_", mixture))
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
        print(f"SNR {snr:g}: oracle F1 {row['f1_best_per_micrograph_threshold']:.3f} (per-micrograph "
              f"threshold) / {row['f1_best_pooled_threshold']:.3f} (pooled)  [{row['seconds']} s]",
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

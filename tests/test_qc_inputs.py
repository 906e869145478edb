"""Joining the stages' manifests, reading picks and evaluation files for the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_qc_helpers import make_run

from samcryo_core.errors import InputError
from samcryo_core.manifest import write_manifest
from samcryo_core.particles.picks_io import read_picks
from samcryo_core.qc.inputs import load_dataset, overall_metrics

# The shape `samcryo evaluate` writes (samcryo_core/cli/evaluate.py).
EVALUATE_OVERALL = {
    "n_micrographs": 4, "n_skipped": 1, "distance_fraction": 0.5,
    "micro": {"tp": 8, "fp": 2, "fn": 4, "precision": 0.8, "recall": 0.6667, "f1": 0.7273, "ap": 0.61},
    "mean_per_micrograph": {"precision": 0.75, "recall": 0.7, "f1": 0.71, "mean_error_px": 1.5,
                            "ap": None, "dice": 0.55},
    "notes": {"matching": "one-to-one Hungarian"}, "skipped": [{"micrograph": "x", "reason": "no truth"}],
}


def test_overall_metrics_of_samcryo_evaluate() -> None:
    m = overall_metrics(EVALUATE_OVERALL)
    assert list(m)[:5] == ["precision", "recall", "F1", "AP", "Dice"]
    assert (m["precision"], m["recall"], m["F1"], m["AP"], m["Dice"]) == (0.8, 0.6667, 0.7273, 0.61, 0.55)
    assert m["mean_per_micrograph.F1"] == 0.71 and m["micro.tp"] == 8 and m["n_skipped"] == 1
    assert "mean_per_micrograph.AP" not in m  # null stays out


def test_overall_metrics_flat_spellings() -> None:
    m = overall_metrics({"Precision": 0.5, "recall": 0.25, "f1_score": 0.33, "pixel_dice": 0.4, "ok": True})
    assert m == {"precision": 0.5, "recall": 0.25, "F1": 0.33, "Dice": 0.4}


def test_manifests_joined_by_name(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    ds = load_dataset(run.picks_manifests, run.normalized_manifests, run.rejections)
    names = [r.name for r in ds.records]
    assert names == sorted(names) and len(names) == len(run.picks) + len(run.rejected)
    assert {r.name: r.reason for r in ds.rejected} == run.rejected
    assert all(r.stage == "ingest" for r in ds.rejected)
    assert ds.picks_per_micrograph().to_dict() == {k: len(v) for k, v in run.picks.items()}
    assert len(ds.picks) == sum(len(v) for v in run.picks.values())


def test_later_stage_rejection_keeps_first_reason(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    bad = tmp_path / "picks_extra.tsv"
    write_manifest(bad, [{"micrograph": "mic_00", "status": "rejected", "reason": "probability map corrupt",
                          "picks": ""}], ["source", "sidecar", "picks", "n_picks"])
    ds = load_dataset([*run.picks_manifests, bad], run.normalized_manifests, run.rejections)
    rec = next(r for r in ds.records if r.name == "mic_00")
    assert (rec.status, rec.stage, rec.reason) == ("rejected", "picks", "probability map corrupt")
    assert "mic_00" not in set(ds.picks["micrograph"])


def test_evaluation_and_compare(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    ev = tmp_path / "overall.json"
    ev.write_text(json.dumps(EVALUATE_OVERALL))
    ds = load_dataset(run.picks_manifests, evaluation_json=ev, compare={"log": run.compare_json},
                      this_run_name="head")
    assert list(ds.compare) == ["head", "log"] and ds.compare["log"]["F1"] == 0.62


def test_header_only_picks_and_bad_files(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("x,y,fom,diameter_px,x_norm,y_norm,area_px\n")
    assert len(read_picks(p)) == 0
    p.write_text("")
    with pytest.raises(InputError, match="e.csv"):
        read_picks(p)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="bad.json"):
        load_dataset([], evaluation_json=bad)
    man = tmp_path / "m.tsv"
    man.write_text("micrograph\tstatus\treason\nm\tok\t\n")
    with pytest.raises(InputError, match="picks"):
        load_dataset([man])

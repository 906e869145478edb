"""``samcryo report`` end to end on synthetic stage outputs: every file, and numbers that match."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from PIL import Image
from test_qc_helpers import SyntheticRun, make_run

from samcryo_core.cli import main


def _report(run: SyntheticRun, out: Path, *extra: str) -> int:
    argv = ["report", "--picks-manifests", *map(str, run.picks_manifests),
            "--normalized-manifests", *map(str, run.normalized_manifests),
            "--rejections", str(run.rejections), "--out-dir", str(out), *extra]
    return main(argv)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticRun, Path]:
    root = tmp_path_factory.mktemp("report")
    run = make_run(root / "run")
    out = root / "qc"
    rc = _report(run, out, "--evaluation-json", str(run.overall_json),
                 "--evaluation-csv", str(run.per_mic_csv), "--compare", f"log={run.compare_json}",
                 "--name", "head", "--threshold", "0.5", "--truth-dir", str(run.truth_dir))
    assert rc == 0
    return run, out


def test_writes_every_file(full: tuple[SyntheticRun, Path]) -> None:
    run, out = full
    expected = ["summary.md", "summary.html", "tables/micrographs.csv", "tables/rejected.csv",
                "tables/evaluation.csv", "tables/evaluation_per_micrograph.csv",
                *(f"plots/{p}.png" for p in ("picks_per_micrograph", "fom_histogram", "pick_sizes",
                                             "rejections", "evaluation", "evaluation_per_micrograph")),
                *(f"overlays/{m}.png" for m in run.picks)]
    for rel in expected:
        assert (out / rel).is_file() and (out / rel).stat().st_size > 0, rel
    for png in out.glob("*/*.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and min(im.size) > 100
    assert not list(out.rglob("*.tmp*")), "atomic writes left temporary files"


def _md_value(md: str, key: str) -> str:
    m = re.search(rf"^\| {re.escape(key)} \| (.+?) \|$", md, flags=re.M)
    assert m, f"no row '{key}' in summary.md"
    return m.group(1)


def test_summary_numbers_match_inputs(full: tuple[SyntheticRun, Path]) -> None:
    run, out = full
    md = (out / "summary.md").read_text()
    # counts are of the exported picks: FOM at or above the fixture's --threshold 0.5
    counts = sorted(sum(f >= 0.5 for *_, f in v) for v in run.picks.values())
    assert _md_value(md, "Micrographs in") == str(len(run.picks) + len(run.rejected))
    assert _md_value(md, "Accepted") == str(len(run.picks))
    assert _md_value(md, "Rejected") == f"{len(run.rejected)} (ingest: {len(run.rejected)})"
    assert _md_value(md, "Picks total") == str(sum(counts))
    assert float(_md_value(md, "Picks per micrograph (median)")) == pytest.approx((counts[1] + counts[2]) / 2)
    assert _md_value(md, "Micrographs without picks") == str(counts.count(0))
    # Each rejected micrograph appears with its reason (| is escaped in Markdown tables).
    for name, reason in run.rejected.items():
        assert f"| {name} | ingest | {reason} |" in md
    # Evaluation numbers as in overall.json, and the comparison run.
    micro, means = run.overall["micro"], run.overall["mean_per_micrograph"]
    expected = ((micro["precision"], "precision"), (micro["recall"], "recall"), (micro["f1"], "F1"),
                (micro["ap"], "AP"), (means["dice"], "Dice"), (means["f1"], "mean_per_micrograph.F1"))
    for value, shown in expected:
        assert float(_md_value(md, shown)) == pytest.approx(value, abs=5e-4)
    assert "| log | 0.550 | 0.710 | 0.620 |" in md
    # Links point to files that exist.
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (out / link).is_file(), link


def test_tables_match_inputs(full: tuple[SyntheticRun, Path]) -> None:
    run, out = full
    with open(out / "tables/micrographs.csv", newline="") as fh:
        rows = {r["micrograph"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(run.picks) | set(run.rejected)
    for name, picks in run.picks.items():
        exported = sum(f >= 0.5 for *_, f in picks)  # the fixture's --threshold 0.5
        assert rows[name]["status"] == "ok" and int(rows[name]["n_picks"]) == exported
    with open(out / "tables/rejected.csv", newline="") as fh:
        rej = {r["micrograph"]: r["reason"] for r in csv.DictReader(fh)}
    assert rej == run.rejected


def test_html_is_self_contained(full: tuple[SyntheticRun, Path]) -> None:
    run, out = full
    page = (out / "summary.html").read_text()
    n_png = len(list((out / "overlays").glob("*.png"))) + len(list((out / "plots").glob("*.png")))
    assert page.count('src="data:image/png;base64,') == n_png
    assert "src=\"overlays/" not in page and "src=\"plots/" not in page
    for name in run.rejected:
        assert name in page


def test_sample_and_minimal_inputs(tmp_path: Path) -> None:
    """No evaluation or rejections TSV: no evaluation files; --sample/--sample-every pick overlays."""
    run = make_run(tmp_path / "run")
    out = tmp_path / "qc"
    rc = main(["report", "--picks-manifests", *map(str, run.picks_manifests),
               "--normalized-manifests", *map(str, run.normalized_manifests),
               "--sample", "2", "--sample-every", "3", "--out-dir", str(out)])
    assert rc == 0
    # Sorted names mic_00..mic_03, every 3rd -> mic_00, mic_03.
    assert sorted(p.name for p in (out / "overlays").glob("*.png")) == ["mic_00.png", "mic_03.png"]
    assert not (out / "plots/evaluation.png").exists()
    md = (out / "summary.md").read_text()
    assert "Evaluation against ground truth" not in md
    # Rejections still come from the later manifests, which carry them forward.
    assert _md_value(md, "Rejected").startswith(str(len(run.rejected)))


def test_bad_inputs_give_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run")
    (tmp_path / "run/picks/mic_00.csv").write_text("a,b\n1,2\n")
    rc = _report(run, tmp_path / "qc")
    err = capsys.readouterr().err
    assert rc == 1 and "mic_00.csv" in err and "lacks the column" in err
    missing = str(tmp_path / "missing.tsv")
    rc = main(["report", "--picks-manifests", missing, "--out-dir", str(tmp_path / "q")])
    assert rc == 1 and "missing.tsv" in capsys.readouterr().err
    rc = _report(run, tmp_path / "qc", "--threshold", "3")
    assert rc == 1 and "--threshold" in capsys.readouterr().err


def _tile_pixels(png: Path) -> int:
    """Pixels drawn in the tile grid's colour (yellow #ffdc00) on an overlay."""
    import numpy as np

    with Image.open(png) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    return int(((abs(rgb[..., 0] - 255) < 40) & (abs(rgb[..., 1] - 220) < 40) & (rgb[..., 2] < 60)).sum())


def test_report_states_working_scale_and_draws_tile_grid(tmp_path: Path) -> None:
    """The scale issue's QC item: pixels per particle at the model input, the binning factors
    (median and range over micrographs binned differently), and segment's tile grid on the first
    overlay only."""
    import dataclasses

    from samcryo_core.frame import FrameMapping

    run = make_run(tmp_path / "run")
    sidecars = sorted((tmp_path / "run" / "normalized").glob("mic_*.json"))
    for k, side in enumerate(sidecars):
        m = FrameMapping.read(side)
        m = dataclasses.replace(m, extra={**m.extra, "particle_px": 20.0, "diameter_A": [130.0, 190.0]},
                                # one micrograph at a coarser original pixel: another binning factor
                                original_shape=(150, 200) if k == 0 else m.original_shape)
        m.write(side)
    out = tmp_path / "qc"
    assert _report(run, out, "--tile-px", "64") == 0
    md = (out / "summary.md").read_text()
    assert _md_value(md, "Working scale (model input)") == "20 px per particle (130–190 Å → 16.5–24.2 px)"
    assert _md_value(md, "Binning factor (original / model px)") == "3.12 (median; 1.56–3.12)"
    assert _md_value(md, "Model tiles").startswith("64 px")
    plain = tmp_path / "qc_plain"
    assert _report(run, plain) == 0
    assert "Model tiles" not in (plain / "summary.md").read_text()
    first, second = sorted(p.name for p in (out / "overlays").glob("*.png"))[:2]
    # yellow (also the top of the FOM colour map) gains the dotted grid on the first overlay only
    assert _tile_pixels(out / "overlays" / first) > _tile_pixels(plain / "overlays" / first) + 500
    assert _tile_pixels(out / "overlays" / second) == _tile_pixels(plain / "overlays" / second)


def test_mixed_pixel_sizes_give_each_micrograph_its_own_size_in_angstrom(tmp_path: Path) -> None:
    """Micrographs at 1 and 2 A/px: the same 40 A particle is 40 px on one and 20 px on the other."""
    import pandas as pd

    from samcryo_core.frame import FrameMapping

    run = make_run(tmp_path / "run")
    for name in ("mic_01", "mic_03"):  # every second micrograph at twice the pixel size
        side = run.root / "normalized" / f"{name}.json"
        m = FrameMapping.read(side)
        FrameMapping(m.micrograph, m.source, m.original_shape, m.binned_shape, pixel_size_A=2.0).write(side)
        picks = run.root / "picks" / f"{name}.csv"
        df = pd.read_csv(picks)
        df["diameter_px"] = 20.0
        df.to_csv(picks, index=False)
    out = tmp_path / "qc"
    assert _report(run, out) == 0
    with open(out / "tables/micrographs.csv", newline="") as fh:
        rows = {r["micrograph"]: r for r in csv.DictReader(fh)}
    assert {n: float(rows[n]["pixel_size_A"]) for n in run.picks} == {
        "mic_00": 1.0, "mic_01": 2.0, "mic_02": 1.0, "mic_03": 2.0}
    for name, picks in run.picks.items():  # mic_01 has no picks: no size
        assert rows[name]["median_diameter_A"] == ("40.0" if picks else "")
    md = (out / "summary.md").read_text()
    assert "| Median pick diameter (Å) | 40 |" in md
    assert "| Pixel sizes (Å) | 1–2 (2 different; per micrograph in tables/micrographs.csv) |" in md

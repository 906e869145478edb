"""Labels that contradict the particle diameter stop training with the labels' spacing as the fix."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pytest

from samcryo_core.cli import main
from samcryo_core.errors import ConfigError
from samcryo_core.training.label_spacing import (
    MIN_PARTICLES,
    check_diameter,
    label_spacing,
    labelled_spacing,
    neighbour_distances,
)

REPO = Path(__file__).resolve().parents[1]


def _grid(spacing: float, n: int = 6, origin: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """``n x n`` centres on a square grid ``spacing`` apart (pixels)."""
    g = origin + spacing * np.arange(n)
    xx, yy = np.meshgrid(g, g)
    return xx.ravel(), yy.ravel()


def test_neighbour_distances_of_a_grid_and_of_too_few_points():
    x, y = _grid(25.0)
    assert np.allclose(neighbour_distances(x, y), 25.0)
    assert neighbour_distances(np.array([1.0]), np.array([2.0])).size == 0


def test_touching_particles_pass_and_overlapping_ones_stop_with_the_spacing():
    """Touching 100 A particles (100 A apart) pass at 100 A; the same labels with a 160 A
    diameter (a label circle or a box size) would overlap by 40 %: the error names the key,
    the labels' spacing and the value to set."""
    x, y = _grid(100.0)
    spacing = label_spacing([neighbour_distances(x, y)])
    assert spacing.median_A == pytest.approx(100.0) and spacing.n_particles == 36
    check_diameter(100.0, spacing)
    check_diameter(120.0, spacing)  # within a fifth: labels are not that exact
    with pytest.raises(ConfigError) as exc:
        check_diameter(160.0, spacing)
    assert exc.value.key == "particle.diameter_A"
    assert "100 A" in exc.value.problem and "0.62" in exc.value.problem
    assert "about 100" in exc.value.fix
    # elongated particles side by side: a range whose smallest diameter fits the spacing passes
    check_diameter((100.0, 160.0), spacing)


def test_sparse_or_few_labels_never_stop_a_run():
    x, y = _grid(400.0)
    check_diameter(160.0, label_spacing([neighbour_distances(x, y)]))  # sparse: far apart
    few = neighbour_distances(*_grid(10.0, n=4))  # 16 < MIN_PARTICLES, however close
    assert len(few) < MIN_PARTICLES
    assert label_spacing([few, np.zeros(0)]) is None
    check_diameter(160.0, None)


def _write_crowded_set(tmp_path, pixel_size_A=2.0, spacing_px=30.0, n_mics=2):
    """Micrographs with dark discs 30 px apart (60 A at 2 A/px) and their STAR labels."""
    rng = np.random.default_rng(0)
    images, labels = [], tmp_path / "labels"
    labels.mkdir()
    for i in range(n_mics):
        x, y = _grid(spacing_px, n=6, origin=50.0)
        img = rng.normal(0.0, 1.0, (256, 256)).astype(np.float32)
        yy, xx = np.mgrid[:256, :256]
        for cx, cy in zip(x, y, strict=True):
            img[(xx - cx) ** 2 + (yy - cy) ** 2 <= 12**2] -= 1.0
        path = tmp_path / f"mic{i}.mrc"
        with mrcfile.new(path) as mrc:
            mrc.set_data(img)
            mrc.voxel_size = pixel_size_A
        images.append(path)
        rows = "\n".join(f"{a:.1f}\t{b:.1f}" for a, b in zip(x, y, strict=True))
        (labels / f"mic{i}.star").write_text(
            f"\ndata_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n{rows}\n")
    return images, labels


def test_labelled_spacing_reads_mrc_headers_and_the_config_pixel_size(tmp_path):
    """MRC micrographs at their header's pixel size (no pixels read); a PNG at the configured
    one, or not at all without it; mask labels say nothing about spacing."""
    from PIL import Image

    from samcryo_core.training.dataset import match_labels

    images, labels = _write_crowded_set(tmp_path)  # 30 px apart at 2 A/px
    pairs = match_labels(images, labels_dir=labels)
    spacing = labelled_spacing(pairs)
    assert spacing.median_A == pytest.approx(60.0) and spacing.n_micrographs == 2
    png = tmp_path / "png"
    png.mkdir()
    Image.fromarray(np.zeros((256, 256), np.uint8)).save(png / "mic0.png")
    (png / "mic0.star").write_text((labels / "mic0.star").read_text())
    png_pairs = match_labels([png / "mic0.png"], labels_dir=png)
    assert labelled_spacing(png_pairs) is None  # no pixel size: nothing to compare
    assert labelled_spacing(png_pairs, pixel_size_A=3.0).median_A == pytest.approx(90.0)
    Image.fromarray(np.full((256, 256), 255, np.uint8)).save(png / "mic0_mask.png")
    (png / "mic0.star").unlink()
    assert labelled_spacing(match_labels([png / "mic0.png"], labels_dir=png), pixel_size_A=3.0) is None


def test_train_stops_before_training_when_the_diameter_contradicts_the_labels(tmp_path, capsys):
    """The train stage refuses a diameter twice the labels' spacing, naming the fix, and writes
    no prompt; the same data with the labels' own spacing trains."""
    images, labels = _write_crowded_set(tmp_path)
    out = tmp_path / "prompt.pt"
    common = ["train", "--prompt", "head", "--variant", "tiny", "--images", *map(str, images),
              "--labels-dir", str(labels), "--steps", "1", "--val-every", "1", "--threads", "1",
              "--prompt-config", '{"down_channels": [4, 4], "up_channels": 8, "out_channels": [4]}',
              "--out", str(out)]
    assert main([*common, "--diameter-A", "120"]) != 0
    err = capsys.readouterr().err
    assert "config key 'particle.diameter_A'" in err and "about 60" in err
    assert not out.exists()
    assert main([*common, "--diameter-A", "60"]) == 0
    assert out.is_file()


def _write_crowded_project(tmp_path) -> dict:
    """A project folder for the workflow: the crowded set as training data (``mic*.mrc`` with
    ``labels/``), one micrograph to pick, and ``c.yaml``, the demo config pointed at them
    (returned, for changes)."""
    import yaml

    images, _ = _write_crowded_set(tmp_path)
    (tmp_path / "pick").mkdir()
    (tmp_path / "pick" / "a.mrc").write_bytes(images[0].read_bytes())
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg["inputs"]["glob"] = "pick/*.mrc"
    cfg["train"].update(micrographs="mic*.mrc", truth_dir="labels")
    cfg["evaluate"]["truth_dir"] = None
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return cfg


def test_the_workflow_refuses_the_diameter_at_start_up(tmp_path, monkeypatch):
    """``samcryo check-config`` (the workflow's start-up checks) stops on labels 60 A apart with
    the demo's 130-190 A diameter, before any job; with [60, 190] it passes."""
    import yaml

    from samcryo_core.workflow.check import check_config_file

    monkeypatch.chdir(tmp_path)
    cfg = _write_crowded_project(tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_config_file("c.yaml")
    assert exc.value.key == "particle.diameter_A" and "about 60" in exc.value.fix
    cfg["particle"]["diameter_A"] = [60, 190]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert "OK" in check_config_file("c.yaml")


@pytest.mark.slow
def test_snakemake_stops_at_start_up_on_a_diameter_the_labels_contradict(tmp_path):
    """The real workflow: a dry run with the crowded labels and the demo's 130-190 A diameter stops
    before planning any job, with the key and the value to set in its output."""
    from workflow_support import snakemake

    _write_crowded_project(tmp_path)
    proc = snakemake(tmp_path, "-n", config=tmp_path / "c.yaml", timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'particle.diameter_A'" in out and "about 60" in out
    assert "Job stats" not in out and not (tmp_path / "results").exists()

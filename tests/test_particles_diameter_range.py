"""Mixed samples: a [smallest, largest] particle diameter through config, CLI, extraction and LoG."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml
from test_particles_extraction import discs, square_mapping
from workflow_support import REPO

from samcryo_core.errors import ConfigError
from samcryo_core.particles.diameter import as_diameter, describe, diameter_bounds, scale_diameter
from samcryo_core.particles.extraction import extract_particles
from samcryo_core.pickers.log_picker import pick_log
from samcryo_core.workflow.schema import load_schema
from samcryo_core.workflow.settings import (
    InvalidConfigError,
    diameter_cli_args,
    particle_diameter_A,
    validate_schema,
)

SCHEMA = load_schema()
DEMO = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def test_one_number_or_an_ordered_pair():
    assert as_diameter(160) == 160.0 and as_diameter([160]) == 160.0
    assert as_diameter([130, 190]) == (130.0, 190.0)
    assert as_diameter([150, 150]) == 150.0  # a range of one size is that size
    assert diameter_bounds(160.0) == (160.0, 160.0) and diameter_bounds((130.0, 190.0)) == (130.0, 190.0)
    assert scale_diameter((130.0, 190.0), 0.25) == (32.5, 47.5) and scale_diameter(160.0, 0.25) == 40.0
    assert describe((130.0, 190.0), "A") == "130-190 A" and describe(40.0) == "40 px"
    for bad in ([190, 130], [0, 100], [100, 150, 200], [], [float("nan")], -5):
        with pytest.raises(ValueError):
            as_diameter(bad)
    for bad in ((190.0, 130.0), 0.0, -5.0):  # library callers that skip as_diameter
        with pytest.raises(ValueError, match="must be > 0"):
            diameter_bounds(bad)


def _two_sizes():
    """Small discs (radius 4) and large ones (radius 9) on a 2x-binned 128 px map."""
    small = [(20, 20), (20, 100), (64, 64)]
    large = [(100, 25), (100, 100)]
    prob = np.maximum(discs(small, 4), discs(large, 9))
    return prob, small, large


def test_a_single_diameter_drops_the_other_size_and_a_range_keeps_both():
    m = square_mapping(2.0)  # original px = 2 x normalized px
    prob, small, large = _two_sizes()
    # One diameter of the small particles: the large discs are 5x its area (> 2.5 x) and dropped.
    only_small = extract_particles(prob, m, diameter_px=16.0)
    assert len(only_small) == len(small)
    # One diameter of the large ones: the small discs are 0.2 x its area (< 0.3 x) and dropped.
    only_large = extract_particles(prob, m, diameter_px=36.0)
    assert len(only_large) == len(large)
    both = extract_particles(prob, m, diameter_px=(16.0, 36.0))
    assert len(both) == len(small) + len(large)
    # Every pick reports its own size: the disc of its segmented area, in original pixels.
    by_pos = {(round(x), round(y)): d for x, y, d in zip(both["x_norm"], both["y_norm"], both["diameter_px"],
                                                         strict=True)}
    for c in small:
        assert by_pos[c] == pytest.approx(16.0, rel=0.15)
    for c in large:
        assert by_pos[c] == pytest.approx(36.0, rel=0.1)


def test_range_sizes_are_clipped_to_the_range_and_single_size_is_unchanged():
    m = square_mapping(2.0)
    prob, _, _ = _two_sizes()
    # A narrower range than the real sizes still accepts both (area bounds 0.3 x / 2.5 x), but
    # reports sizes within the range the user gave.
    picks = extract_particles(prob, m, diameter_px=(20.0, 30.0))
    assert len(picks) == 5
    assert picks["diameter_px"].between(20.0, 30.0).all()
    assert picks["diameter_px"].min() == 20.0 and picks["diameter_px"].max() == 30.0
    single = extract_particles(prob, m, diameter_px=24.0)
    assert (single["diameter_px"] == 24.0).all()


def test_duplicates_are_judged_at_the_smallest_diameter():
    m = square_mapping(2.0)
    # Two small discs 12 normalized px apart = 24 original px: 0.5 x 36 would merge them as
    # duplicates, 0.5 x 16 keeps both.
    prob = discs([(40, 64), (52, 64)], 4)
    picks = extract_particles(prob, m, diameter_px=(16.0, 36.0), split_touching=False)
    assert len(picks) == 2


def test_log_searches_from_the_smallest_to_the_largest_diameter():
    rng = np.random.default_rng(0)
    m = square_mapping(2.0)
    image = rng.normal(0.0, 0.3, (128, 128)).astype(np.float32)
    image -= 3.0 * discs([(30, 30), (30, 95)], 4)   # dark small particles
    image -= 3.0 * discs([(95, 30), (95, 95)], 10)  # dark large particles
    picks = pick_log(image, m, diameter_px=(16.0, 40.0), threshold_sd=3.0, border_exclusion_fraction=0.0)
    found = {(int(round(x / 10)), int(round(y / 10))): d
             for x, y, d in zip(picks["x_norm"], picks["y_norm"], picks["diameter_px"], strict=True)}
    small = [found.get(k) for k in ((3, 3), (3, 10))]
    large = [found.get(k) for k in ((10, 3), (10, 10))]
    assert all(d is not None for d in small + large), found
    assert max(small) < min(large)  # each blob is reported at its own scale


def test_config_takes_a_range_and_refuses_it_reversed():
    cfg = copy.deepcopy(DEMO)
    cfg["particle"]["diameter_A"] = [130, 190]
    validate_schema(cfg, SCHEMA)
    assert particle_diameter_A(cfg) == (130.0, 190.0)
    assert diameter_cli_args(cfg) == "--diameter-A 130 190"
    cfg["particle"]["diameter_A"] = 160
    assert diameter_cli_args(cfg) == "--diameter-A 160"
    cfg["particle"]["diameter_A"] = [190, 130]
    with pytest.raises(ConfigError) as exc:
        particle_diameter_A(cfg)
    assert exc.value.key == "particle.diameter_A" and "smallest first" in str(exc.value)
    for bad in ([130, 160, 190], [130, -1], "big"):
        cfg["particle"]["diameter_A"] = bad
        with pytest.raises(InvalidConfigError) as exc:
            validate_schema(cfg, SCHEMA)
        assert exc.value.key == "particle.diameter_A"


def test_extract_cli_parses_a_range_and_names_a_bad_one(capsys):
    import argparse

    from samcryo_core.cli.extract import add_arguments

    parser = argparse.ArgumentParser(prog="samcryo extract", exit_on_error=False)
    add_arguments(parser)
    base = ["--manifest", "m.tsv", "--out-dir", "o", "--out", "o.tsv"]
    assert parser.parse_args([*base, "--diameter-A", "130", "190"]).diameter_A == (130.0, 190.0)
    assert parser.parse_args([*base, "--diameter-px", "40"]).diameter_px == 40.0
    with pytest.raises(argparse.ArgumentError, match="smallest first"):
        parser.parse_args([*base, "--diameter-A", "190", "130"])
    assert math.isclose(parser.parse_args([*base, "--diameter-A", "150", "150"]).diameter_A, 150.0)


@pytest.mark.parametrize(("value", "words"), [
    (-160, "less than or equal to the minimum of 0"),
    ([130, -1], "less than or equal to the minimum of 0"),
    ([130, 160, 190], "is too long"),
    ("big", "has the wrong type (expected: particle diameter in Angstrom, or [smallest, largest]"),
])
def test_schema_says_why_a_diameter_is_wrong(value, words):
    cfg = copy.deepcopy(DEMO)
    cfg["particle"]["diameter_A"] = value
    with pytest.raises(InvalidConfigError) as exc:
        validate_schema(cfg, SCHEMA)
    assert words in str(exc.value), str(exc.value)

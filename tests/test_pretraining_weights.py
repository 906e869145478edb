"""The shipped cpu_small backbone: checksum recorded, loads into cpu_small, documented, and useful."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samcryo_core.model import PromptedSam
from samcryo_core.model.loading import load_state_dict, sha256_file
from samcryo_core.pretraining.recipe import DEMO_EXCLUDED_BAND_A, DEMO_TYPE_SEED
from samcryo_core.weights import CPU_SMALL_BACKBONE, WEIGHTS_DIR, backbone_metadata, cpu_small_backbone


def test_sha256_matches_the_recorded_one():
    path, sha = cpu_small_backbone()
    assert path == CPU_SMALL_BACKBONE and path.stat().st_size < 10 * 2**20
    actual = sha256_file(path)
    assert actual == sha
    assert path.with_suffix(".sha256").read_text().split() == [actual, path.name]
    meta = backbone_metadata()
    assert meta["size_bytes"] == path.stat().st_size and meta["variant"] == "cpu_small"
    # the model card quotes the same checksum
    assert actual in (WEIGHTS_DIR / "MODEL_CARD.md").read_text()


def test_recorded_recipe_never_used_the_demo_protein():
    recipe = backbone_metadata()["recipe"]
    lo, hi = DEMO_EXCLUDED_BAND_A
    assert all(not lo <= d <= hi for d in recipe["diameters_A"])
    seeds = range(recipe["type_seed_base"], recipe["type_seed_base"] + recipe["type_seeds"])
    assert DEMO_TYPE_SEED not in seeds


def test_loads_into_cpu_small_with_its_sha256():
    path, sha = cpu_small_backbone()
    state = load_state_dict(path, sha256=sha)
    model = PromptedSam.build("cpu_small", "head", checkpoint=path, sha256=sha)
    own = model.sam.state_dict()
    assert set(state) == set(own)
    for k, v in state.items():
        torch.testing.assert_close(own[k], v.to(own[k].dtype))
    assert not any(p.requires_grad for p in model.sam.image_encoder.parameters())  # frozen backbone


@pytest.mark.slow
def test_zero_shot_backbone_sees_particles_of_an_unseen_protein():
    """No prompt training: the pre-trained SAM alone scores the demo's (unseen) protein's discs
    clearly above the background; a randomly initialised backbone does not."""
    from samcryo_core.inference.segment import probability_map
    from samcryo_core.model.build import build_base_model
    from samcryo_core.model.scale import working_scale
    from samcryo_core.preprocess.normalize import normalize_micrograph
    from samcryo_core.simulate import SimulationParams, simulate_micrograph
    from samcryo_core.training.labels import Particles, particles_to_mask

    params = SimulationParams(snr=0.1)
    mic = simulate_micrograph(params, 11)
    path, sha = cpu_small_backbone()
    scale = working_scale("cpu_small", path)
    image, mapping = normalize_micrograph(mic.image, name="t", source="t", pixel_size_A=params.pixel_size_A,
                                          diameter_A=params.diameters_A[0], particle_px=scale.particle_px)
    disc = np.kron(particles_to_mask(Particles(mic.x, mic.y, mic.diameter_px), mapping), np.ones((4, 4)))
    disc = disc[: image.shape[0], : image.shape[1]] > 0
    gaps = {}
    for name, ckpt in (("pretrained", path), ("random", None)):
        model = build_base_model("cpu_small", "none", ckpt, sha256=sha if ckpt else None, seed=0)
        prob = probability_map(model, image, mapping)
        gaps[name] = float(np.mean(prob[disc]) - np.mean(prob[~disc]))
    assert gaps["pretrained"] > 0.25 and abs(gaps["random"]) < 0.05, gaps

"""SAM variants and checkpoint loading: weights_only, sha256, clear errors."""

from __future__ import annotations

import os

import pytest
import torch

from samcryo_core.errors import ConfigError, InputError
from samcryo_core.model.loading import load_state_dict, sha256_file
from samcryo_core.model.registry import VARIANTS, build_sam


def _run_sam(sam, seed: int = 0) -> torch.Tensor:
    """Encoder + decoder output of a raw Sam for a fixed input (one centre point)."""
    g = torch.Generator().manual_seed(seed)
    S = sam.image_encoder.img_size
    x = torch.randn(1, 3, S, S, generator=g)
    with torch.no_grad():
        emb = sam.image_encoder(x)
        sparse, dense = sam.prompt_encoder(
            points=(torch.tensor([[[S / 2, S / 2]]]), torch.ones(1, 1)), boxes=None, masks=None
        )
        masks, _ = sam.mask_decoder(
            image_embeddings=emb, image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
        )
    return masks


def test_tiny_round_trip_through_real_loading_path(tmp_path):
    torch.manual_seed(1)
    sam = build_sam("tiny")
    path = tmp_path / "tiny.pth"
    torch.save(sam.state_dict(), path)
    digest = sha256_file(path)
    torch.manual_seed(2)
    other = build_sam("tiny")
    assert not torch.equal(_run_sam(sam), _run_sam(other))
    reloaded = build_sam("tiny", checkpoint=path, sha256=digest)
    assert torch.equal(_run_sam(sam), _run_sam(reloaded))
    for (n1, t1), (n2, t2) in zip(sam.state_dict().items(), reloaded.state_dict().items(), strict=True):
        assert n1 == n2 and torch.equal(t1, t2)


class _Evil:
    """An object whose unpickling would run code (touches a marker file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"image_encoder.pos_embed": _Evil(str(marker))}, path)
    with pytest.raises(InputError, match="refused to load"):
        load_state_dict(path)
    assert not marker.exists()
    with pytest.raises(InputError, match="refused to load"):
        build_sam("tiny", checkpoint=path)
    assert not marker.exists()


def test_sha256_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "tiny.pth"
    torch.save(build_sam("tiny").state_dict(), path)
    with pytest.raises(InputError, match="sha256 mismatch") as info:
        build_sam("tiny", checkpoint=path, sha256="0" * 64)
    assert str(path) in str(info.value)


def test_missing_checkpoint_names_config_key_and_fetch_command(tmp_path):
    with pytest.raises(ConfigError) as info:
        build_sam("vit_b", checkpoint=tmp_path / "sam_vit_b_01ec64.pth")
    msg = str(info.value)
    assert "model.checkpoint" in msg and "samcryo fetch-checkpoint --variant vit_b" in msg


def test_checkpoint_of_wrong_variant_is_refused(tmp_path):
    path = tmp_path / "small.pth"
    torch.save(build_sam("cpu_small").state_dict(), path)
    with pytest.raises(InputError, match="does not fit SAM variant 'tiny'"):
        build_sam("tiny", checkpoint=path)


def test_unknown_variant_names_config_key():
    with pytest.raises(ConfigError, match="model.variant"):
        build_sam("vit_xxl")


def test_official_table_has_names_urls_and_full_hashes():
    for name in ("vit_b", "vit_l", "vit_h"):
        spec = VARIANTS[name]
        assert spec.checkpoint_file.startswith(f"sam_{name}_") and spec.checkpoint_file.endswith(".pth")
        assert spec.url == "https://dl.fbaipublicfiles.com/segment_anything/" + spec.checkpoint_file
        assert spec.sha256 is None or (len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0)


@pytest.mark.parametrize(
    ("variant", "n_params"),
    # Published sizes: ViT-B SAM ~91 M, ViT-L ~308 M, ViT-H ~636 M parameters.
    [("vit_b", 93_735_472), ("vit_l", 312_342_832), ("vit_h", 641_090_608)],
)
def test_official_variants_build_on_meta_device(variant, n_params):
    with torch.device("meta"):
        sam = build_sam(variant)
    assert sum(p.numel() for p in sam.parameters()) == n_params
    assert sam.image_encoder.img_size == 1024


def test_small_variants_have_the_documented_geometry():
    tiny, small = build_sam("tiny"), build_sam("cpu_small")
    assert tiny.image_encoder.img_size == 128 and tiny.prompt_encoder.image_embedding_size == (8, 8)
    assert small.image_encoder.img_size == 512 and small.prompt_encoder.image_embedding_size == (32, 32)
    assert 1.5e6 < sum(p.numel() for p in small.parameters()) < 2.5e6

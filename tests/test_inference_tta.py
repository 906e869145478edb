"""Test-time augmentation: each orientation is turned back exactly, and the average is the mean of
the model's outputs over the orientations (checked against numpy's own rot90/flip)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samcryo_core.inference.segment import predict_tile_logits
from samcryo_core.inference.tta import TTA_MODES, TTA_TRANSFORMS, check_mode, tta_logits


def _shift_right(x: torch.Tensor) -> torch.Tensor:
    """A model that is *not* equivariant: it moves every pixel one column to the right."""
    return torch.roll(x, shifts=1, dims=-1) * 2.0


def _np_orientation(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    b = np.rot90(a, k, axes=(-2, -1))
    return b[..., ::-1] if flip else b


def _np_undo(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    b = a[..., ::-1] if flip else a
    return np.rot90(b, -k, axes=(-2, -1))


@pytest.fixture
def image() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal(size=(2, 1, 16, 16)).astype(np.float32))


def test_modes_and_their_orientation_counts():
    assert TTA_MODES == ("none", "flips", "d4")
    assert [len(TTA_TRANSFORMS[m]) for m in TTA_MODES] == [1, 4, 8]
    assert len(set(TTA_TRANSFORMS["d4"])) == 8  # the 8 distinct symmetries of a square
    with pytest.raises(ValueError, match="none, flips, d4"):
        check_mode("rot45")


def test_none_is_the_plain_model(image):
    torch.testing.assert_close(tta_logits(_shift_right, image, "none"), _shift_right(image), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["flips", "d4"])
def test_pointwise_model_is_unchanged_so_every_orientation_is_undone(image, mode):
    """For a pixel-wise model every orientation, turned back, must land on the same pixels."""

    def pointwise(x: torch.Tensor) -> torch.Tensor:
        return 3.0 * x + 1.0

    torch.testing.assert_close(tta_logits(pointwise, image, mode), pointwise(image), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["flips", "d4"])
def test_average_over_orientations_matches_numpy(image, mode):
    a = image.numpy()
    want = np.mean(
        [_np_undo(_shift_right(torch.from_numpy(_np_orientation(a, k, f).copy())).numpy(), k, f)
         for k, f in TTA_TRANSFORMS[mode]],
        axis=0,
    )
    got = tta_logits(_shift_right, image, mode).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # and it differs from the single pass: the model is not equivariant
    assert not np.allclose(got, _shift_right(image).numpy())


def test_predict_tile_logits_applies_tta_to_a_sam_model():
    from samcryo_core.model.build import load_model

    torch.manual_seed(0)
    model, _ = load_model("tiny", prompt="none")
    img = np.random.default_rng(1).normal(size=(1, 128, 128)).astype(np.float32)
    plain = predict_tile_logits(model, img, "cpu")[0]
    d4 = predict_tile_logits(model, img, "cpu", tta="d4")[0]
    x = torch.from_numpy(img)[:, None]
    with torch.inference_mode():
        logits = torch.stack([
            torch.rot90(torch.flip(model(torch.flip(torch.rot90(x, k, (2, 3)), (3,)) if f
                                         else torch.rot90(x, k, (2, 3))), (3,)) if f
                        else model(torch.rot90(x, k, (2, 3))), -k, (2, 3))
            for k in range(4) for f in (False, True)
        ]).mean(0)
    want = torch.nn.functional.interpolate(logits, size=(128, 128), mode="bilinear",
                                           align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(d4, want, atol=1e-5)
    assert d4.shape == plain.shape == (128, 128)
    assert np.abs(d4 - plain).max() > 1e-4  # a random SAM is not rotation-equivariant

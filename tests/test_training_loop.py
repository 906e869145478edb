"""Few-shot training on the tiny SAM: tiles as segment sees them, learns, keeps SAM frozen, stops
early, resumes exactly, saves safely."""

from __future__ import annotations

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile
import torch

from samcryo_core.errors import InputError
from samcryo_core.model import PromptedSam
from samcryo_core.model.prompt_file import check_base, read_prompt_file
from samcryo_core.training.dataset import (
    Example,
    TileDataset,
    cut_tile,
    d4_transform,
    load_example,
    match_labels,
    split_train_val,
)
from samcryo_core.training.trainer import last_checkpoint_path, train_prompt


def _write_synthetic(tmp_path, n=3, size=256, seed=0):
    """Noise micrographs with dark discs (radius 12) and STAR labels of their centres."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        img = rng.normal(0, 1, (size, size)).astype(np.float32)
        xs = rng.uniform(20, size - 20, 12)
        ys = rng.uniform(20, size - 20, 12)
        for x, y in zip(xs, ys, strict=True):
            img[(xx - x) ** 2 + (yy - y) ** 2 < 144] -= 2.0
        mrc = tmp_path / f"mic_{i}.mrc"
        with mrcfile.new(mrc, overwrite=True) as m:
            m.set_data(img)
        star = tmp_path / f"mic_{i}_autopick.star"
        starfile.write(pd.DataFrame({"rlnCoordinateX": xs, "rlnCoordinateY": ys}), star)
        out.append((mrc, star))
    return out


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synthetic")
    pairs = _write_synthetic(tmp)
    # 24 px discs at 1 A/px, binned to 12 px: 128 px images, one tiny tile each
    return [load_example(img, lab, particle_px=12.0, diameter_A=24.0, pixel_size_A=1.0) for img, lab in pairs]


def _model(prompt="head", seed=0):
    torch.manual_seed(seed)
    return PromptedSam.build("tiny", prompt)


def _sets(examples):
    return TileDataset(examples[:2], tile=128, augment=True), TileDataset(examples[2:], tile=128)


def test_load_example_bins_to_the_working_scale(examples):
    ex = examples[0]
    assert ex.image.shape == (128, 128) and ex.image.dtype == np.float32
    assert ex.mask.shape == (32, 32)
    assert 0.02 < ex.mask.mean() < 0.3  # 12 discs of radius 12 on 256^2 is about 0.2


@pytest.mark.parametrize("prompt", ["head", "prefix"])
def test_training_reduces_loss_and_keeps_sam_frozen(tmp_path, examples, prompt):
    model = _model(prompt)
    trainable = set(model.trainable_state_dict())
    frozen_before = {k: v.clone() for k, v in model.state_dict().items() if k not in trainable}
    train, val = _sets(examples)
    res = train_prompt(
        model, train, val, steps=12, val_every=2, lr=1e-3, out_path=tmp_path / "p.pt", seed=1, progress=None
    )
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0] - 0.05, losses
    frozen_after = {k: v for k, v in model.state_dict().items() if k not in trainable}
    assert frozen_before.keys() == frozen_after.keys() and frozen_before
    assert all(torch.equal(frozen_before[k], frozen_after[k]) for k in frozen_before)
    # logs
    log = pd.read_csv(tmp_path / "p.log.csv")
    assert list(log["step"]) == list(range(2, 13, 2))
    assert (tmp_path / "p.log.json").is_file()
    assert 2 <= res.best_step <= 12


def test_prompt_file_holds_only_trainable_tensors_and_refuses_other_bases(tmp_path, examples):
    model = _model("prefix")
    train, val = _sets(examples)
    out = tmp_path / "prefix.pt"
    train_prompt(
        model,
        train,
        val,
        steps=2,
        val_every=2,
        lr=1e-3,
        out_path=out,
        seed=0,
        progress=None,
        base_meta={"base_checkpoint": None, "base_sha256": "random-init", "base_seed": 0},
    )
    state, meta = read_prompt_file(out)  # weights_only=True inside
    assert set(state) == set(model.trainable_state_dict())
    assert set(state) != set(model.state_dict())
    assert meta["variant"] == "tiny" and meta["prompt_type"] == "prefix"
    assert meta["img_size"] == 128 and meta["base_sha256"] == "random-init"
    assert meta["training"]["best_step"] == 2
    obj = torch.load(out, weights_only=True)
    assert obj["format"] == "samcryo-prompt"
    check_base(out, meta, "tiny", "random-init")
    with pytest.raises(InputError, match="variant 'tiny'"):
        check_base(out, meta, "cpu_small", "random-init")
    with pytest.raises(InputError, match="sha256"):
        check_base(out, meta, "tiny", "ab" * 32)
    # Loading into a model of another prompt type fails clearly.
    with pytest.raises(InputError, match="do not fit"):
        _model("head").load_trainable_state_dict(state, source=out)


class _StopError(Exception):
    pass


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, examples):
    def run(out, steps, stop_after=None):
        model = _model("prefix", seed=3)
        train, val = _sets(examples)
        seen = []

        def progress(line):
            if line.startswith("step"):
                seen.append(line)
                if stop_after is not None and len(seen) == stop_after:
                    raise _StopError

        train_prompt(model, train, val, steps=steps, val_every=2, lr=1e-3, out_path=out, seed=7,
                     progress=progress)
        return model

    reference = run(tmp_path / "ref" / "p.pt", 8)
    out = tmp_path / "int" / "p.pt"
    with pytest.raises(_StopError):
        run(out, 8, stop_after=2)
    assert last_checkpoint_path(out).is_file()
    out.unlink()  # e.g. Snakemake removed the failed job's output: rebuilt from the resume state
    resumed = run(out, 8)
    ref_state, res_state = reference.trainable_state_dict(), resumed.trainable_state_dict()
    assert ref_state.keys() == res_state.keys()
    assert all(torch.equal(ref_state[k], res_state[k]) for k in ref_state)
    ref_file, res_file = read_prompt_file(tmp_path / "ref" / "p.pt"), read_prompt_file(out)
    assert all(torch.equal(ref_file[0][k], res_file[0][k]) for k in ref_file[0])
    assert res_file[1]["training"]["best_step"] == ref_file[1]["training"]["best_step"]
    assert res_file[1]["training"]["resumed_from_step"] == 4
    log = pd.read_csv(tmp_path / "int" / "p.log.csv")
    assert list(log["step"]) == [2, 4, 6, 8]
    ref_log = pd.read_csv(tmp_path / "ref" / "p.log.csv")
    np.testing.assert_array_equal(log["train_loss"], ref_log["train_loss"])


def test_resume_state_of_a_different_run_is_replaced_not_continued(tmp_path, examples, caplog):
    """A changed set-up (here lr) trains from the start: the old run's steps are not continued."""
    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    kw = dict(val_every=2, seed=0, progress=None)
    train_prompt(_model("prefix"), train, val, steps=2, lr=1e-3, out_path=out, **kw)
    fresh_out = tmp_path / "fresh" / "p.pt"
    train_prompt(_model("prefix"), train, val, steps=4, lr=5e-4, out_path=fresh_out, **kw)
    with caplog.at_level("WARNING"):
        changed = train_prompt(_model("prefix"), train, val, steps=4, lr=5e-4, out_path=out, **kw)
    assert "different training run" in caplog.text
    assert changed.resumed_from_step == 0
    (a, meta), (b, _) = read_prompt_file(out), read_prompt_file(fresh_out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert meta["training"]["resumed_from_step"] == 0


def test_resume_state_from_other_training_data_is_not_continued(tmp_path, examples, caplog):
    """Same micrograph names, other targets (as with another working scale, disc fraction or
    labels): the data digest differs, so the old run's steps are not continued."""
    import dataclasses

    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    kw = dict(val_every=2, seed=0, progress=None, lr=1e-3)
    train_prompt(_model("prefix"), train, val, steps=2, out_path=out, **kw)
    shrunk = TileDataset([dataclasses.replace(e, mask=np.zeros_like(e.mask)) for e in train.examples],
                         tile=train.tile, augment=train.augment)
    assert shrunk.names == train.names and shrunk.content_digest() != train.content_digest()
    with caplog.at_level("WARNING"):
        again = train_prompt(_model("prefix"), shrunk, val, steps=4, out_path=out, **kw)
    assert "different training run" in caplog.text and again.resumed_from_step == 0


def test_augmentation_applies_the_same_transform_to_image_and_mask():
    img = np.arange(16 * 16, dtype=np.float32).reshape(16, 16) + 1
    mask = np.zeros((4, 4), np.float32)
    mask[0, 1] = 1  # marks image block rows 0-3, cols 4-7
    ds = TileDataset([Example("a", img, mask)], tile=16, augment=True, seed=0)
    ks = set()
    for step in range(40):
        im, mk = ds.random_batch(step, 1)
        r, c = np.argwhere(mk[0, 0] == 1)[0]
        block = im[0, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4]
        assert set(block.ravel()) == set(img[0:4, 4:8].ravel())
        ks.add(tuple(im[0, 0, 0, :2]))
    assert len(ks) == 8  # all eight symmetries are drawn
    assert np.array_equal(d4_transform(img, 0), img)


def test_random_tiles_are_reproducible_aligned_and_cover_a_large_micrograph():
    """Tiles of a 100 x 130 px micrograph at tile 32: origins on multiples of 4 (so the mask window
    is exact), the same tiles for the same (seed, step), and every part of the image drawn."""
    h, w = 100, 130
    img = np.arange(h * w, dtype=np.float32).reshape(h, w) + 1
    mask = (np.arange(25 * 33).reshape(25, 33) % 7 == 0).astype(np.float32)
    ds = TileDataset([Example("big", img, mask)], tile=32, augment=False, seed=5)
    seen = np.zeros((h, w), bool)
    for step in range(200):
        im, mk = ds.random_batch(step, 2)
        for t in range(2):
            first = int(im[t, 0, 0, 0]) - 1
            r, c = divmod(first, w)
            assert r % 4 == 0 and c % 4 == 0
            np.testing.assert_array_equal(mk[t, 0], cut_tile(Example("big", img, mask), (r, c), 32)[1])
            seen[r : r + 32, c : c + 32] = True
    assert seen.any(axis=1).all() and seen.any(axis=0).all()  # every row and every column is drawn
    assert seen.mean() > 0.97
    a, b = ds.random_batch(7, 2), ds.random_batch(7, 2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # the validation grid: 4 x 5 tiles with the segment overlap, padded beyond the image
    assert len(ds.grid_tiles()) == 4 * 5


def test_small_micrograph_is_padded_to_a_tile():
    img = np.ones((40, 60), np.float32)
    mask = np.ones((10, 15), np.float32)
    tile, mtile = cut_tile(Example("s", img, mask), (0, 0), 64)
    assert tile.shape == (64, 64) and tile[:40, :60].all() and not tile[40:].any() and not tile[:, 60:].any()
    assert mtile.shape == (16, 16) and mtile[:10, :15].all() and not mtile[10:].any()


def test_early_stopping_after_patience_validations_without_improvement(tmp_path, examples):
    train, val = _sets(examples)
    res = train_prompt(_model("head"), train, val, steps=40, val_every=2, patience=2, lr=0.0,
                       out_path=tmp_path / "p.pt", seed=0, progress=None)
    # lr 0: the first validation is the best and nothing ever improves on it
    assert res.stopped_early and res.best_step == 2 and res.steps == 6
    _, meta = read_prompt_file(tmp_path / "p.pt")
    assert meta["training"]["stopped_early"] and meta["training"]["max_steps"] == 40


def test_split_and_matching(tmp_path):
    exs = [Example(f"m{i}", np.zeros((8, 8), np.float32), np.zeros((2, 2), np.float32)) for i in range(5)]
    train, val = split_train_val(exs, 0.5, seed=1)
    assert len(val) == 1 and len(train) == 4
    assert split_train_val(exs, 0.5, seed=1) == (train, val)
    many = exs * 4
    train, val = split_train_val(many, 0.25, seed=1)
    assert len(val) == 5 and len(train) == 15
    for name in ("a.mrc", "b.mrc"):
        (tmp_path / name).write_text("x")
    for name in ("a.star", "b_autopick.star"):
        starfile.write(pd.DataFrame({"rlnCoordinateX": [1.0], "rlnCoordinateY": [2.0]}), tmp_path / name)
    pairs = match_labels([tmp_path / "a.mrc", tmp_path / "b.mrc"], labels_dir=tmp_path)
    assert [p[1].path.name for p in pairs] == ["a.star", "b_autopick.star"]


def test_fewer_steps_than_the_resume_state_trains_again_from_the_start(tmp_path, examples, caplog):
    """Lowering train.steps must give the shorter run's prompt, not keep the longer one."""
    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    kw = dict(val_every=2, lr=1e-3, seed=0, progress=None)
    train_prompt(_model("prefix"), train, val, steps=6, out_path=out, **kw)
    fresh_out = tmp_path / "fresh" / "p.pt"
    train_prompt(_model("prefix"), train, val, steps=2, out_path=fresh_out, **kw)
    with caplog.at_level("WARNING"):
        shorter = train_prompt(_model("prefix"), train, val, steps=2, out_path=out, **kw)
    assert "already past step 2" in caplog.text
    assert shorter.resumed_from_step == 0 and len(shorter.history) == 1
    (a, _), (b, _) = read_prompt_file(out), read_prompt_file(fresh_out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert list(pd.read_csv(tmp_path / "p.log.csv")["step"]) == [2]


def test_resume_state_is_written_after_the_log_of_its_validation(tmp_path, examples, monkeypatch):
    """The resume state commits a validation: a kill right after it is saved (the CI failure of a
    killed training without a log) must find that step in the log already."""
    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    log = tmp_path / "p.log.csv"
    seen: list[tuple[int, list[int]]] = []
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("format") == "samcryo-train-state":
            seen.append((obj["step"], list(pd.read_csv(log)["step"]) if log.is_file() else []))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)  # the trainer imports torch inside its functions
    train_prompt(_model("prefix"), train, val, steps=4, val_every=2, lr=1e-3, out_path=out, seed=0,
                 progress=None)
    assert seen == [(2, [2]), (4, [2, 4])]

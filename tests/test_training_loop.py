"""Few-shot training loop on the tiny SAM: learns, keeps SAM frozen, resumes exactly, saves safely."""

from __future__ import annotations

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile
import torch

from samcryo_core.errors import InputError
from samcryo_core.model import PromptedSam
from samcryo_core.training.dataset import (
    Example,
    SegmentationDataset,
    d4_transform,
    load_example,
    match_labels,
    split_train_val,
)
from samcryo_core.training.prompt_file import check_base, read_prompt_file
from samcryo_core.training.trainer import last_checkpoint_path, train_prompt


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
    return [load_example(img, lab, 128, 32, diameter_px=24) for img, lab in pairs]


def _model(prompt="head", seed=0):
    torch.manual_seed(seed)
    return PromptedSam.build("tiny", prompt)


def _sets(examples):
    return SegmentationDataset(examples[:2], augment=True), SegmentationDataset(examples[2:])


def test_load_example_matches_model_sizes(examples):
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
        model, train, val, epochs=6, lr=1e-3, out_path=tmp_path / "p.pt", seed=1, progress=None
    )
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0] - 0.05, losses
    frozen_after = {k: v for k, v in model.state_dict().items() if k not in trainable}
    assert frozen_before.keys() == frozen_after.keys() and frozen_before
    assert all(torch.equal(frozen_before[k], frozen_after[k]) for k in frozen_before)
    # logs
    log = pd.read_csv(tmp_path / "p.log.csv")
    assert list(log["epoch"]) == list(range(1, 7))
    assert (tmp_path / "p.log.json").is_file()
    assert 1 <= res.best_epoch <= 6


def test_prompt_file_holds_only_trainable_tensors_and_refuses_other_bases(tmp_path, examples):
    model = _model("prefix")
    train, val = _sets(examples)
    out = tmp_path / "prefix.pt"
    train_prompt(
        model,
        train,
        val,
        epochs=1,
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
    assert meta["training"]["best_epoch"] == 1
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
    def run(out, epochs, stop_after=None):
        model = _model("prefix", seed=3)
        train, val = _sets(examples)
        seen = []

        def progress(line):
            if line.startswith("epoch"):
                seen.append(line)
                if stop_after is not None and len(seen) == stop_after:
                    raise _StopError

        train_prompt(model, train, val, epochs=epochs, lr=1e-3, out_path=out, seed=7, progress=progress)
        return model

    reference = run(tmp_path / "ref" / "p.pt", 4)
    out = tmp_path / "int" / "p.pt"
    with pytest.raises(_StopError):
        run(out, 4, stop_after=2)
    assert last_checkpoint_path(out).is_file()
    out.unlink()  # e.g. Snakemake removed the failed job's output: rebuilt from the resume state
    resumed = run(out, 4)
    ref_state, res_state = reference.trainable_state_dict(), resumed.trainable_state_dict()
    assert ref_state.keys() == res_state.keys()
    assert all(torch.equal(ref_state[k], res_state[k]) for k in ref_state)
    ref_file, res_file = read_prompt_file(tmp_path / "ref" / "p.pt"), read_prompt_file(out)
    assert all(torch.equal(ref_file[0][k], res_file[0][k]) for k in ref_file[0])
    assert res_file[1]["training"]["best_epoch"] == ref_file[1]["training"]["best_epoch"]
    assert res_file[1]["training"]["resumed_from_epoch"] == 2
    log = pd.read_csv(tmp_path / "int" / "p.log.csv")
    assert list(log["epoch"]) == [1, 2, 3, 4]
    ref_log = pd.read_csv(tmp_path / "ref" / "p.log.csv")
    np.testing.assert_array_equal(log["train_loss"], ref_log["train_loss"])


def test_resume_state_of_a_different_run_is_replaced_not_continued(tmp_path, examples, caplog):
    """A changed set-up (here lr) trains from the start: the old run's epochs are not continued."""
    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    train_prompt(_model("prefix"), train, val, epochs=1, lr=1e-3, out_path=out, seed=0, progress=None)
    fresh_out = tmp_path / "fresh" / "p.pt"
    train_prompt(_model("prefix"), train, val, epochs=2, lr=5e-4, out_path=fresh_out, seed=0, progress=None)
    with caplog.at_level("WARNING"):
        changed = train_prompt(_model("prefix"), train, val, epochs=2, lr=5e-4, out_path=out, seed=0,
                               progress=None)
    assert "different training run" in caplog.text
    assert changed.resumed_from_epoch == 0
    (a, meta), (b, _) = read_prompt_file(out), read_prompt_file(fresh_out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert meta["training"]["resumed_from_epoch"] == 0


def test_augmentation_applies_the_same_transform_to_image_and_mask():
    img = np.arange(16 * 16, dtype=np.float32).reshape(16, 16)
    mask = np.zeros((4, 4), np.float32)
    mask[0, 1] = 1  # marks image block rows 0-3, cols 4-7
    ds = SegmentationDataset([Example("a", img, mask)], augment=True, seed=0)
    ks = set()
    for epoch in range(40):
        im, mk = ds.item(0, epoch)
        r, c = np.argwhere(mk[0] == 1)[0]
        block = im[0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4]
        assert set(block.ravel()) == set(img[0:4, 4:8].ravel())
        ks.add(tuple(im[0, 0, :2]))
    assert len(ks) == 8  # all eight symmetries are drawn
    assert np.array_equal(d4_transform(img, 0), img)


def test_split_and_matching(tmp_path):
    exs = [Example(f"m{i}", np.zeros((8, 8), np.float32), np.zeros((2, 2), np.float32)) for i in range(5)]
    train, val = split_train_val(exs, 0.5, seed=1)
    assert len(val) == 1 and len(train) == 4
    assert split_train_val(exs, 0.5, seed=1) == (train, val)
    many = exs * 4
    train, val = split_train_val(many, 0.25, seed=1)
    assert len(val) == 5 and len(train) == 15
    for name in ("a.mrc", "b.mrc", "a.star", "b_autopick.star"):
        (tmp_path / name).write_text("x")
    pairs = match_labels([tmp_path / "a.mrc", tmp_path / "b.mrc"], labels_dir=tmp_path)
    assert [p[1].name for p in pairs] == ["a.star", "b_autopick.star"]


def test_fewer_epochs_than_the_resume_state_trains_again_from_the_start(tmp_path, examples, caplog):
    """Lowering train.epochs must give the shorter run's prompt, not keep the longer one."""
    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    train_prompt(_model("prefix"), train, val, epochs=3, lr=1e-3, out_path=out, seed=0, progress=None)
    fresh_out = tmp_path / "fresh" / "p.pt"
    train_prompt(_model("prefix"), train, val, epochs=1, lr=1e-3, out_path=fresh_out, seed=0, progress=None)
    with caplog.at_level("WARNING"):
        shorter = train_prompt(_model("prefix"), train, val, epochs=1, lr=1e-3, out_path=out, seed=0,
                               progress=None)
    assert "already past epoch 1" in caplog.text
    assert shorter.resumed_from_epoch == 0 and len(shorter.history) == 1
    (a, _), (b, _) = read_prompt_file(out), read_prompt_file(fresh_out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert list(pd.read_csv(tmp_path / "p.log.csv")["epoch"]) == [1]


def test_resume_state_is_written_after_the_log_of_its_epoch(tmp_path, examples, monkeypatch):
    """The resume state commits an epoch: a kill right after it is saved (the CI failure of a
    killed training without a log) must find that epoch in the log already."""
    train, val = _sets(examples)
    out = tmp_path / "p.pt"
    log = tmp_path / "p.log.csv"
    seen: list[tuple[int, list[int]]] = []
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("format") == "samcryo-train-state":
            seen.append((obj["epoch"], list(pd.read_csv(log)["epoch"]) if log.is_file() else []))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)  # the trainer imports torch inside its functions
    train_prompt(_model("prefix"), train, val, epochs=2, lr=1e-3, out_path=out, seed=0, progress=None)
    assert seen == [(1, [1]), (2, [1, 2])]

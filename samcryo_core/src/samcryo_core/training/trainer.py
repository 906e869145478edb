"""Few-shot training of a prompt on a frozen SAM: Adam on the trainable tensors only.

What the loop guarantees, and why:

* Only ``model.trainable_parameters()`` reach the optimizer, so the frozen SAM stays bit-identical
  and the saved prompt file needs only those tensors (:mod:`samcryo_core.model.prompt_file`).
* A budget in optimizer *steps* over random tiles (not epochs over whole micrographs: 3 labelled
  4k micrographs and 20 labelled 1k ones are very different amounts of data), validated every
  ``val_every`` steps on the validation micrographs' tile grid (pixel Dice). The *best*
  validation (highest Dice, then lowest loss) lands in ``out_path`` -- few-shot runs overfit --
  and training stops early after ``patience`` validations without a new best.
* Resumable: after every validation a ``<out>.last.pt`` with the trainable weights, optimizer
  (and AMP scaler) state, the step, RNG states and the history is written atomically. A rerun with
  the same arguments continues from there; since the tiles of a step are a function of
  ``(seed, step)`` (see :mod:`samcryo_core.training.dataset`), the resumed run ends with the
  same weights as an uninterrupted one (bit-identical on CPU).
* CUDA runs use ``torch.autocast`` (bfloat16 where supported, else float16 with a GradScaler); the
  loss is computed in float32.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samcryo_core.errors import ConfigError, InputError
from samcryo_core.io.atomic import atomic_path, atomic_write_text
from samcryo_core.model.device import autocast_context, resolve_device
from samcryo_core.model.prompt_file import model_metadata, plain, save_prompt_file
from samcryo_core.training.dataset import TileDataset
from samcryo_core.training.losses import dice_bce_loss

#: Learning rates of the SAM-for-cryo-EM paper (arXiv 2311.16140) per prompt type; ``finetune``
#: (all SAM weights) is not in the paper's table -- 1e-5 is the usual SAM fine-tuning rate.
DEFAULT_LR: dict[str, float] = {"head": 5e-5, "prefix": 1e-4, "encoder": 1e-4, "finetune": 1e-5}

LOG_COLUMNS = ("step", "train_loss", "val_loss", "val_dice", "best_val_dice", "is_best", "seconds", "lr")


def default_lr(model: Any) -> float:
    """The prompt config's ``lr`` if the model carries one, else the paper's value per prompt type."""
    meta = model_metadata(model)
    cfg = meta.get("prompt_config") or {}
    for key in ("lr", "learning_rate"):
        if isinstance(cfg, dict) and cfg.get(key):
            return float(cfg[key])
    ptype = meta.get("prompt_type")
    if ptype not in DEFAULT_LR:
        raise ConfigError("train.lr", f"no default learning rate for prompt type '{ptype}'", "pass --lr")
    return DEFAULT_LR[ptype]


@dataclass
class TrainResult:
    """What a training run produced (also written into the prompt file's ``training`` metadata)."""

    out_path: str
    log_path: str
    best_step: int
    best_val_dice: float
    steps: int
    resumed_from_step: int
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "best_step": self.best_step,
            "best_val_dice": self.best_val_dice,
            "steps": self.steps,
            "resumed_from_step": self.resumed_from_step,
            "stopped_early": self.stopped_early,
        }


def evaluate(model: Any, dataset: TileDataset, device: str, batch_size: int = 1) -> tuple[float, float]:
    """Mean loss and pixel Dice (probability >= 0.5) over ``dataset``'s tile grid, unaugmented.

    Dice is pooled over all tiles (intersection and sums added up), so empty tiles count by what
    the model wrongly marks in them instead of giving an undefined per-tile Dice.
    """
    import torch

    was_training = model.training
    model.eval()
    losses: list[float] = []
    inter = total = 0.0
    n = 0
    with torch.inference_mode():
        for imgs, msks in dataset.grid_batches(batch_size):
            x = torch.from_numpy(imgs).to(device)
            t = torch.from_numpy(msks).to(device)
            with autocast_context(device):
                logits = model(x)
            losses.append(float(dice_bce_loss(logits, t)) * len(imgs))
            pred = torch.sigmoid(logits.float()).cpu().numpy() >= 0.5
            inter += float(np.logical_and(pred, msks > 0.5).sum())
            total += float(pred.sum() + (msks > 0.5).sum())
            n += len(imgs)
    model.train(was_training)
    dice = 2.0 * inter / total if total > 0 else 1.0
    return sum(losses) / max(1, n), dice


def last_checkpoint_path(out_path: str | Path) -> Path:
    """``prompt.pt`` -> ``prompt.last.pt``: the resume state beside the prompt file."""
    p = Path(out_path)
    return p.with_name(p.stem + ".last" + (p.suffix or ".pt"))


def _fingerprint(
    meta: dict, lr: float, batch_size: int, seed: int, train: TileDataset, val: TileDataset, val_every: int
) -> dict:
    """Everything that must match for a resume to continue the *same* run (steps may grow)."""
    return plain(
        {
            "variant": meta.get("variant"),
            "base_sha256": meta.get("base_sha256"),
            "prompt_type": meta.get("prompt_type"),
            "prompt_config": meta.get("prompt_config"),
            "lr": lr,
            "batch_size": batch_size,
            "seed": seed,
            "augment": train.augment,
            "tile": train.tile,
            "val_every": val_every,
            "train": train.names,
            "val": val.names,
            "train_data": train.content_digest(),
            "val_data": val.content_digest(),
        }
    )


def _write_logs(log_path: Path, history: list[dict], meta: dict, summary: dict) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in history:
        w.writerow(row)
    atomic_write_text(log_path, buf.getvalue())
    atomic_write_text(
        log_path.with_suffix(".json"),
        json.dumps(plain({"meta": meta, "summary": summary, "history": history}), indent=2) + "\n",
    )


def _rng_state(device: str) -> dict:
    import torch

    state = {"torch_cpu": torch.get_rng_state()}
    if device.startswith("cuda"):
        state["torch_cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict, device: str) -> None:
    import torch

    torch.set_rng_state(state["torch_cpu"])
    if device.startswith("cuda") and "torch_cuda" in state:
        torch.cuda.set_rng_state(state["torch_cuda"])


def train_prompt(
    model: Any,
    train_set: TileDataset,
    val_set: TileDataset,
    *,
    steps: int,
    val_every: int = 50,
    patience: int | None = None,
    lr: float | None = None,
    batch_size: int = 1,
    out_path: str | Path,
    log_path: str | Path | None = None,
    seed: int = 0,
    device: str = "cpu",
    resume: bool = True,
    progress: Callable[[str], None] | None = print,
    base_meta: dict | None = None,
) -> TrainResult:
    """Train ``model``'s trainable tensors; keep the best validation in ``out_path`` (module doc).

    Args:
        model: a ``PromptedSam``-like module (``trainable_parameters()``,
            ``trainable_state_dict()``, ``load_trainable_state_dict()``, ``forward``).
        train_set, val_set: tile datasets (augmentation is taken from ``train_set.augment``).
        steps: optimizer steps at most (a resumed run trains only the missing ones).
        val_every: validate (and save the resume state) every this many steps, and at the end.
        patience: stop after this many validations without a new best (None: never early).
        lr: Adam learning rate; None takes :func:`default_lr`.
        batch_size: tiles per step.
        out_path: the prompt file (best validation). ``<stem>.last.pt`` beside it holds the
            resume state.
        log_path: training log CSV (a ``.json`` with the same stem is written too); default
            ``<out stem>.log.csv``.
        seed: seeds torch and the tile draws.
        device: ``cpu``, ``cuda`` or ``auto``.
        resume: continue from ``<stem>.last.pt`` if present (another run's state is replaced).
        progress: called with one line per validation (and on resume); may raise to stop the
            run -- everything up to the last validation is already saved.
        base_meta: base-model facts for the prompt file (``base_checkpoint``, ``base_sha256``,
            ``base_seed``, ...); merged over :func:`model_metadata`.
    """
    import torch

    from samcryo_core import __version__

    if steps < 1 or val_every < 1:
        raise ConfigError("train.steps", f"{steps} steps, validation every {val_every}", "use at least 1")
    if len(train_set) == 0 or len(val_set) == 0:
        raise ConfigError(
            "train", "empty training or validation set", "give at least one labelled micrograph"
        )
    device = resolve_device(device)
    say = progress or (lambda _line: None)
    out_path = Path(out_path)
    log_path = Path(log_path) if log_path is not None else out_path.with_name(out_path.stem + ".log.csv")
    last_path = last_checkpoint_path(out_path)
    lr = float(lr) if lr is not None else default_lr(model)
    batch_size = max(1, int(batch_size))

    meta = model_metadata(model)
    meta.update(base_meta or {})
    meta.setdefault("base_sha256", "unknown")
    meta["samcryo_version"] = __version__
    fingerprint = _fingerprint(meta, lr, batch_size, seed, train_set, val_set, val_every)
    train_set.seed = seed

    model.to(device)
    params = list(model.trainable_parameters())
    if not params:
        raise ConfigError(
            "train.prompt",
            f"prompt type '{meta.get('prompt_type')}' has nothing to train",
            "use head, prefix, encoder or finetune",
        )
    optimizer = torch.optim.Adam(params, lr=lr)
    use_scaler = device.startswith("cuda") and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)

    history: list[dict] = []
    start_step = 0
    best = (-math.inf, -math.inf)  # (val Dice, -val loss)
    best_step = 0
    best_state: dict = {}  # CPU copy of the best validation's trainable tensors
    torch.manual_seed(seed)
    state = _read_resume_state(last_path, fingerprint, steps) if resume else None
    if state is not None:
        model.load_trainable_state_dict(state["trainable"])
        model.to(device)
        optimizer.load_state_dict(state["optimizer"])
        if use_scaler and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], device)
        history = list(state["history"])
        start_step = int(state["step"])
        best = (float(state["best_val_dice"]), float(state["best_neg_val_loss"]))
        best_step = int(state["best_step"])
        best_state = dict(state["best_trainable"])
    resumed_from = start_step
    if start_step:
        say(f"resuming {out_path.name} after step {start_step}/{steps} (best val Dice {best[0]:.4f} "
            f"at step {best_step})")

    def since_best() -> int:
        return sum(1 for row in history if row["step"] > best_step)

    def summary() -> dict:
        return {
            "best_step": best_step,
            "best_val_dice": best[0],
            "steps": history[-1]["step"] if history else 0,
            "max_steps": steps,
            "stopped_early": stopped_early(),
            "resumed_from_step": resumed_from,
            "val_every": val_every,
            "patience": patience,
            "lr": lr,
            "batch_size": batch_size,
            "seed": seed,
            "train_micrographs": train_set.names,
            "val_micrographs": val_set.names,
            "augment": train_set.augment,
            "tile": train_set.tile,
            "device": device,
        }

    def stopped_early() -> bool:
        return bool(patience and history and history[-1]["step"] < steps and since_best() >= patience)

    model.train()
    t0 = time.perf_counter()
    total, count = 0.0, 0
    step = start_step
    while step < steps and not stopped_early():
        imgs, msks = train_set.random_batch(step, batch_size)
        x = torch.from_numpy(imgs).to(device)
        t = torch.from_numpy(msks).to(device)
        optimizer.zero_grad(set_to_none=True)
        with autocast_context(device):
            logits = model(x)
        loss = dice_bce_loss(logits, t)
        if not torch.isfinite(loss):
            raise ConfigError("train.lr", f"loss became {float(loss)} at step {step + 1}", "lower the lr")
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total += float(loss.detach()) * len(imgs)
        count += len(imgs)
        step += 1
        if step % val_every and step != steps:
            continue
        val_loss, val_dice = evaluate(model, val_set, device, batch_size)
        model.train()
        key = (val_dice, -val_loss)
        is_best = key > best
        if is_best:
            best, best_step = key, step
        seconds = time.perf_counter() - t0
        history.append({"step": step, "train_loss": total / max(1, count), "val_loss": val_loss,
                        "val_dice": val_dice, "best_val_dice": best[0], "is_best": int(is_best),
                        "seconds": round(seconds, 3), "lr": lr})
        if is_best:
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.trainable_state_dict().items()}
            save_prompt_file(out_path, best_state, {**meta, "training": summary()})
        state = {
            "format": "samcryo-train-state",
            "fingerprint": fingerprint,
            "step": step,
            "trainable": {k: v.detach().cpu() for k, v in model.trainable_state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if use_scaler else {},
            "rng": _rng_state(device),
            "history": plain(history),
            "best_val_dice": best[0],
            "best_neg_val_loss": best[1],
            "best_step": best_step,
            "best_trainable": best_state,
        }
        # The log first, the resume state last: the state is the commit point of a validation, so
        # a kill between the two leaves a log one validation ahead (redone and rewritten on
        # resume), never a resume state whose validation is missing from the log.
        _write_logs(log_path, history, meta, summary())
        with atomic_path(last_path) as tmp:
            torch.save(state, tmp)
        rate = seconds / max(1, step - (history[-2]["step"] if len(history) > 1 else resumed_from))
        say(f"step {step}/{steps} loss {history[-1]['train_loss']:.4f} val_loss {val_loss:.4f} "
            f"val_dice {val_dice:.4f}{' *' if is_best else ''} {seconds:.1f}s "
            f"({rate:.2f} s/step, at most {rate * (steps - step) / 60:.1f} min left)")
        total, count, t0 = 0.0, 0, time.perf_counter()
    if stopped_early():
        say(f"stopped early at step {history[-1]['step']}: no better validation in the last "
            f"{patience} ({patience * val_every} steps)")
    # Final write: the best validation's tensors with the summary of the whole run (also restores
    # a prompt file deleted after an interruption, e.g. by Snakemake cleaning a failed job).
    save_prompt_file(out_path, best_state, {**meta, "training": summary()})
    _write_logs(log_path, history, meta, summary())
    last_step = history[-1]["step"] if history else 0
    return TrainResult(str(out_path), str(log_path), best_step, best[0], last_step, resumed_from,
                       stopped_early(), history)


def _read_resume_state(last_path: Path, fingerprint: dict, steps: int) -> dict | None:
    """The resume state of this same run, or None (absent, another run's, or past ``steps``)."""
    import torch

    if not last_path.is_file():
        return None
    try:
        state = torch.load(last_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(
            last_path,
            f"cannot read the training resume state ({first})",
            f"delete {last_path} to train from the start, or use --no-resume",
        ) from exc
    logger = logging.getLogger(__name__)
    if state.get("fingerprint") != fingerprint:
        # A resume state of other data, prompt, lr, seed or base cannot be continued: the user
        # changed the training set-up (Snakemake reruns train for exactly that), so start again.
        logger.warning("%s belongs to a different training run (other data, prompt, lr, seed or "
                       "base): training from the start and replacing it", last_path)
        return None
    if int(state.get("step", 0)) > steps:
        # Fewer steps than the state already has (the user lowered train.steps): continuing would
        # keep the longer run's prompt, which is not what was asked for. Start again.
        logger.warning("%s is already past step %d (it has %d): training %d steps from the start "
                       "and replacing it", last_path, steps, int(state["step"]), steps)
        return None
    return state

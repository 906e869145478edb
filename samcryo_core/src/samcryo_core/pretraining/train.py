"""Pre-train a small SAM (encoder + mask decoder) from scratch on simulated micrographs.

What is trained, and why this way: the model is samcryo's own ``PromptedSam`` with the ``none``
prompt, i.e. SAM's image encoder, the fixed 8 x 8 grid of positive point prompts through SAM's
prompt encoder, and SAM's mask decoder -- exactly the forward pass every prompt type later wraps.
All image-encoder and mask-decoder weights are trained (the prompt encoder only embeds the fixed
grid; its random Fourier features stay as initialised and are shipped with the weights). So:

* the frozen *encoder* learns features of dark, CTF-fringed, noisy particles versus carbon, ice
  and aggregates, which the head, prefix and encoder prompts then adapt;
* the *decoder* already turns those features into particle discs for the same point grid, which
  matters most for the ``encoder`` prompt (it keeps SAM's decoder frozen) and gives ``head`` and
  ``prefix`` (which train the decoder) a good start instead of a random one;
* the ``none`` prompt on the pre-trained backbone is a real zero-shot particle picker.

Loss: Dice + BCE on the S/4 mask logits (:func:`samcryo_core.training.losses.dice_bce_loss`, as
few-shot training uses). AdamW, linear warm-up then cosine decay, gradient-norm clipping.
Validation after every ``val_every`` steps: pixel Dice at 0.5 and particle precision/recall/F1
(samcryo's extraction, Hungarian matching within 0.5 x diameter) on fixed validation micrographs.
The exported weights are those of the best validation F1 (ties: Dice), written as soon as they
are found, so an interrupted run still leaves a usable, verified file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samcryo_core.pretraining.data import PretrainExample, batch_stream, validation_set
from samcryo_core.pretraining.export import export_backbone, update_backbone_metadata
from samcryo_core.pretraining.init import init_patch_embedding
from samcryo_core.pretraining.recipe import (
    DEMO_DIAMETER_A,
    DEMO_EXCLUDED_BAND_A,
    DEMO_TYPE_SEED,
    PretrainConfig,
    working_scale_record,
)

TRAINED_MODULES = ("image_encoder", "mask_decoder")


@dataclass
class PretrainResult:
    """What a run produced."""

    out_path: str
    sha256: str | None
    best_step: int
    best_val: dict
    steps_done: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def build_trainable_model(variant: str, seed: int, template_init: bool = True) -> Any:
    """``PromptedSam(variant, 'none')`` with random weights from ``seed`` and encoder + decoder
    trainable (the prompt encoder stays frozen: its input is the fixed point grid). With
    ``template_init`` the patch embedding starts as matched filters (:mod:`.init`)."""
    import torch

    from samcryo_core.model import PromptedSam

    torch.manual_seed(int(seed))
    model = PromptedSam.build(variant, "none")
    if template_init:
        init_patch_embedding(model.sam)
    for name, p in model.sam.named_parameters():
        p.requires_grad_(name.split(".")[0] in TRAINED_MODULES)
    return model


def lr_factor(step: int, config: PretrainConfig) -> float:
    """Multiplier of ``config.lr`` at ``step`` (0-based): linear warm-up, then cosine decay."""
    warm = max(0, int(config.warmup_steps))
    if step < warm:
        return (step + 1) / warm
    span = max(1, config.steps - warm)
    t = min(1.0, (step - warm) / span)
    lo = config.min_lr_fraction
    return lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * t))


def _scores(tp: int, fp: int, fn: int, dices: list[float], seps: list[float], prefix: str) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        f"{prefix}dice": float(np.mean(dices)) if dices else 0.0,
        f"{prefix}precision": precision,
        f"{prefix}recall": recall,
        f"{prefix}f1": f1,
        f"{prefix}separation": float(np.mean(seps)) if seps else 0.0,
    }


def validate(model: Any, examples: list[PretrainExample], threshold: float = 0.5) -> dict:
    """Pixel Dice and particle P/R/F1 of ``model`` on whole validation micrographs, segmented tile
    by tile and picked exactly as the pipeline does (candidates at FOM >= ``threshold``).

    ``val_*`` keys pool the simulated micrographs; with real ones, ``real_val_*`` pool those and
    ``val_<set>_*`` give each real set, and ``all_val_*`` pool everything.
    """
    from samcryo_core.evaluation.matching import match_picks
    from samcryo_core.inference.segment import probability_map
    from samcryo_core.particles.extraction import extract_particles
    from samcryo_core.training.metrics import pixel_dice

    if not examples:
        return {}
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    groups: dict[str, list] = {}
    for ex in examples:
        prob = probability_map(model, ex.image, ex.mapping)
        mh, mw = ex.mask.shape
        padded = np.zeros((mh * 4, mw * 4), np.float32)
        padded[: prob.shape[0], : prob.shape[1]] = prob
        low = F.avg_pool2d(torch.from_numpy(padded)[None, None], 4)[0, 0].numpy()
        dice = pixel_dice(low >= threshold, ex.mask > 0.5)
        fg = ex.mask > 0.5
        # threshold-free: is the model ranking particles first?
        sep = float(low[fg].mean() - low[~fg].mean()) if fg.any() and (~fg).any() else None
        d = (float(ex.diameter_px.min()), float(ex.diameter_px.max())) if ex.diameter_px.size else 1.0
        picks = extract_particles(prob, ex.mapping, diameter_px=d)
        picks = picks[picks["fom"] >= threshold]
        truth = np.stack([ex.x, ex.y], axis=1) if ex.x.size else np.zeros((0, 2))
        m = match_picks(picks[["x", "y"]].to_numpy(), truth, 0.5 * ex.diameter_px)
        for group in {ex.source, "real" if ex.source != "sim" else "sim", "all"}:
            groups.setdefault(group, []).append((m.tp, m.fp, m.fn, dice, sep))
    model.train(was_training)
    out: dict = {}
    prefixes = {"sim": "val_", "real": "real_val_", "all": "all_val_"}
    for group, rows in groups.items():
        if group == "all" and "real" not in groups:
            continue  # only simulated: val_* already says it
        tp, fp, fn = (sum(r[i] for r in rows) for i in range(3))
        seps = [r[4] for r in rows if r[4] is not None]
        out.update(_scores(tp, fp, fn, [r[3] for r in rows], seps, prefixes.get(group, f"val_{group}_")))
    return out


def selection_key(metrics: dict, select_on: str) -> tuple[float, float, float]:
    """What "best" means: F1, then Dice, then separation, on the ``select_on`` validation pool
    (``sim``, ``real`` or ``all``; ``sim`` when the pool has no examples)."""
    prefix = {"sim": "val_", "real": "real_val_", "all": "all_val_"}[select_on]
    if f"{prefix}f1" not in metrics:
        prefix = "val_"
    return (metrics.get(f"{prefix}f1", 0.0), metrics.get(f"{prefix}dice", 0.0),
            metrics.get(f"{prefix}separation", 0.0))


def pretrain(
    config: PretrainConfig,
    out_path: str | Path,
    *,
    dtype: str = "float16",
    progress: Callable[[str], None] | None = print,
    log_every: int = 5,
    init_from: str | Path | None = None,
) -> PretrainResult:
    """Run the recipe and export the best backbone to ``out_path`` (plus ``.json``/``.sha256``).

    ``init_from``: continue from an exported backbone (a later stage of a staged run; use another
    ``config.seed`` so the stage sees new micrographs). Its sha256 and record go into the new
    JSON under ``init_from``. Returns a :class:`PretrainResult`; ``sha256`` is None only if no
    validation ran (then the final weights are exported).
    """
    import torch

    from samcryo_core.training.losses import dice_bce_loss

    say = progress or (lambda _line: None)
    torch.set_num_threads(int(config.threads))
    model = build_trainable_model(config.variant, config.seed, config.template_init)
    extra: dict = {}
    if init_from is not None:
        from samcryo_core.model.loading import load_sam_weights, sha256_file
        from samcryo_core.pretraining.export import read_backbone_metadata

        load_sam_weights(model.sam, init_from, variant=config.variant)
        parent = {k: v for k, v in read_backbone_metadata(init_from).items() if k != "history"}
        extra["init_from"] = {
            "file": Path(init_from).name,
            "sha256": sha256_file(init_from),
            "record": parent,
        }
        say(f"continuing from {init_from} (step {parent.get('selected_step')} of its run)")
    S, M = model.img_size, model.mask_size
    params = model.trainable_parameters()
    n_train = sum(p.numel() for p in params)
    say(
        f"pre-training {config.variant}: {n_train:,} trainable parameters, input {S}, mask {M}, "
        f"{config.steps} steps x {config.batch_size} micrographs"
    )
    decay = [p for n, p in model.named_trainable_parameters() if p.ndim >= 2 and "rel_pos" not in n]
    no_decay = [p for n, p in model.named_trainable_parameters() if not (p.ndim >= 2 and "rel_pos" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    t_val = time.perf_counter()
    val = validation_set(config, S, M)
    n_real = sum(1 for ex in val if ex.source != "sim")
    say(f"{len(val)} validation micrographs ({len(val) - n_real} simulated, {n_real} real) ready in "
        f"{time.perf_counter() - t_val:.1f}s")

    history: list[dict] = []
    best_key = (-1.0, -1.0, -1.0)
    best_step, best_val, sha = 0, {}, None
    t0 = time.perf_counter()
    losses: list[float] = []
    steps_done = 0

    def record(step: int) -> None:
        nonlocal best_key, best_step, best_val, sha
        metrics = validate(model, val)
        row = {
            "step": step,
            "train_loss": float(np.mean(losses[-config.val_every :])) if losses else float("nan"),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - t0, 1),
            **metrics,
        }
        history.append(row)
        key = selection_key(metrics, config.select_on)
        mark = ""
        if key > best_key:
            best_key, best_step, best_val = key, step, metrics
            sha = export_backbone(
                model.sam,
                out_path,
                _metadata(extra, config, dtype, history, best_step, best_val, time.perf_counter() - t0, step),
                dtype,
            )
            mark = " * saved"
        say(
            f"step {step}/{config.steps} val Dice {metrics.get('val_dice', float('nan')):.3f} "
            f"P {metrics.get('val_precision', 0):.3f} R {metrics.get('val_recall', 0):.3f} "
            f"F1 {metrics.get('val_f1', 0):.3f} sep {metrics.get('val_separation', 0):.3f}"
            + (f" | real Dice {metrics['real_val_dice']:.3f} F1 {metrics['real_val_f1']:.3f}"
               if "real_val_f1" in metrics else "") + mark
        )

    model.train()
    stream = batch_stream(config, S, M)
    for step in range(config.steps):
        imgs, msks = next(stream)
        x, t = torch.from_numpy(imgs), torch.from_numpy(msks)
        optimizer.zero_grad(set_to_none=True)
        loss = dice_bce_loss(model(x), t)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"pre-training loss became {float(loss)} at step {step + 1}; lower the lr"
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        steps_done = step + 1
        elapsed = time.perf_counter() - t0
        if steps_done % log_every == 0 or steps_done == 1:
            eta = elapsed / steps_done * (config.steps - steps_done)
            say(
                f"step {steps_done}/{config.steps} loss {np.mean(losses[-log_every:]):.4f} "
                f"lr {optimizer.param_groups[0]['lr']:.2e} {elapsed / steps_done:.1f}s/step "
                f"eta {eta / 60:.1f} min"
            )
        out_of_time = config.max_minutes is not None and elapsed > 60.0 * config.max_minutes
        if val and (steps_done % config.val_every == 0 or steps_done == config.steps or out_of_time):
            record(steps_done)
        if out_of_time:
            say(f"stopping after {steps_done} steps: max_minutes={config.max_minutes} reached")
            break
    stream.close()
    seconds = time.perf_counter() - t0
    if not val:
        sha = export_backbone(
            model.sam,
            out_path,
            _metadata(extra, config, dtype, history, steps_done, {}, seconds, steps_done),
            dtype,
        )
        best_step = steps_done
    else:
        update_backbone_metadata(
            out_path, {"steps_done": steps_done, "train_seconds": round(seconds, 1), "history": history}
        )
    return PretrainResult(str(out_path), sha, best_step, best_val, steps_done, seconds, history)


def _metadata(
    extra: dict,
    config: PretrainConfig,
    dtype: str,
    history: list[dict],
    best_step: int,
    best_val: dict,
    seconds: float,
    steps_done: int,
) -> dict:
    """The JSON sidecar's recipe and training record."""
    import torch

    from samcryo_core.pretraining.real import real_micrographs, real_sets

    sets = real_sets(config)
    real = {}
    if sets:
        real = {"real_data": {
            "sets": list(sets),
            "left_out": list(config.leave_out),
            "train_micrographs": [f"{m.dataset}/{m.name}" for m in real_micrographs(config, "train")],
            "valid_micrographs": [f"{m.dataset}/{m.name}" for m in real_micrographs(config, "valid")],
            "test_split": "never read",
        }}
    return {
        "variant": config.variant,
        "kind": "samcryo pre-trained backbone (simulated" + (" and real" if sets else "") + " micrographs)",
        **extra,
        **real,
        "trained_modules": list(TRAINED_MODULES),
        "prompt_used_in_pretraining": "none (fixed 8 x 8 grid of positive points)",
        "demo_particle_excluded": {
            "diameter_A": DEMO_DIAMETER_A,
            "type_seed": DEMO_TYPE_SEED,
            "excluded_diameter_band_A": list(DEMO_EXCLUDED_BAND_A),
        },
        "recipe": config.to_dict(),
        "working_scale": working_scale_record(config),
        "stored_dtype": dtype,
        "selected_step": best_step,
        "selected_validation": best_val,
        "steps_done": steps_done,
        "train_seconds": round(seconds, 1),
        "threads": int(torch.get_num_threads()),
        "history": history,
    }

"""Arguments of the QC report rule, computed from the config at parse time.

Kept out of rules/report.smk so the rule file holds only the rule (Snakemake's linter asks for
this) and so the logic is plain, testable Python.
"""

from __future__ import annotations

import glob
import os
import shlex

from samcryo_core.workflow.settings import fom_threshold


def report_compare(config: dict, prompt_dir: str, has_truth: bool) -> dict[str, str]:
    """Other runs' evaluations to show beside this one.

    ``report.compare`` ({name: overall.json}) plus, unless ``report.compare_existing`` is false,
    every ``results/*/*/evaluation/overall.json`` already on disk named by its variant/prompt
    folder, so running several prompt types one after another compares them in the report.
    """
    cfg = config.get("report") or {}
    found: dict[str, str] = {}
    if has_truth and cfg.get("compare_existing", True):
        own = os.path.normpath(os.path.join(prompt_dir, "evaluation", "overall.json"))
        for path in sorted(glob.glob(os.path.join("results", "*", "*", "evaluation", "overall.json"))):
            if os.path.normpath(path) != own:
                found[os.path.relpath(os.path.dirname(os.path.dirname(path)), "results")] = path
    found.update(cfg.get("compare") or {})
    return found


def report_evaluation_args(config: dict, prompt_dir: str, has_truth: bool) -> str:
    """This run's evaluation files and the truth to draw on overlays (only with truth).

    The truth is read as the evaluation reads it (``evaluate.truth_format``, ``evaluate.flip_y``),
    so the crosses on an overlay are the particles precision and recall were computed against.
    """
    if not has_truth:
        return ""
    ev = os.path.join(prompt_dir, "evaluation")
    return " ".join(filter(None, [
        "--evaluation-json", shlex.quote(os.path.join(ev, "overall.json")),
        "--evaluation-csv", shlex.quote(os.path.join(ev, "per_micrograph.csv")),
        "--truth-dir", shlex.quote(str(config["evaluate"]["truth_dir"])),
        "--truth-format", shlex.quote(str(_setting(config, "evaluate.truth_format"))),
        "--truth-flip-y" if _setting(config, "evaluate.flip_y") else "",
    ]))


def _setting(config: dict, key: str):
    """``config``'s value of a dotted key, or the schema's default (a config Snakemake's
    ``validate`` has not filled in, as a rule file's own tests build)."""
    from samcryo_core.workflow.schema import default

    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default(key)
        node = node[part]
    return node


def report_extra_args(config: dict, prompt_dir: str, uses_sam: bool) -> str:
    """Threshold line, overlay sample and titles for ``samcryo report``."""
    cfg = config.get("report") or {}
    name = prompt_dir.removeprefix("results/")
    tile = []
    if uses_sam:  # the model's input size: the report draws segment's tile grid on one overlay
        from samcryo_core.model.registry import get_variant

        tile = [f"--tile-px {get_variant((config.get('model') or {}).get('variant', 'cpu_small')).img_size}"]
    return " ".join([
        *tile,
        f"--threshold {fom_threshold(config, uses_sam):.6g}",
        f"--sample {int(cfg.get('sample', 16))}",
        f"--sample-every {int(cfg.get('sample_every', 1))}",
        f"--name {shlex.quote(name)}",
        f"--title {shlex.quote('samcryo QC: ' + name)}",
    ])


def report_compare_args(compare: dict[str, str]) -> str:
    """``--compare NAME=PATH ...`` or nothing."""
    if not compare:
        return ""
    return "--compare " + " ".join(shlex.quote(f"{n}={p}") for n, p in compare.items())

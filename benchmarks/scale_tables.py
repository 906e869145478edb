"""Markdown tables of ``benchmarks/results/scale.json`` for docs/benchmarks.md.

Why: the docs' scale, crowding and real-data tables are many numbers from several labels (code
versions and measured settings); printing them from the results file keeps the page and the file
in step, and anyone can check a row against the JSON.

    python benchmarks/scale_tables.py                      # the summary table (default labels)
    python benchmarks/scale_tables.py --sets real10028/up1x realcrowded/10059 --labels shipped before
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"

#: Data sets of the summary, in the page's order, with the names the page uses.
SET_NAMES = {
    "real10028/up1x": "EMPIAR-10028 native 1024 px",
    "real10028/up2x": "EMPIAR-10028 2x",
    "real10028/up4x": "EMPIAR-10028 4x",
    "realcrowded/10059": "EMPIAR-10059 (crowded)",
    "realcrowded/10947": "EMPIAR-10947 (crowded)",
    "scale/px0.8_5760x4092": "sim 5760 x 4092 at 0.8 A",
    "scale/px1.1_4096": "sim 4096^2 at 1.1 A",
    "scale/px1.77_4096": "sim 4096^2 at 1.77 A",
    "scale/px4.0_1024": "sim 1024^2 at 4 A",
    "crowding/coverage10": "sim crowding 10 %",
    "crowding/coverage25": "sim crowding 25 %",
    "crowding/coverage40": "sim crowding 40 %",
}


#: Rows that replace a label's row of a data set in the summary, marked ``*``: the crowded real
#: sets run with the diameter their labels allow (docs/benchmarks.md, "The diameter the labels
#: allow"), which is what samcryo now makes a user configure.
SUPERSEDED_BY = {"shipped": "shipped_label_spacing", "shipped_tta_none": "shipped_label_spacing_tta_none"}


def effective_label(runs: dict, label: str, data_set: str) -> tuple[str, str]:
    """``(label whose row the summary shows, mark)``: the superseding label where it ran the set."""
    newer = SUPERSEDED_BY.get(label)
    if newer and data_set in runs.get(newer, {}):
        return newer, " *"
    return label, ""


def f1_of(runs: dict, label: str, data_set: str, prompt: str, with_pr: bool = False) -> str:
    """``0.857`` (or ``0.857 (0.77 / 0.96)``), ``-`` where the label did not run it."""
    row = runs.get(label, {}).get(data_set, {}).get(prompt, {})
    if "f1" not in row:
        return "-"
    text = f"{row['f1']:.3f}"
    return f"{text} ({row['precision']:.2f} / {row['recall']:.2f})" if with_pr else text


def summary_table(runs: dict, labels: list[str], log_label: str) -> str:
    """Rows: data sets; columns: ``head`` F1 per label, LoG, and each label's F1 minus LoG's
    (:data:`SUPERSEDED_BY` rows replace their label's, marked ``*``)."""
    diff_names = " | ".join(f"{lab} - LoG" for lab in labels)
    head = "| data | " + " | ".join(labels) + " | LoG | " + diff_names + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(labels))]
    for data_set, name in SET_NAMES.items():
        log_lab, log_mark = effective_label(runs, log_label, data_set)
        log_f1 = runs.get(log_lab, {}).get(data_set, {}).get("log", {}).get("f1")
        # a row is compared with the LoG run of the same settings
        plain_log_f1 = runs.get(log_label, {}).get(data_set, {}).get("log", {}).get("f1")
        cells, diffs = [], []
        for lab in labels:
            shown, mark = effective_label(runs, lab, data_set)
            cells.append(f1_of(runs, shown, data_set, "head") + mark)
            row = runs.get(shown, {}).get(data_set, {}).get("head", {})
            ref = log_f1 if mark else plain_log_f1
            diffs.append("-" if ref is None or "f1" not in row else f"{row['f1'] - ref:+.3f}")
        log_text = "-" if log_f1 is None else f"{log_f1:.3f}{log_mark}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {log_text} | " + " | ".join(diffs) + " |")
    return "\n".join(lines)


def set_table(runs: dict, labels: list[str], data_sets: list[str]) -> str:
    """Rows: picker x label; columns: data sets; cells ``F1 (precision / recall)``."""
    lines = ["| picker | code | " + " | ".join(SET_NAMES.get(d, d) for d in data_sets) + " |",
             "|" + "---|" * (2 + len(data_sets))]
    pickers = (("head", "`head` (default prompt)"), ("none", "zero-shot `none`"), ("log", "built-in LoG"))
    for prompt, name in pickers:
        for lab in labels:
            cells = [f1_of(runs, lab, d, prompt, with_pr=True) for d in data_sets]
            if all(c == "-" for c in cells):
                continue
            lines.append(f"| {name} | {lab.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--labels", nargs="+", default=["before", "first_pass", "second_pass", "shipped",
                                                    "shipped_tta_none"])
    ap.add_argument("--log-label", default="shipped", help="label whose LoG row is the reference")
    ap.add_argument("--sets", nargs="*", default=None,
                    help="a per-set table of these data sets (default: the summary table)")
    args = ap.parse_args(argv)
    runs = json.loads(args.results.read_text())["runs"]
    print(set_table(runs, args.labels, args.sets) if args.sets else
          summary_table(runs, args.labels, args.log_label))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The one-page summary of a run: ``summary.md`` (links) and ``summary.html`` (self-contained).

A facility user wants one page that answers "how many micrographs went in, how many came out,
how many particles, are they any good" without opening Snakemake's report. ``summary.md`` reads
well in a terminal, a Git forge or an e-mail and links to the PNGs beside it; ``summary.html``
embeds every PNG as base64 so it can be mailed or copied anywhere and still opens with pictures.
Both are rendered from the same :class:`~samcryo_core.qc.report.ReportResult`, so their numbers
cannot disagree.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from samcryo_core.io.atomic import atomic_write_text
from samcryo_core.qc.report import ReportResult

# Rejected micrographs listed by name on the page; the full list is always in tables/rejected.csv.
MAX_REJECTED_ROWS = 50


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.{digits}f}"


def _overview_rows(res: ReportResult) -> list[tuple[str, str]]:
    s = res.stats
    stages = ", ".join(f"{k}: {v}" for k, v in sorted(s.rejected_by_stage.items()))
    rows = [
        ("Micrographs in", str(s.n_inputs)),
        ("Accepted", str(s.n_accepted)),
        ("Rejected", f"{s.n_rejected}" + (f" ({stages})" if stages else "")),
        ("Picks total", str(s.n_picks)),
        ("Picks per micrograph (median)", _fmt(s.median_picks, 1)),
        ("Picks per micrograph (mean, min–max)", f"{s.mean_picks:.1f} ({s.min_picks}–{s.max_picks})"),
        ("Micrographs without picks", str(s.n_without_picks)),
        ("Median figure of merit", _fmt(s.median_fom)),
        ("Median pick diameter (px)", _fmt(s.median_diameter_px, 1)),
    ]
    if s.median_diameter_A is not None:
        rows.append(("Median pick diameter (Å)", _fmt(s.median_diameter_A, 1)))
    if res.threshold is not None:
        rows.append(("FOM threshold", _fmt(res.threshold)))
    sizes = res.pixel_sizes_A
    if len(sizes) == 1:
        rows.append(("Pixel size (Å)", _fmt(sizes[0])))
    elif sizes:
        rows.append(("Pixel sizes (Å)", f"{_fmt(sizes[0])}–{_fmt(sizes[-1])} ({len(sizes)} different; per "
                     "micrograph in tables/micrographs.csv)"))
    ws = res.working_scale
    if ws is not None:
        lo, hi = ws.diameter_A
        size = f"{lo:g} Å" if lo == hi else f"{lo:g}–{hi:g} Å"
        at_input = f"{ws.range_px[0]:.1f}–{ws.range_px[1]:.1f} px"
        scale = f"{ws.particle_px:g} px per particle ({size} → {at_input})"
        rows.append(("Working scale (model input)", scale))
        factors = (f"{ws.bin_factor_median:.2f}" if ws.bin_factor_min == ws.bin_factor_max else
                   f"{ws.bin_factor_median:.2f} (median; {ws.bin_factor_min:.2f}–{ws.bin_factor_max:.2f})")
        rows.append(("Binning factor (original / model px)", factors))
        if ws.tile_px:
            rows.append(("Model tiles", f"{ws.tile_px} px, grid drawn on the first overlay"))
    return rows


def _rejected_rows(rej: pd.DataFrame) -> list[list[str]]:
    return [[r.micrograph, r.stage, r.reason] for r in rej.head(MAX_REJECTED_ROWS).itertuples(index=False)]


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _metrics_rows(metrics: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = list(metrics.columns)
    rows = [[str(r[0])] + [_fmt(v) for v in r[1:]] for r in metrics.itertuples(index=False)]
    return header, rows


def render_markdown(res: ReportResult) -> str:
    """The summary as Markdown, with relative links to the overlays, plots and tables."""
    out = [f"# {res.title}", "", "## Overview", ""]
    out.append(_md_table(["", "value"], [[k, v] for k, v in _overview_rows(res)]))
    if res.evaluation:
        out += ["", "## Evaluation against ground truth", ""]
        out.append(_md_table(["metric", "value"], [[k, _fmt(v)] for k, v in res.evaluation.items()]))
    if res.metrics is not None and len(res.metrics) > 1:
        out += ["", "## Runs compared", ""]
        header, rows = _metrics_rows(res.metrics)
        out.append(_md_table(header, rows))
    out += ["", "## Rejected micrographs", ""]
    rej = res.rejected if res.rejected is not None else pd.DataFrame()
    if len(rej) == 0:
        out.append("None.")
    else:
        rows = _rejected_rows(rej)
        out.append(_md_table(["micrograph", "stage", "reason"], rows))
        if len(rej) > MAX_REJECTED_ROWS:
            more = len(rej) - MAX_REJECTED_ROWS
            out.append(f"\n… and {more} more in [tables/rejected.csv](tables/rejected.csv).")
    out += ["", "## Plots", ""]
    out += [f"- [{t}]({p})" for t, p in res.plots]
    for t, p in res.plots:
        out += ["", f"### {t}", "", f"![{t}]({p})"]
    out += ["", "## Overlays", ""]
    if res.overlays:
        out.append(f"{len(res.overlays)} of {res.stats.n_accepted} accepted micrographs; circles are picks "
                   "(colour = figure of merit), crosses ground truth.")
        out.append("")
        out += [f"- [{name}]({p})" for name, p in res.overlays]
    else:
        out.append("No overlays were drawn.")
    out += ["", "## Tables", ""]
    out += [f"- [{t}]({p})" for t, p in res.tables]
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1150px;
color:#222;padding:0 1em}
h1{border-bottom:3px solid #3b6ea5;padding-bottom:.2em}
h2{margin-top:1.6em;color:#3b6ea5}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left;vertical-align:top}
th{background:#eef3f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{background:#eef3f8;border-radius:8px;padding:.6em 1.1em;min-width:8em}
.card .v{font-size:1.8em;font-weight:600}
.card .k{font-size:.85em;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:1em}
figure{margin:0}
figure img{width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#444}
.bad{color:#d1495b}
"""


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _html_table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = "".join(
            (f'<td class="num">{html.escape(str(c))}</td>' if i >= numeric_from
             else f"<td>{html.escape(str(c))}</td>")
            for i, c in enumerate(r))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{th}</tr>{''.join(body)}</table>"


def render_html(res: ReportResult) -> str:
    """The summary as one self-contained HTML page (PNGs embedded as base64)."""
    s = res.stats
    o = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
         f"<title>{html.escape(res.title)}</title>",
         f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(res.title)}</h1>"]
    cards = [("micrographs in", s.n_inputs), ("accepted", s.n_accepted), ("rejected", s.n_rejected),
             ("picks", s.n_picks), ("median picks / mic", _fmt(s.median_picks, 1))]
    for k in ("precision", "recall", "F1"):
        if k in res.evaluation:
            cards.append((k, _fmt(res.evaluation[k])))
    o.append("<div class='cards'>" + "".join(
        f"<div class='card'><div class='v'>{html.escape(str(v))}</div>"
        f"<div class='k'>{html.escape(k)}</div></div>"
        for k, v in cards) + "</div>")
    o.append("<h2>Overview</h2>" + _html_table(["", "value"], [[k, v] for k, v in _overview_rows(res)]))
    if res.evaluation:
        o.append("<h2>Evaluation against ground truth</h2>")
        o.append(_html_table(["metric", "value"], [[k, _fmt(v)] for k, v in res.evaluation.items()]))
    if res.metrics is not None and len(res.metrics) > 1:
        header, rows = _metrics_rows(res.metrics)
        o.append("<h2>Runs compared</h2>" + _html_table(header, rows))
    o.append("<h2>Rejected micrographs</h2>")
    rej = res.rejected if res.rejected is not None else pd.DataFrame()
    if len(rej) == 0:
        o.append("<p>None.</p>")
    else:
        rows = _rejected_rows(rej)
        o.append(_html_table(["micrograph", "stage", "reason"], rows, numeric_from=99))
        if len(rej) > MAX_REJECTED_ROWS:
            o.append(f"<p>… and {len(rej) - MAX_REJECTED_ROWS} more in tables/rejected.csv.</p>")
    o.append("<h2>Plots</h2><div class='grid'>")
    for t, p in res.plots:
        o.append(f"<figure>{_img_tag(res.out_dir / p, t)}<figcaption>{html.escape(t)}</figcaption></figure>")
    o.append("</div><h2>Overlays</h2>")
    if res.overlays:
        o.append(f"<p>{len(res.overlays)} of {s.n_accepted} accepted micrographs. Circles: picks at their "
                 "diameter, coloured by figure of merit; green crosses: ground truth; cyan dashed: below "
                 "threshold.</p><div class='grid'>")
        for name, p in res.overlays:
            o.append(f"<figure>{_img_tag(res.out_dir / p, name)}<figcaption>{html.escape(name)}</figcaption>"
                     "</figure>")
        o.append("</div>")
    else:
        o.append("<p>No overlays were drawn.</p>")
    o.append("<h2>Tables</h2><ul>" + "".join(
        f"<li>{html.escape(t)}: <code>{html.escape(p)}</code></li>" for t, p in res.tables) + "</ul>")
    o.append("</body></html>")
    return "\n".join(o) + "\n"


def write_summaries(res: ReportResult) -> tuple[Path, Path]:
    """Write ``summary.md`` and ``summary.html`` into the report folder atomically."""
    md = res.out_dir / "summary.md"
    page = res.out_dir / "summary.html"
    atomic_write_text(md, render_markdown(res))
    atomic_write_text(page, render_html(res))
    return md, page

# QC report (last stage): overlays of picks on the normalized micrographs, distributions, tables,
# a one-page summary (summary.md + self-contained summary.html), all marked for Snakemake's own
# report:   snakemake --report results/report.html   (or a .zip for large runs; see docs/qc.md).
#
# Uses from rules/common.smk: CHUNK_IDS, PROMPT_DIR, NORM_DIR, HAS_TRUTH, LAYOUT, LOG_PROMPT_DIR,
# chunk_files, q. Optional config section `report:` (sample, sample_every, compare); without it
# the defaults below apply.

import glob as _report_glob
import math as _report_math

_REPORT_CFG = config.get("report") or {}


def _report_threshold():
    """The FOM threshold picks were cut at: extract's probability threshold (FOM = mean probability
    inside a pick, so never below it) or, for LoG, the FOM of threshold_sd (fom = 1 - exp(-z/5))."""
    if LAYOUT.uses_sam:
        return float(config["extract"]["threshold"])
    from samcryo_core.pickers.log_picker import FOM_SCALE_SD

    return 1.0 - _report_math.exp(-float(config["pick_log"]["threshold_sd"]) / FOM_SCALE_SD)


def _report_compare():
    """Other runs' evaluations to show beside this one: report.compare {name: overall.json}, plus
    (unless report.compare_existing is false) every results/*/*/evaluation/overall.json already on
    disk, named by its variant/prompt folder, so running several prompt types compares them."""
    found = {}
    if HAS_TRUTH and _REPORT_CFG.get("compare_existing", True):
        own = os.path.normpath(f"{PROMPT_DIR}/evaluation/overall.json")
        for path in sorted(_report_glob.glob("results/*/*/evaluation/overall.json")):
            if os.path.normpath(path) != own:
                found[os.path.relpath(os.path.dirname(os.path.dirname(path)), "results")] = path
    found.update(_REPORT_CFG.get("compare") or {})
    return found


_REPORT_COMPARE = _report_compare()


def _report_evaluation_args():
    """This run's evaluation files and the truth to draw on overlays (only with truth)."""
    if not HAS_TRUTH:
        return ""
    ev = f"{PROMPT_DIR}/evaluation"
    return (f"--evaluation-json {q(ev + '/overall.json')} --evaluation-csv {q(ev + '/per_micrograph.csv')}"
            f" --truth-dir {q(config['evaluate']['truth_dir'])}")


rule report:
    """QC overlays, distributions, tables and the one-page summary of this run."""
    input:
        picks=chunk_files(f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv"),
        normalized=chunk_files(f"{NORM_DIR}/chunks/{{chunk}}.tsv"),
        rejections="results/ingest/rejected.tsv",
        evaluation=(
            [f"{PROMPT_DIR}/evaluation/overall.json", f"{PROMPT_DIR}/evaluation/per_micrograph.csv"]
            if HAS_TRUTH
            else []
        ),
        compare=list(_REPORT_COMPARE.values()),
    output:
        summary=report(
            f"{PROMPT_DIR}/qc/summary.md",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"file": "summary.md"},
        ),
        html=report(
            f"{PROMPT_DIR}/qc/summary.html",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"file": "summary.html"},
        ),
        plots=report(
            directory(f"{PROMPT_DIR}/qc/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="2. Distributions",
            labels={"plot": "{name}"},
        ),
        overlays=report(
            directory(f"{PROMPT_DIR}/qc/overlays"),
            patterns=["{name}.png"],
            caption="../report/overlays.rst",
            category="3. Overlays",
            labels={"micrograph": "{name}"},
        ),
        tables=report(
            directory(f"{PROMPT_DIR}/qc/tables"),
            patterns=["{name}.csv"],
            caption="../report/tables.rst",
            category="4. Tables",
            labels={"table": "{name}"},
        ),
    params:
        out_dir=lambda wc, output: os.path.dirname(output.summary),
        evaluation=_report_evaluation_args(),
        compare=(
            "--compare " + " ".join(q(f"{name}={path}") for name, path in _REPORT_COMPARE.items())
            if _REPORT_COMPARE
            else ""
        ),
        extra=" ".join([
            f"--threshold {_report_threshold():.6g}",
            f"--sample {int(_REPORT_CFG.get('sample', 16))}",
            f"--sample-every {int(_REPORT_CFG.get('sample_every', 1))}",
            f"--name {q(PROMPT_DIR.removeprefix('results/'))}",
            f"--title {q('samcryo QC: ' + PROMPT_DIR.removeprefix('results/'))}",
        ]),
    log:
        f"{LOG_PROMPT_DIR}/report.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo report --picks-manifests {input.picks} --normalized-manifests {input.normalized}"
        " --rejections {input.rejections} {params.evaluation} {params.compare} {params.extra}"
        " --out-dir {params.out_dir} > {log} 2>&1"

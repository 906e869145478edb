#!/usr/bin/env bash
# The CPU demo (`make demo` runs it after set-up): simulate a small labelled set and a few unseen
# micrographs if they are not there yet, run the whole workflow on 2 cores with config/demo.yaml,
# then say where the results are and how well the picks match the simulator's truth.
#
# Environment: SAMCRYO_VENV (default .venv), CORES (default 2), DEMO_TRAIN (labelled micrographs,
# default 8), DEMO_PICK (unseen micrographs, default 10), DEMO_SNR (per 4 A pixel, default 0.2 =
# about 0.04 per 1 A detector pixel; even an oracle matched filter reaches only F1 0.87 there on
# this three-size sample, 0.70 at 0.1; docs/demo.md explains the choice), DEMO_DIAMETERS (particle types in Angstrom, default "130 160 190": a sample with
# several particle sizes; config/demo.yaml's particle.diameter_A is their range), DEMO_CONFIG (default
# config/demo.yaml; the tests use config/test_tiny.yaml),
# DEMO_COMPARE (the other prompt types run after the configured one on the same data, default
# "prefix encoder finetune none log"; empty = only the configured prompt). Extra arguments go to
# snakemake.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SAMCRYO_VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"
CORES="${CORES:-2}"
DEMO_TRAIN="${DEMO_TRAIN:-8}"
DEMO_PICK="${DEMO_PICK:-10}"
DEMO_SNR="${DEMO_SNR:-0.2}"
DEMO_DIAMETERS="${DEMO_DIAMETERS:-130 160 190}"
DEMO_COMPARE="${DEMO_COMPARE-prefix encoder finetune none log}"
export DEMO_CONFIG="${DEMO_CONFIG:-config/demo.yaml}"
say() { printf '\n== samcryo demo: %s\n' "$*"; }
# the config's variant and prompt: the training log of each run is logs/<variant>/<prompt>/train.log
config_keys=$(python -c "import sys, yaml; c = yaml.safe_load(open(sys.argv[1]))
print(c['model']['variant'], c['prompt'])" "$DEMO_CONFIG")
read -r VARIANT CONFIGURED <<< "$config_keys"

# Snakemake prints each job as it starts and 'N of M steps (x%) done' as it ends; training is the
# one long job, so while it runs its validation lines (step, loss, validation Dice, time left) are shown too.
run_workflow() {  # prompt, snakemake arguments...
  local prompt=$1 rc=0 pid
  shift
  snakemake "$@" &
  pid=$!
  tail --pid="$pid" -n 0 -F "logs/$VARIANT/$prompt/train.log" 2>/dev/null \
    | grep --line-buffered -E '^train: (step|best|stopped)' | sed -u 's/^train: /   [train] /' &
  wait "$pid" || rc=$?
  wait  # the progress follower ends with snakemake
  return "$rc"
}

# 1. data: 1024 x 1024 micrographs at 4 A/px, particles of 130, 160 and 190 A (one random 3-D
#    shape each, never seen by the backbone's pre-training), carbon edges / ice / aggregates as
#    junk; fixed seeds, so every demo run sees the same data. A few seconds.
# The data are simulated again only when these settings change (demo_data/.settings records them).
settings="train=$DEMO_TRAIN pick=$DEMO_PICK snr=$DEMO_SNR diameters=$DEMO_DIAMETERS seeds=1,2"
if [[ ! -d demo_data/train/micrographs || ! -d demo_data/pick/micrographs \
      || "$(cat demo_data/.settings 2>/dev/null)" != "$settings" ]]; then
  say "simulating $DEMO_TRAIN labelled and $DEMO_PICK unseen micrographs (SNR $DEMO_SNR, particles $DEMO_DIAMETERS A) into demo_data/"
  rm -rf demo_data
  # shellcheck disable=SC2086  # DEMO_DIAMETERS is a list of numbers
  samcryo simulate --out-dir demo_data/train --n "$DEMO_TRAIN" --snr "$DEMO_SNR" --seed 1 --prefix train \
    --diameters-A $DEMO_DIAMETERS
  # shellcheck disable=SC2086
  samcryo simulate --out-dir demo_data/pick --n "$DEMO_PICK" --snr "$DEMO_SNR" --seed 2 --prefix pick \
    --diameters-A $DEMO_DIAMETERS
  echo "$settings" > demo_data/.settings
else
  say "reusing demo_data/ ($settings; 'make clean-demo' simulates again)"
fi

# 2. the workflow: ingest -> normalize -> train prompt -> segment -> extract -> export -> evaluate
#    -> QC report. Snakemake prints every job and 'N of M steps (x%) done' as it goes; a second
#    run only redoes what changed.
say "running the workflow (snakemake --cores $CORES --configfile $DEMO_CONFIG)"
t0=$SECONDS
run_workflow "$CONFIGURED" --cores "$CORES" --configfile "$DEMO_CONFIG" "$@"
say "workflow finished in $((SECONDS - t0)) s"

# 3. every other prompt type on the same data: ingest and normalization are reused, only train /
#    segment / extract / export / evaluate / report run again for each (results/<variant>/<prompt>).
times="configured=$((SECONDS - t0))"  # the configured prompt (the Python below names it)
for p in $DEMO_COMPARE; do
  say "prompt '$p' on the same micrographs (snakemake --config prompt=$p)"
  t1=$SECONDS
  if run_workflow "$p" --cores "$CORES" --configfile "$DEMO_CONFIG" --config "prompt=$p" "$@"; then
    times="$times $p=$((SECONDS - t1))"
  else  # the configured prompt's results are complete; say so and go on with the others
    say "prompt '$p' failed (see logs/); the other results are unaffected"
  fi
done
export DEMO_TIMES="$times"

# 4. where things are, and the score against the truth
python - <<'PY'
import json
import os
from pathlib import Path

import yaml

from samcryo_core.workflow.settings import results_dir

cfg = yaml.safe_load(Path(os.environ["DEMO_CONFIG"]).read_text())
variant = cfg["model"]["variant"]
out = Path(results_dir(cfg["prompt"], variant))
rejected = Path("results/ingest/rejected.tsv")
n_rej = max(0, len(rejected.read_text().splitlines()) - 1) if rejected.is_file() else 0
print(f"""
Results ({out}):
  RELION coordinates   {out}/relion/autopick.star  (index; per-micrograph *_autopick.star beside it)
  cryoSPARC            {out}/cryosparc/particles.star
  EMAN .box            {out}/box/
  picks (CSV)          {out}/picks/<micrograph>.csv
  QC report            {out}/qc/summary.html
  rejected inputs      {rejected} ({n_rej} rejected)""")
times: dict[str, str] = {}
for item in os.environ["DEMO_TIMES"].split():
    prompt, seconds = item.split("=")
    times.setdefault(cfg["prompt"] if prompt == "configured" else prompt, seconds)
rows = []
for prompt, seconds in times.items():
    ev = Path(results_dir(prompt, variant)) / "evaluation" / "overall.json"
    if ev.is_file():
        m = json.loads(ev.read_text())["micro"]
        rows.append((prompt, m, seconds))
if rows:
    print("\nAgainst the simulator's truth on the unseen micrographs (evaluation/overall.json):")
    print(f"  {'prompt':<10} {'precision':>9} {'recall':>7} {'F1':>6}   TP / FP / FN     time")
    for prompt, m, seconds in rows:
        star = "  <- the config's prompt" if prompt == cfg["prompt"] else ""
        print(f"  {prompt:<10} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f}"
              f"   {m['tp']} / {m['fp']} / {m['fn']}   {seconds:>4} s{star}")
PY

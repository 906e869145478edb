#!/usr/bin/env bash
# Create (or reuse) the project virtual environment with the verified pins of envs/pins.txt.
#
# A second run is quick: the environment is reused while envs/pins.txt, samcryo_core's
# pyproject.toml and this script are unchanged (a stamp file holds their hash). samcryo_core is
# installed editable, so code changes need no reinstall.
#
# Environment: SAMCRYO_VENV (default .venv), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SAMCRYO_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.samcryo-setup-stamp"
want=$(cat envs/pins.txt samcryo_core/pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)

# `snakemake --profile slurm` / `--profile local` work as typed: install the repository's profiles
# (the source of truth) into the user's Snakemake config folder, keeping any the user changed.
install_profiles() { "$VENV/bin/samcryo" install-profile --keep-existing; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/snakemake" ]]; then
  echo "samcryo setup: environment $VENV is up to date"
  install_profiles
  exit 0
fi

echo "samcryo setup: creating environment $VENV (first run takes a few minutes: PyTorch is large)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c envs/pins.txt \
  torch torchvision segment-anything \
  snakemake snakemake-executor-plugin-slurm \
  -e "./samcryo_core[dev]"
"$VENV/bin/python" - <<'PY'
import torch, torchvision, segment_anything, mrcfile, starfile, skimage, snakemake, cryosparc.dataset  # noqa: F401
print(f"samcryo setup: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"CUDA available: {torch.cuda.is_available()}")
PY
install_profiles
echo "$want" > "$STAMP"
echo "samcryo setup: done"

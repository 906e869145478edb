#!/usr/bin/env bash
# Debian packages some tests need: a real single-node SLURM (slurmctld, slurmd, slurm-client,
# munge), headless Chromium for the report screenshot and RELION (relion_preprocess extracts
# samcryo's exported coordinates in tests/test_relion_client.py). Installed only where missing and only
# when running as root with apt-get (CI, fresh machines); elsewhere the tests that need them say
# so and skip.
set -euo pipefail
pkgs=()
command -v slurmctld >/dev/null 2>&1 || pkgs+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || pkgs+=(slurmd)
command -v sbatch >/dev/null 2>&1 || pkgs+=(slurm-client)
command -v munged >/dev/null 2>&1 || pkgs+=(munge)
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v relion_preprocess >/dev/null 2>&1 || pkgs+=(relion)
if ((${#pkgs[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "samcryo: not root or no apt-get; tests needing ${pkgs[*]} will be skipped" >&2
  exit 0
fi
echo "samcryo: installing Debian packages for the tests: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

#!/usr/bin/env bash
# Run every samcryo benchmark in sequence and leave the results in benchmarks/results/.
#
#   benchmarks/run_all.sh            # everything (about 1.5-2 h on 2 shared CPU cores)
#   QUICK=1 benchmarks/run_all.sh    # accuracy on 2 SNRs without few-shot curves, 1 stage rep
#
# Each benchmark writes JSON (+ CSV/markdown where it has tables); logs go to
# benchmarks/results/tmp/<name>.log (ignored by git). A failing benchmark is reported and the
# others still run; the exit code is the number of failures. docs/benchmarks.md explains the
# numbers and is updated by hand from the JSON files after a run.
#
# Topaz (accuracy comparison) is installed apart from samcryo's environment, once:
#   .venv/bin/pip install --no-deps --target benchmarks/.topaz topaz-em==0.3.20 scikit-learn \
#       tqdm h5py future joblib threadpoolctl narwhals cloudpickle
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOGS=benchmarks/results/tmp
mkdir -p "$LOGS"
failures=0

run() {  # run NAME CMD...: log to $LOGS/NAME.log, report the outcome, never stop the loop
    local name=$1; shift
    local t0=$SECONDS
    echo "== $name: $*"
    if "$@" >"$LOGS/$name.log" 2>&1; then
        echo "   ok in $((SECONDS - t0)) s"
    else
        echo "   FAILED (rc $?) after $((SECONDS - t0)) s, see $LOGS/$name.log"
        failures=$((failures + 1))
    fi
}

if [[ "${QUICK:-0}" == 1 ]]; then
    run accuracy "$PY" benchmarks/bench_accuracy.py --snrs 0.1 0.01 --fewshot-sizes
    run stages "$PY" benchmarks/bench_stages.py --reps 1
else
    run accuracy "$PY" benchmarks/bench_accuracy.py
    run stages "$PY" benchmarks/bench_stages.py --reps 3
    run normalize "$PY" benchmarks/bench_normalize.py
    run model_params "$PY" benchmarks/bench_model_params.py
    run train_infer "$PY" benchmarks/bench_train_infer.py
    run dag "$PY" benchmarks/bench_dag.py
    [[ -f benchmarks/bench_load.py ]] && run load "$PY" benchmarks/bench_load.py
    run live "$PY" benchmarks/bench_live.py --label after
    [[ -f benchmarks/bench_pretraining_gain.py ]] && run pretraining_gain "$PY" benchmarks/bench_pretraining_gain.py
fi
echo "results: benchmarks/results/ ($failures failed)"
exit "$failures"

#!/usr/bin/env bash
# Codec benchmarks: umqtt vs mqttbytes and mqttrs (benches/codec.rs), then the results table
# and chart (scripts/bench_chart.py).
#
#   scripts/bench.sh            full run (about 3 minutes + build): results in docs/bench/
#   scripts/bench.sh --quick    smoke run (under a minute + build): results in target/bench/
#   scripts/bench.sh [--quick] [--out DIR] [-- CRITERION ARGS...]   e.g. -- publish_qos0
#
# Criterion keeps its estimates under target/criterion/<group>/<function>/new/estimates.json;
# bench_chart.py collects them into <out>/estimates.json and writes <out>/results.md and
# <out>/chart.png (installing matplotlib with pip if it is missing). CI only checks that the
# benches compile: `cargo bench --no-run`.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
out=""
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick ;;
        --out) out="$2"; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$mode" = quick ]; then
    # Short warm-up and measurement: enough to catch a broken bench or a gross regression.
    timing=(--warm-up-time 0.1 --measurement-time 0.3 --sample-size 10)
    out=${out:-target/bench}
    label="quick run"
else
    # The bench's own settings: 0.5 s warm-up, 2 s measurement, 30 samples per function.
    timing=()
    out=${out:-docs/bench}
    label="full run"
fi

# Old estimates of benchmarks that no longer exist would end up in the table: start clean.
rm -rf target/criterion

start=$(date +%s)
# The speed-first `perf` feature is what hosts and gateways build with; `scripts/icount.sh`
# compares it with the default (size-first) build.
cargo bench --locked --features perf --bench codec -- "${timing[@]}" "${extra[@]}"
end=$(date +%s)
echo "bench runtime: $((end - start)) s"

python3 scripts/bench_chart.py --criterion-dir target/criterion --out "$out" \
    --label "$label, $((end - start)) s"

#!/usr/bin/env bash
# Codec benchmarks: umqtt against mqttbytes, mqttrs (no std), mqtt-protocol and mqtt-format
# (bench/benches/codec.rs), then the results table (scripts/bench_table.py).
#
#   scripts/bench.sh            full run (about 6 minutes + build): results in docs/bench/
#   scripts/bench.sh --quick    smoke run (about a minute + build): results in target/bench/
#   scripts/bench.sh [--quick] [--out DIR] [-- CRITERION ARGS...]
#
# The bench crate is outside umqtt's package (bench/Cargo.toml), so the peers are built only
# here. Criterion keeps its estimates under bench/target/criterion; bench_table.py collects
# them into <out>/estimates.json and <out>/results.md. CI builds and tests the bench crate
# (`cargo test --manifest-path bench/Cargo.toml`: the five crates agree on every byte) but
# does not time it.
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
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$mode" = quick ]; then
    timing=(--warm-up-time 0.1 --measurement-time 0.3 --sample-size 10)
    out=${out:-target/bench}
    label="quick run"
else
    # The bench's own settings: 0.5 s warm-up, 2 s measurement, 30 samples per function.
    timing=()
    out=${out:-docs/bench}
    label="full run"
fi
label="$label, umqtt default features"

# Old estimates of benchmarks that no longer exist would end up in the table: start clean.
rm -rf bench/target/criterion

start=$(date +%s)
cargo bench --locked --manifest-path bench/Cargo.toml --bench codec -- "${timing[@]}" "${extra[@]}"
end=$(date +%s)
echo "bench runtime: $((end - start)) s"

python3 scripts/bench_table.py --criterion-dir bench/target/criterion --out "$out" \
    --label "$label, $((end - start)) s"

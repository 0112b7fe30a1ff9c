#!/usr/bin/env bash
# Instructions per codec operation, counted by valgrind's callgrind: exact and repeatable
# whatever else the machine is doing (criterion's times on a busy 2-CPU machine vary by
# +-30 %). Uses the workloads of benches/codec.rs (its ICOUNT mode).
#
#   scripts/icount.sh                 default (size-first) build and `perf` build, all crates
#   scripts/icount.sh --features perf only one configuration (cargo bench flags)
#
# Each number is (instructions of 2n runs - instructions of n runs) / n, so the setup cancels;
# it includes the benchmark's black_box and field read, as the criterion numbers do.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
N=2000
OPS=(publish_qos0_1B/decode publish_qos1_64B/decode connect/decode subscribe_4_filters/decode
     pingreq/decode puback/decode publish_qos0_1B/encode publish_qos1_64B/encode
     publish_qos0_1KiB/encode connect/encode subscribe_4_filters/encode pingreq/encode puback/encode)

bench_bin() {
    cargo bench --locked --bench codec --no-run --message-format=json "$@" 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "codec" and m.get("executable"):
        print(m["executable"])'
}

count() { # binary spec n
    ICOUNT=$2 ICOUNT_N=$3 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_op() { # binary spec
    local a b
    a=$(count "$1" "$2" "$N")
    b=$(count "$1" "$2" $((2 * N)))
    echo $(((b - a) / N))
}

if [ $# -gt 0 ]; then configs=("$*"); else configs=("" "--features perf"); fi
for cfg in "${configs[@]}"; do
    # shellcheck disable=SC2086
    bin=$(bench_bin $cfg)
    echo "## umqtt ${cfg:-(default features)}"
    printf '| %-28s | %8s | %8s | %9s |\n' operation umqtt mqttrs mqttbytes
    printf '|%s|%s|%s|%s|\n' "------------------------------" "---------:" "---------:" "----------:"
    for op in "${OPS[@]}"; do
        ours=$(per_op "$bin" "$op/umqtt")
        rs=$(per_op "$bin" "$op/mqttrs")
        mb=$(per_op "$bin" "$op/mqttbytes")
        printf '| %-28s | %8s | %8s | %9s |\n' "$op" "$ours" "$rs" "$mb"
    done
    echo
done

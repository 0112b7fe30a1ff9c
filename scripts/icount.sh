#!/usr/bin/env bash
# Instructions per codec operation, counted by valgrind's callgrind: exact and repeatable
# whatever else the machine is doing (criterion's times on a busy 2-CPU machine vary by
# +-30 %). Uses the workloads of bench/benches/codec.rs (its ICOUNT mode), for umqtt, the
# four peers and memcpy (encode rows).
#
#   scripts/icount.sh                 umqtt's default build (the only one since the `perf`
#                                     feature stopped selecting a second encoder)
#
# Each number is (instructions of 2n runs - instructions of n runs) / n, so the setup cancels.
# It includes the bench's black_box and its read of every field. mqttbytes' decode also
# includes the `BytesMut` copy (allocation + memcpy) it needs per packet, which criterion keeps
# out of its times. '-': mqtt-format 0.4 cannot decode packets of 128 bytes or more.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
N=2000
CRATES=(umqtt mqttbytes mqttrs mqtt-protocol mqtt-format memcpy)
OPS=(publish_qos0_1B/decode publish_qos1_64B/decode publish_qos0_1KiB/decode connect/decode
     subscribe_4_filters/decode pingreq/decode puback/decode
     publish_qos0_1B/encode publish_qos1_64B/encode publish_qos0_1KiB/encode connect/encode
     subscribe_4_filters/encode pingreq/encode puback/encode)

bin=$(cargo bench --locked --manifest-path bench/Cargo.toml --bench codec --no-run --message-format=json "$@" 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "codec" and m.get("executable"):
        print(m["executable"])')

count() { # spec n
    ICOUNT=$1 ICOUNT_N=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_op() { # spec
    local a b
    a=$(count "$1" "$N") || true
    b=$(count "$1" $((2 * N))) || true
    if [ -z "$a" ] || [ -z "$b" ]; then echo -; else echo $(((b - a) / N)); fi
}

echo "## instructions per operation, umqtt ${*:-(default features)}"
printf '| %-28s |' operation; printf ' %13s |' "${CRATES[@]}"; echo
printf '|%s|' "------------------------------"; for _ in "${CRATES[@]}"; do printf '%s|' "--------------:"; done; echo
for op in "${OPS[@]}"; do
    printf '| %-28s |' "$op"
    for c in "${CRATES[@]}"; do
        if [ "$c" = memcpy ] && [[ $op == */decode ]]; then v=""
        elif [ "$c" = mqtt-format ] && [[ $op == */decode ]] && [[ $op == *KiB* ]]; then v=-
        else v=$(per_op "$op/$c"); fi
        printf ' %13s |' "$v"
    done
    echo
done

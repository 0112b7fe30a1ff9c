#!/usr/bin/env bash
# Runs umqtt on an emulated Cortex-M3: builds the firmware in qemu/ (thumbv7m-none-eabi,
# release), boots it in QEMU (lm3s6965evb) with semihosting, decodes its defmt log with
# defmt-print, checks the log, and writes the measured numbers to qemu/results.txt.
#
#   bash scripts/qemu.sh             # the check (what CI runs)
#   bash scripts/qemu.sh --sabotage  # build with one expected byte broken: must FAIL
#
# Installs what is missing: qemu-system-arm (apt), the thumbv7m-none-eabi target (rustup),
# defmt-print 1.x (cargo install). Exits non-zero if QEMU fails, times out, or the log
# lacks an expected line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FW="$ROOT/qemu"
TARGET=thumbv7m-none-eabi
TARGET_DIR="$FW/target"
ELF="$TARGET_DIR/$TARGET/release/umqtt-qemu"
RAW="$TARGET_DIR/qemu-defmt.bin"
LOG="$TARGET_DIR/qemu.log"
RESULTS="$FW/results.txt"
TIMEOUT_S=60

SABOTAGE=0
case "${1:-}" in
    "") ;;
    --sabotage) SABOTAGE=1 ;;
    *) echo "usage: $0 [--sabotage]" >&2; exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nqemu.sh: FAILED: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
t_start=$(now_ms)
export PATH="$HOME/.cargo/bin:$PATH"

# --- tools -------------------------------------------------------------------------------
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    step "installing qemu-system-arm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
    step "adding rust target $TARGET"
    rustup target add "$TARGET"
fi
if ! defmt-print --version 2>/dev/null | grep -q '^defmt-print 1\.'; then
    step "installing defmt-print 1.x (one-time, several minutes)"
    cargo install defmt-print --version '^1' --locked
fi

# --- build -------------------------------------------------------------------------------
# A failed run must not leave the numbers of an earlier one behind.
[ "$SABOTAGE" = 1 ] || rm -f "$RESULTS"
# The linker arguments (-Tlink.x, -Tdefmt.x) live in qemu/.cargo/config.toml as target
# rustflags; a RUSTFLAGS from the environment would replace them, so drop it here.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET
export DEFMT_LOG=info
features=()
[ "$SABOTAGE" = 1 ] && features=(--features sabotage)
step "building the firmware (release${features:+, ${features[*]}})"
t_build=$(now_ms)
(cd "$FW" && cargo build --release --target "$TARGET" --target-dir "$TARGET_DIR" "${features[@]}")
build_ms=$(( $(now_ms) - t_build ))

# --- run ---------------------------------------------------------------------------------
step "running on qemu-system-arm -machine lm3s6965evb -cpu cortex-m3 (timeout ${TIMEOUT_S}s)"
t_run=$(now_ms)
set +e
timeout "$TIMEOUT_S" qemu-system-arm -machine lm3s6965evb -cpu cortex-m3 -nographic \
    -semihosting-config enable=on,target=native -kernel "$ELF" \
    </dev/null >"$RAW" 2>"$TARGET_DIR/qemu.stderr"
status=$?
set -e
run_ms=$(( $(now_ms) - t_run ))
# QEMU's lm3s6965 model reports an unused timer on stderr; anything else is shown.
grep -v 'Timer with period zero, disabling' "$TARGET_DIR/qemu.stderr" >&2 || true

step "defmt log (decoded with defmt-print)"
defmt-print -e "$ELF" <"$RAW" >"$LOG" 2>&1 || true
cat "$LOG"

if [ "$SABOTAGE" = 1 ]; then
    [ "$status" -ne 0 ] || fail "the sabotaged firmware exited 0: a wrong expected byte went unnoticed"
    grep -q 'puback: bytes differ' "$LOG" || fail "the sabotaged byte was not reported in the log"
    grep -q '^ERROR *FAIL: ' "$LOG" || fail "no FAIL line in the sabotaged run"
    printf '\nqemu.sh: sabotage detected as expected (QEMU exit status %s)\n' "$status"
    exit 0
fi

# --- verdict -----------------------------------------------------------------------------
case "$status" in
    0) ;;
    124) fail "QEMU timed out after ${TIMEOUT_S}s" ;;
    *) fail "firmware exited with status $status" ;;
esac
if grep -q '^ERROR' "$LOG"; then
    fail "the log has ERROR lines"
fi
expected=(
    'umqtt firmware on an emulated Cortex-M3 (lm3s6965evb)'
    'codec: 19 vectors over all 14 packet types, 29 malformed, 8 refused: ok'
    'decoded subscribe: Subscribe(Subscribe { packet_id: PacketId(10), topics: [Subscription { filter: TopicFilter("home/+/temp"), qos: AtLeastOnce }, Subscription { filter: TopicFilter("alerts/#"), qos: ExactlyOnce }] })'
    'decoded suback: SubAck(SubAck { packet_id: PacketId(10), codes: [Success(AtLeastOnce), Failure] })'
    'malformed pubrel flags 0000: Err(InvalidFlags { packet_type: PubRel, flags: 0 })'
    'callback #1: Publish { dup: false, delivery: AtMostOnce, retain: false, topic: TopicName("umqtt/in/a"), payload: [65, 48] }'
    'callback #2: Publish { dup: false, delivery: AtLeastOnce(PacketId(258)), retain: false, topic: TopicName("umqtt/in/b"), payload: [66, 49] }'
    'callback #3: Publish { dup: false, delivery: ExactlyOnce(PacketId(2571)), retain: false, topic: TopicName("umqtt/in/c"), payload: [67, 50] }'
    'incoming qos2 dup: client -> PubRec(PacketId(2571))'
    'publish to a wildcard: returned Err(InvalidTopic(WildcardInName))'
    'publish after disconnect: returned Err(Protocol(NotConnected))'
    'incoming pubrel: client -> PubComp(PacketId(2571))'
    'client: scripted session ok (connect, subscribe, qos 0/1/2 out and in, ping, disconnect)'
    'persist: boot 1, empty flash'
    'persist: QoS 2 message sent, no PUBREC; '
    'persist: boot 2, '
    'persist: re-sent with DUP and completed after the reset: exactly once'
    'PASS: '
)
for line in "${expected[@]}"; do
    grep -qF -- "$line" "$LOG" || fail "expected log line missing: $line"
done
if [ "$(grep -c 'callback #' "$LOG")" -ne 3 ]; then
    fail "the message callback did not fire exactly 3 times"
fi
keys=(size_of_mqtt_client size_of_session_8_1024 size_of_packet size_of_publish size_of_connect
    size_of_client_error stack_region_bytes stack_calibration_bytes stack_decode_bytes
    stack_encode_bytes stack_client_call_bytes stack_client_call_deepest stack_codec_phase_bytes
    stack_client_phase_bytes stack_client_phase_logging_bytes stack_peak_bytes)
for k in "${keys[@]}"; do
    grep -q "RESULT $k=" "$LOG" || fail "result $k missing from the log"
done

# --- results -----------------------------------------------------------------------------
# Flash: allocated sections below RAM plus the .data image; RAM: allocated sections in RAM.
flash=""
ram=""
if command -v readelf >/dev/null 2>&1; then
    flash=0
    ram=0
    section='^\[ *[0-9]+\] +([^ ]+) +[A-Z_]+ +([0-9a-f]+) +[0-9a-f]+ +([0-9a-f]+) +[0-9a-f]+ +([A-Z]*) *[0-9]+ +[0-9]+ +[0-9]+$'
    while read -r line; do
        [[ $line =~ $section ]] || continue
        name=${BASH_REMATCH[1]} addr=$((16#${BASH_REMATCH[2]})) size=$((16#${BASH_REMATCH[3]}))
        [[ ${BASH_REMATCH[4]} == *A* ]] || continue
        if [ "$addr" -lt $((0x20000000)) ]; then flash=$((flash + size)); else ram=$((ram + size)); fi
        [ "$name" = .data ] && flash=$((flash + size))
    done < <(readelf -SW "$ELF")
fi
checks=$(sed -n 's/.*PASS: \([0-9]*\) checks.*/\1/p' "$LOG")
{
    echo "# umqtt on QEMU lm3s6965evb (Cortex-M3), thumbv7m-none-eabi, release (opt-level \"s\", LTO)."
    echo "# Written by scripts/qemu.sh. Sizes and stack in bytes; stack_*_call/phase: deepest"
    echo "# stack below the caller (see qemu/README.md); stack_peak_bytes: whole program."
    echo "# $(rustc --version); $(qemu-system-arm --version | head -n1)"
    sed -n 's/^.*RESULT \([a-z0-9_]*=.*\)$/\1/p' "$LOG"
    [ -n "$flash" ] && echo "firmware_flash_bytes=$flash"
    [ -n "$ram" ] && echo "firmware_static_ram_bytes=$ram"
    echo "checks_passed=$checks"
    echo "qemu_run_ms=$run_ms"
} >"$RESULTS"

step "results ($RESULTS)"
cat "$RESULTS"
printf '\nqemu.sh: OK (build %s ms, QEMU run %s ms, total %s ms)\n' \
    "$build_ms" "$run_ms" "$(( $(now_ms) - t_start ))"

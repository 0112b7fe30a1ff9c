#!/usr/bin/env bash
# Flash and RAM cost of umqtt next to mqttrs, minimq and rust-mqtt, measured on
# thumbv7em-none-eabihf (Cortex-M4F). Builds the firmware variants in size/, checks on the
# host that every job really completes, and writes docs/size.md (also printed).
#
#   bash scripts/size.sh            measure and write docs/size.md
#   bash scripts/size.sh --strict   ... and exit 1 if a size target from the issue is missed
#   bash scripts/size.sh --quick    skip the host runs (job checks and host type sizes)
#   bash scripts/size.sh --bloat    also print the largest symbols of the umqtt variants
#
# Needs rustup, cargo and python3 (standard library only: sizes are read straight from the
# ELF files, no binutils). Deeper analysis: size/tools/elfsize.py {top,crates,diff} and
# size/tools/inlined.py (see docs/size.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=thumbv7em-none-eabihf
STRICT=() QUICK=0 BLOAT=0
for arg in "$@"; do
    case $arg in
        --strict) STRICT=(--strict) ;;
        --quick) QUICK=1 ;;
        --bloat) BLOAT=1 ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done

command -v python3 >/dev/null || { echo "size.sh: python3 is required" >&2; exit 1; }
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo "== installing the $TARGET target"
    rustup target add "$TARGET"
fi

cd size
OUT=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
ELF_DIR=$OUT/$TARGET/release
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# One cargo invocation per variant, so no variant's dependency features leak into another.
VARIANTS=(size-empty size-umqtt-codec size-umqtt-codec-any size-umqtt-client size-umqtt-client-store size-umqtt-client-nor size-mqttrs-codec size-minimq-client size-rust-mqtt-client)
REQUIRED=(size-empty size-umqtt-codec size-umqtt-client)
FAILED=()
for pkg in "${VARIANTS[@]}" type-sizes; do
    echo "== building $pkg for $TARGET"
    rm -f "$ELF_DIR/$pkg"
    if ! cargo build --release --target "$TARGET" -p "$pkg" >"$WORK/$pkg.log" 2>&1; then
        tail -n 20 "$WORK/$pkg.log" >&2
        why=$(grep -m1 -E '^error' "$WORK/$pkg.log" | cut -c1-120 || true)
        if [[ " ${REQUIRED[*]} " == *" $pkg "* ]]; then
            echo "size.sh: $pkg does not build" >&2
            exit 1
        fi
        echo "size.sh: $pkg does not build; recorded in the report" >&2
        FAILED+=(--failed "$pkg" "does not build (${why:-see scripts/size.sh output})")
    fi
done

# The ESP32-C3 firmware (examples/esp32c3-smart-home): a whole application, reported as a
# total. Built from its own directory so that its .cargo/config.toml applies.
FIRMWARE=()
ESP_TARGET=riscv32imc-unknown-none-elf
if ! rustup target list --installed 2>/dev/null | grep -qx "$ESP_TARGET"; then
    rustup target add "$ESP_TARGET"
fi
echo "== building the ESP32-C3 smart-home firmware"
ESP_DIR="$ROOT/examples/esp32c3-smart-home"
(cd "$ESP_DIR" && cargo build --release --locked)
FIRMWARE=(--firmware "ESP32-C3 smart home (\`examples/esp32c3-smart-home\`, riscv32imc, opt-level \"s\", Wi-Fi + embassy-net + umqtt shared client)=$ESP_DIR/target/$ESP_TARGET/release/esp32c3-smart-home")

HOST_TYPES=() HOST_CHECKED=()
if [[ $QUICK == 0 ]]; then
    for pkg in "${VARIANTS[@]}"; do
        if [[ -f $ELF_DIR/$pkg ]]; then
            echo "== running $pkg's job on the host"
            cargo run -q -p "$pkg"
        fi
    done
    HOST_CHECKED=(--host-checked)
    echo "== type sizes on the host"
    if cargo run -q -p type-sizes >"$WORK/host-types.tsv"; then
        HOST_TYPES=(--host-types "$WORK/host-types.tsv")
    fi
fi

VERSIONS=$(python3 - <<'PY'
import re
lock = open("Cargo.lock").read()
found = {}
for m in re.finditer(r'name = "([^"]+)"\nversion = "([^"]+)"', lock):
    if m.group(1) in ("mqttrs", "minimq", "rust-mqtt"):
        found[m.group(1)] = m.group(2)
print(", ".join(f"{k} {v}" for k, v in sorted(found.items())))
PY
)
UMQTT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "working tree")

echo
python3 tools/elfsize.py report --elf-dir "$ELF_DIR" --types-elf "$ELF_DIR/type-sizes" \
    "${HOST_TYPES[@]}" "${HOST_CHECKED[@]}" "${FAILED[@]}" "${STRICT[@]}" "${FIRMWARE[@]}" \
    --versions "umqtt at $UMQTT, $VERSIONS" --out "$ROOT/docs/size.md"
echo
echo "wrote docs/size.md"

if [[ $BLOAT == 1 ]]; then
    for pkg in size-umqtt-codec size-umqtt-client; do
        echo
        echo "== $pkg: largest symbols"
        python3 tools/elfsize.py top "$ELF_DIR/$pkg" -n 40
    done
fi

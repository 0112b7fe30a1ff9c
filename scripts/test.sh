#!/usr/bin/env bash
# Full test suite: installs what it needs, then lints, builds for bare metal, and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    step "installing mosquitto"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi
TARGETS=(thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf)
installed=$(rustup target list --installed)
for t in "${TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# --- hygiene -----------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (all targets, all features)"
cargo clippy --locked --all-targets --all-features -- -D warnings
step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --all-features

# --- no_std proof ------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
    step "no_std build for $t"
    cargo build --locked --lib --no-default-features --target "$t"
    cargo build --locked --lib --no-default-features --features defmt,async,shared --target "$t"
done

# --- tests -------------------------------------------------------------------------------
LOG_DIR=target/test-logs
mkdir -p "$LOG_DIR"
step "cargo test (no default features)"
cargo test --locked --no-default-features 2>&1 | tee "$LOG_DIR/no-default.log"
step "cargo test (all features)"
cargo test --locked --all-features 2>&1 | tee "$LOG_DIR/all-features.log"

# --- the crate as published --------------------------------------------------------------
step "cargo package: the published crate builds, and its tests and examples compile from it"
cargo package --locked
PKG_DIR=target/package/umqtt-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The shared target directory keeps the dependencies built by the steps above.
cargo test --all-features --no-run --manifest-path "$PKG_DIR/Cargo.toml" --target-dir target

# --- benchmarks (bench/: a crate of its own, so the peer codecs stay out of umqtt's tests) ----
step "bench crate: fmt, clippy, and the five codecs agree on every byte (not timed)"
cargo fmt --manifest-path bench/Cargo.toml -- --check
cargo clippy --locked --manifest-path bench/Cargo.toml --all-targets -- -D warnings
cargo test --locked --manifest-path bench/Cargo.toml 2>&1 | tee "$LOG_DIR/bench.log"

# --- fuzzing ------------------------------------------------------------------------------
step "fuzz crate lints (stable)"
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
step "fuzz every target for 30 s (nightly, cargo-fuzz)"
bash scripts/fuzz.sh 30

# --- the README demo, against a private mosquitto -------------------------------------------
step "demo (cargo run --features std --example demo)"
cargo run --locked --features std --example demo

# --- on the metal --------------------------------------------------------------------------
step "firmware under QEMU (Cortex-M3, defmt over semihosting)"
bash scripts/qemu.sh
step "flash and RAM against the peer crates (docs/size.md)"
bash scripts/size.sh
step "ESP32-C3 smart-home firmware: format and lints (it is built by size.sh)"
(cd examples/esp32c3-smart-home && cargo fmt --check && cargo clippy --release --locked -- -D warnings)
step "MqttClient over embedded-tls, compile-checked for a bare-metal target"
cargo build --locked --manifest-path examples/embedded_tls/Cargo.toml --target thumbv7em-none-eabihf

# --- summary (the closing line CI reads) --------------------------------------------------------
cat "$LOG_DIR"/*.log | awk '/^test result:/ { p += $4; f += $6; i += $8 }
    END { printf "\nsummary: %d passed, %d failed, %d skipped\n", p, f, i }'

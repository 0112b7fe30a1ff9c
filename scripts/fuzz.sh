#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds (default 30), starting from the curated seeds in
# fuzz/corpus/<target>/ and using fuzz/dictionary.txt. Fails if any target crashes, hangs or
# runs out of memory. See fuzz/README.md.
#
#   scripts/fuzz.sh [seconds] [target...]     e.g. scripts/fuzz.sh 300 decode
#
# The seeds are copied to a temporary corpus, so new inputs found during the run do not end
# up in the repository. A crashing input is saved under fuzz/artifacts/<target>/ (ignored by
# git); the log tells how to reproduce and minimise it.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-30}"
shift || true
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [seconds] [target...]" >&2
    exit 2
fi

step() { printf '\n==> %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------
if ! rustup toolchain list | grep -q '^nightly'; then
    step "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi


step "cargo +nightly fuzz build (${targets[*]})"
(cd fuzz && cargo +nightly fuzz build)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dict="$PWD/fuzz/dictionary.txt"
failed=()
summary=()

for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    mkdir -p "$corpus"
    if [ -d "fuzz/corpus/$t" ]; then
        find "fuzz/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus/" \;
    fi
    seeds=$(find "$corpus" -type f | wc -l)
    step "fuzzing $t for ${secs}s from $seeds seeds"
    log="$work/$t.log"
    start=$(date +%s)
    set +e
    (cd fuzz && cargo +nightly fuzz run "$t" "$corpus" -- \
        -max_total_time="$secs" -dict="$dict" -timeout=10 -print_final_stats=1) >"$log" 2>&1
    status=$?
    set -e
    wall=$(($(date +%s) - start))
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    if [ -n "$done_line" ]; then
        echo "$done_line"
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    if [ "$status" -ne 0 ]; then
        echo "!! $t FAILED (exit $status), last lines of the log:"
        tail -n 60 "$log"
        failed+=("$t")
        summary+=("$t: FAILED after ${wall}s")
    else
        execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log")
        cov=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/p' <<<"$done_line")
        summary+=("$t: ok, ${execs:-?} execs (${rate:-?}/s), ${cov:-no stats}, ${wall}s wall")
    fi
done

step "summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzzing failed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi

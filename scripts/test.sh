#!/usr/bin/env bash
# The project's test command (README.md, .ci/run):
#   formatting, clippy, every test (numpy interop included: skipped without a
#   numpy-capable python unless CI=true, where it is required), a quick
#   no-default-features build, then a fuzz smoke run of every cargo-fuzz target.
#
# Environment:
#   NPZMAP_PYTHON   python with numpy for the interop tests (default python3)
#   CI=true         numpy interop must run (tests fail instead of skipping)
#   FUZZ_SECONDS    seconds per fuzz target (default 30; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
LOG=$(mktemp -t npzmap-test.XXXXXX)
trap 'rm -f "$LOG"' EXIT
TIMES=()
T0=$(date +%s)
PHASE=""
PHASE_START=$T0

phase() {
    local now
    now=$(date +%s)
    if [ -n "$PHASE" ]; then
        TIMES+=("$(printf '%5ss  %s' $((now - PHASE_START)) "$PHASE")")
    fi
    PHASE="$1"
    PHASE_START=$now
    [ -n "$PHASE" ] && printf '\n==> %s\n' "$PHASE"
    return 0
}

phase "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt --all -- --check)

phase "cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings

phase "cargo test --all-features"
cargo test --all-features 2>&1 | tee -a "$LOG"

phase "cargo test --no-default-features --lib"
cargo test --no-default-features --lib 2>&1 | tee -a "$LOG"

if [ "$FUZZ_SECONDS" != 0 ]; then
    if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        FUZZ=(cargo +nightly fuzz)
    else
        # cargo-fuzz needs nightly flags (-Zsanitizer); allow them on stable.
        FUZZ=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
    fi
    phase "cargo fuzz build (all targets)"
    (cd fuzz && "${FUZZ[@]}" build)
    for t in $(cd fuzz && "${FUZZ[@]}" list); do
        phase "fuzz $t (${FUZZ_SECONDS}s)"
        FLOG=$(mktemp -t npzmap-fuzz.XXXXXX)
        if (cd fuzz && "${FUZZ[@]}" run "$t" -- \
            -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10) >"$FLOG" 2>&1; then
            grep -E '^Done [0-9]+ runs' "$FLOG" || tail -n 3 "$FLOG"
            rm -f "$FLOG"
        else
            tail -n 60 "$FLOG"
            echo "fuzz target $t failed (full log: $FLOG)" >&2
            exit 1
        fi
    done
fi
phase ""

printf '\n==> summary\n'
grep -E '^test result:' "$LOG" || { echo "no test results found" >&2; exit 1; }
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } }
     END { printf "ignored tests: %d\ntests: %d passed, %d failed\n", g, p, f }' "$LOG"
printf '%s\n' "${TIMES[@]}"
printf '%5ss  total\n' $(($(date +%s) - T0))

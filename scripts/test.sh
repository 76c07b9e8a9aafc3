#!/usr/bin/env bash
# The project's test command (README.md, .ci/run):
#   formatting, clippy, every test (numpy interop and a stable replay of every
#   fuzz target's committed corpus included), a quick no-default-features
#   build, the Python package (python/: built into the python below with
#   maturin, then its pytest suite), then a fuzz smoke run of every cargo-fuzz
#   target.
#
# It sets up what it needs by itself:
#   - a python with the pinned packages of .ci/requirements.txt for the interop
#     tests: NPZMAP_PYTHON if set, else python3 if it has them all, else a
#     project venv in target/py-venv (made once, in seconds; remade when
#     .ci/requirements.txt changes). Without network the interop tests are
#     skipped with a notice (an error when CI is set).
#   - an S3-compatible server (moto's server mode, from the same python) on
#     127.0.0.1 for the object-storage tests, started here and stopped on
#     exit; without moto those tests are skipped with a notice (an error when
#     CI is set).
#   - without cargo-fuzz, coverage-guided fuzzing is skipped with a notice (an
#     error when CI is set); the corpora still run in tests/fuzz_corpus.rs.
#
# Environment:
#   NPZMAP_PYTHON   python with numpy for the interop tests (default: see above)
#   CI              any non-empty value: interop tools (numpy, mmnpz,
#                   npy-append-array, zip, unzip), the Python package's build
#                   and tests (maturin, pytest) and cargo-fuzz are required
#                   (tests fail instead of skipping)
#   FUZZ_SECONDS    seconds per fuzz target (default 30; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
LOG=$(mktemp -t npzmap-test.XXXXXX)
# What the interop tests ran and skipped (written by tests/common).
export NPZMAP_INTEROP_LOG
NPZMAP_INTEROP_LOG=$(mktemp -t npzmap-interop.XXXXXX)
S3_PID=""
S3_DIR=$(mktemp -d -t npzmap-s3.XXXXXX)
cleanup() {
    if [ -n "$S3_PID" ]; then
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
    fi
    rm -rf "$LOG" "$NPZMAP_INTEROP_LOG" "$S3_DIR"
}
trap cleanup EXIT
TIMES=()
T0=$(date +%s)
PHASE=""
PHASE_START=$T0
FUZZ_NOTE=""

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

# Missing set-up: degrade PROBLEM CONSEQUENCE: an error when CI is set, else
# a notice and the run goes on without it.
degrade() {
    if [ -n "${CI:-}" ]; then
        printf 'error: %s (required when CI is set)\n' "$1" >&2
        exit 1
    fi
    printf 'notice: %s: %s\n' "$1" "$2"
}

REQS=.ci/requirements.txt
VENV=target/py-venv
# Python module names of the pinned packages (npy-append-array -> npy_append_array).
PY_MODULES=$(sed -e 's/#.*//' -e 's/[<>=!~;[ ].*//' "$REQS" | grep . | tr 'A-Z-' 'a-z_' | paste -sd, -)

numpy_version() {
    "$1" -c 'import numpy; print(numpy.__version__)' 2>/dev/null
}

# Sets NPZMAP_PYTHON for the interop tests and says in one line what it did.
setup_python() {
    if [ -n "${NPZMAP_PYTHON:-}" ]; then
        if v=$(numpy_version "$NPZMAP_PYTHON"); then
            echo "python: NPZMAP_PYTHON=$NPZMAP_PYTHON (numpy $v)"
        else
            degrade "NPZMAP_PYTHON=$NPZMAP_PYTHON cannot import numpy" "the numpy interop tests are skipped"
        fi
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        degrade "no python3 found (install python3, or set NPZMAP_PYTHON)" "the numpy interop tests are skipped"
        return 0
    fi
    if python3 -c "import $PY_MODULES" >/dev/null 2>&1; then
        export NPZMAP_PYTHON
        NPZMAP_PYTHON=$(command -v python3)
        echo "python: $NPZMAP_PYTHON has the packages of $REQS (numpy $(numpy_version python3))"
        return 0
    fi
    # A project venv with the pinned packages, made once; the stamp holds
    # the hash of the requirements and the python version it was made with.
    local stamp want t start plog
    stamp="$VENV/.npzmap-requirements"
    want="$({ cat "$REQS"; python3 -c 'import sys; print(sys.version)'; } | cksum)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
        "$VENV/bin/python" -c "import $PY_MODULES" >/dev/null 2>&1; then
        export NPZMAP_PYTHON="$PWD/$VENV/bin/python"
        echo "python: reusing the project venv $VENV (numpy $(numpy_version "$NPZMAP_PYTHON"); python3 has no numpy)"
        return 0
    fi
    start=$(date +%s)
    plog=$(mktemp -t npzmap-venv.XXXXXX)
    rm -rf "$VENV"
    if python3 -m venv "$VENV" >"$plog" 2>&1 &&
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$REQS" >>"$plog" 2>&1 &&
        "$VENV/bin/python" -c "import $PY_MODULES" >>"$plog" 2>&1; then
        printf '%s\n' "$want" >"$stamp"
        rm -f "$plog"
        export NPZMAP_PYTHON="$PWD/$VENV/bin/python"
        t=$(($(date +%s) - start))
        echo "python: python3 has no numpy, so made the project venv $VENV with $REQS in ${t}s (numpy $(numpy_version "$NPZMAP_PYTHON"); reused next time)"
    else
        tail -n 5 "$plog" >&2
        rm -f "$plog"
        degrade "could not make the venv $VENV with $REQS (no network? no python3-venv?)" "the numpy interop tests are skipped; set NPZMAP_PYTHON to a python with numpy to run them"
    fi
}

# Starts the S3-compatible server on loopback (scripts/s3_server.py) and
# exports what the object-storage tests read: AWS_ENDPOINT, credentials,
# NPZMAP_TEST_S3_URL.
start_s3() {
    if [ -z "${NPZMAP_PYTHON:-}" ] || ! "$NPZMAP_PYTHON" -c 'import moto.server, boto3' >/dev/null 2>&1; then
        degrade "no python with moto[server] for the S3 server" "the S3 tests are skipped (object_store's in-memory and local stores still run)"
        return 0
    fi
    "$NPZMAP_PYTHON" scripts/s3_server.py "$S3_DIR/env" >"$S3_DIR/log" 2>&1 &
    S3_PID=$!
    local i
    for i in $(seq 150); do
        [ -f "$S3_DIR/env" ] && break
        if ! kill -0 "$S3_PID" 2>/dev/null; then break; fi
        sleep 0.2
    done
    if [ ! -f "$S3_DIR/env" ]; then
        tail -n 20 "$S3_DIR/log" >&2
        degrade "the S3 server did not start" "the S3 tests are skipped"
        return 0
    fi
    set -a
    # shellcheck disable=SC1091
    . "$S3_DIR/env"
    set +a
    echo "s3: moto server at $AWS_ENDPOINT (pid $S3_PID), bucket URL $NPZMAP_TEST_S3_URL"
}

phase "set-up"
setup_python
start_s3
if [ "$FUZZ_SECONDS" != 0 ] && ! cargo fuzz --version >/dev/null 2>&1; then
    FUZZ_NOTE="coverage-guided fuzzing skipped: cargo-fuzz is not installed (the committed corpora are replayed on stable by tests/fuzz_corpus.rs); to fuzz: cargo install cargo-fuzz and rustup toolchain install nightly, or run .ci/run"
    if [ -n "${CI:-}" ]; then
        degrade "cargo-fuzz is not installed (.ci/run installs it)"
    fi
fi

phase "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt --all -- --check)

phase "cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
# The Python bindings (python/, a workspace member outside the default).
cargo clippy -p npzmap-python --all-targets -- -D warnings

phase "cargo test --all-features"
cargo test --all-features 2>&1 | tee -a "$LOG"

phase "cargo test --no-default-features --lib"
cargo test --no-default-features --lib 2>&1 | tee -a "$LOG"

# The Python package: built (release, abi3) and installed into NPZMAP_PYTHON
# with the pinned maturin (no build isolation: no download), then its pytest
# suite, run from the repository root so that python/npzmap (the sources,
# without the extension) does not shadow the installed package.
PYTEST_NOTE="python package: not built (no python with numpy)"
if [ -n "${NPZMAP_PYTHON:-}" ] && numpy_version "$NPZMAP_PYTHON" >/dev/null; then
    phase "python package: build (maturin, release) and pytest"
    if ! "$NPZMAP_PYTHON" -c 'import maturin, pytest' >/dev/null 2>&1; then
        degrade "$NPZMAP_PYTHON has no maturin or pytest (pip install -r $REQS)" "the Python package is not built or tested"
        PYTEST_NOTE="python package: skipped (no maturin/pytest in $NPZMAP_PYTHON)"
    else
        PLOG=$(mktemp -t npzmap-pip.XXXXXX)
        # The build hook runs the `maturin` executable beside the python.
        if PATH="$(dirname "$NPZMAP_PYTHON"):$PATH" "$NPZMAP_PYTHON" -m pip install \
            --disable-pip-version-check --no-build-isolation \
            --no-deps --force-reinstall ./python >"$PLOG" 2>&1; then
            rm -f "$PLOG"
        else
            tail -n 40 "$PLOG" >&2
            rm -f "$PLOG"
            echo "building the Python package failed" >&2
            exit 1
        fi
        rc=0
        "$NPZMAP_PYTHON" -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee -a "$LOG" || rc=${PIPESTATUS[0]}
        case $rc in
            0) PYTEST_NOTE="python package: $(grep -E '^[0-9]+ passed' "$LOG" | tail -n 1)" ;;
            5) echo "error: pytest collected no tests in python/tests" >&2; exit 1 ;;
            *) echo "error: the Python package's tests failed (pytest exit code $rc)" >&2; exit 1 ;;
        esac
    fi
else
    degrade "no python with numpy for the Python package" "the Python package is not built or tested"
fi

# Without cargo-fuzz, FUZZ_NOTE says so in the summary.
if [ "$FUZZ_SECONDS" != 0 ] && [ -z "$FUZZ_NOTE" ]; then
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
# Interop: how many tests used each tool, and how many skipped for lack of it.
for what in numpy npy_append_array mmnpz zip unzip s3; do
    ran=$(awk -F'\t' -v w="$what" '$1 == "ran" && $2 == w { print $3 }' "$NPZMAP_INTEROP_LOG" | sort -u | wc -l)
    skipped=$(awk -F'\t' -v w="$what" '$1 == "skipped" && $2 == w { print $3 }' "$NPZMAP_INTEROP_LOG" | sort -u | wc -l)
    printf 'interop %-16s %3d tests ran, %d skipped\n' "$what:" "$ran" "$skipped"
done
awk -F'\t' '$1 == "skipped" { printf "  skipped for lack of %s: %s\n", $2, $3 }' "$NPZMAP_INTEROP_LOG" | sort -u
printf 'fuzz corpus replay (stable): %d of %d targets passed\n' \
    "$(grep -cE '^test [a-z_]+_corpus \.\.\. ok$' "$LOG")" "$(ls -d fuzz/corpus/*/ | wc -l)"
echo "$PYTEST_NOTE"
if [ -n "$FUZZ_NOTE" ]; then echo "notice: $FUZZ_NOTE"; fi
printf '%s\n' "${TIMES[@]}"
printf '%5ss  total\n' $(($(date +%s) - T0))

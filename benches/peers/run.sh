#!/usr/bin/env bash
# Side-by-side benchmark of npzmap (the Rust library, issue #7, and the
# Python package, issue #12) against its Python peers.
#
#   benches/peers/run.sh            # full sizes, writes benches/peers/RESULTS.md
#   benches/peers/run.sh --quick    # smaller sizes (smoke run)
#   benches/peers/run.sh --repeat 3 # median of 3 runs of every measurement
#   benches/peers/run.sh --only python  # only the Python package's tasks (issue #12)
#   benches/peers/run.sh --only tools --out benches/peers/RESULTS-tools.md
#                                        # only pack/rewrite/merge vs cat + fsync (issue #14)
#   benches/peers/run.sh --only access --out benches/peers/RESULTS-access.md
#                                        # only open, first/cached access and ls of numpy's archive
#
# Builds what it needs: .bench/venv (numpy 2.x, mmnpz, npy-append-array, the
# pins of .ci/requirements.txt), .bench/venv-mmnpz (numpy<2.3 for mmnpz's
# reader, which uses numpy internals removed in 2.3), the release
# peer_tasks example and the npzmap Python package (installed into both
# venvs). Scratch files go to .bench/scratch (about 5 GiB free space needed
# at full size; about 1.5 GiB with --only python). Extra arguments are passed to compare.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
pipi() { "$1/bin/python" -m pip install --quiet --disable-pip-version-check "${@:2}"; }
if [ ! -x .bench/venv/bin/python ]; then
    "$PY" -m venv .bench/venv
fi
pipi .bench/venv -r .ci/requirements.txt
if [ ! -x .bench/venv-mmnpz/bin/python ]; then
    "$PY" -m venv .bench/venv-mmnpz
fi
MMNPZ_PIN=$(grep -E '^mmnpz==' .ci/requirements.txt || echo mmnpz)
pipi .bench/venv-mmnpz "numpy>=2,<2.3" "$MMNPZ_PIN"

case " $* " in
    *" --only python "*) ;;  # the Python tasks do not use peer_tasks
    *) cargo build --release --example peer_tasks --bin npzmap ;;
esac

# The npzmap Python package (issue #12): one abi3 wheel, built once
# (release), installed into both venvs.
rm -rf .bench/wheels
PATH="$PWD/.bench/venv/bin:$PATH" .bench/venv/bin/python -m pip wheel --quiet \
    --disable-pip-version-check --no-build-isolation --no-deps ./python -w .bench/wheels
for v in .bench/venv .bench/venv-mmnpz; do
    pipi "$v" --force-reinstall --no-deps .bench/wheels/npzmap-*.whl
done

mkdir -p .bench/scratch
# No task does linear algebra: numpy's OpenBLAS threads would only spin
# beside the measured work on this 2-core machine (every Python process,
# npzmap's and the peers', runs with one).
export OPENBLAS_NUM_THREADS=1
exec .bench/venv/bin/python benches/peers/compare.py \
    --bin target/release/examples/peer_tasks \
    --cli target/release/npzmap \
    --python .bench/venv/bin/python \
    --py-mmnpz-read .bench/venv-mmnpz/bin/python \
    --dir .bench/scratch \
    --out benches/peers/RESULTS.md \
    "$@"

#!/usr/bin/env bash
# Checks that the library's modules import only downward, bottom to top:
#   error -> literal, zip -> dtype -> header -> view -> fs, remote -> npy -> npz
# Every `crate::MODULE` path in src/ (outside comments) is checked against the
# layer of the file that uses it. Prints each upward or sideways import and
# exits 1 if there is any. lib.rs (re-exports) and the binary are exempt.
set -euo pipefail
cd "$(dirname "$0")/.."

rank() {
    case "$1" in
        error) echo 0 ;;
        literal | zip) echo 1 ;;
        dtype) echo 2 ;;
        header) echo 3 ;;
        view) echo 4 ;;
        fs | remote) echo 5 ;;
        npy) echo 6 ;;
        npz) echo 7 ;;
        # Crate-root re-exports (lib.rs) count as the module they come from.
        Error | Location | Result) echo 0 ;;
        DType | Element) echo 2 ;;
        Header | Order) echo 3 ;;
        ArrayView | OwnedView) echo 4 ;;
        NpzReader | NpzWriter | ReaderOptions | WriterOptions) echo 7 ;;
        *) echo "" ;;
    esac
}

bad=0
while IFS= read -r file; do
    rel=${file#src/}
    mod=${rel%%/*}
    mod=${mod%.rs}
    [ "$mod" = lib ] && continue
    [ "$mod" = bin ] && continue
    [ "$mod" = unstable ] && continue
    own=$(rank "$mod")
    if [ -z "$own" ]; then
        echo "unknown module $mod ($file): add it to scripts/check_layers.sh"
        bad=1
        continue
    fi
    # Strip comments, then list every `crate::name` used in the file.
    for used in $(sed -e 's://.*$::' "$file" | grep -o 'crate::[A-Za-z_0-9]*' | sed 's/crate:://' | sort -u); do
        [ "$used" = "$mod" ] && continue
        r=$(rank "$used")
        if [ -z "$r" ]; then
            echo "unknown crate path crate::$used in $file: add it to scripts/check_layers.sh"
            bad=1
            continue
        fi
        # A crate-root name of the file's own layer is its own item.
        if [ "$r" = "$own" ] && [[ "$used" =~ ^[A-Z] ]]; then
            continue
        fi
        if [ "$r" -ge "$own" ]; then
            echo "upward or sideways import: $file ($mod) uses crate::$used"
            bad=1
        fi
    done
done < <(find src -name '*.rs' | sort)

if [ "$bad" = 0 ]; then
    echo "layers ok: no upward or sideways import in src/"
fi
exit "$bad"

#!/usr/bin/env bash
# HTML text extraction throughput, lore vs lxml, on the same files in the same run.
#
#   benches/peers-html.sh [folder] [rounds]
#
# folder defaults to $LORE_CORPUS/html (else ~/.cache/lore-corpus/html). Both sides read every
# file into memory first, then parse all of them `rounds` times on one thread and keep the
# best round. lxml only builds the tree and takes all its text (`text_content()`); lore also
# finds the main content, drops navigation and banners, and builds headed blocks and table
# rows, so the comparison favours lxml.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="${LORE_CORPUS:-$HOME/.cache/lore-corpus}"
dir="${1:-$corpus/html}"
rounds="${2:-3}"
venv=target/peers-venv

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check lxml

cargo build --quiet --release --example html_throughput
lore=$(target/release/examples/html_throughput "$dir" "$rounds")

lxml=$("$venv/bin/python" - "$dir" "$rounds" <<'PY'
import pathlib, sys, time
import lxml.html

files = [p.read_bytes() for p in sorted(pathlib.Path(sys.argv[1]).iterdir())
         if p.suffix.lower() in (".html", ".htm")]
best = None
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    for data in files:
        lxml.html.fromstring(data).text_content()
    secs = time.perf_counter() - start
    best = secs if best is None else min(best, secs)
print(f"files={len(files)} seconds={best:.3f} files_per_sec={len(files) / best:.1f}")
PY
)

echo "lore: $lore"
echo "lxml: $lxml"
l=$(sed -E 's/.*files_per_sec=([0-9.]+).*/\1/' <<<"$lore")
x=$(sed -E 's/.*files_per_sec=([0-9.]+).*/\1/' <<<"$lxml")
python3 -c "print(f'lore / lxml: {float($l) / float($x):.2f}')"

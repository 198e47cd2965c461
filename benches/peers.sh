#!/usr/bin/env bash
# PDF text extraction throughput, lore vs PyMuPDF, on the same folder in the same run.
# Both report wall-clock pages/s and pages per CPU-second (the fairer figure on a machine
# shared with other work, and when comparing lore's threads with PyMuPDF's one).
#
#   benches/peers.sh [FOLDER]      (default: $LORE_CORPUS/pdf)
#
# Creates a virtualenv under target/peers-venv with PyMuPDF (once), builds lore's
# `pdf_throughput` example in release, then prints pages/s of both. Both read every file into
# memory before the clock starts and extract the text of every page; lore parses files one
# after the other with each document's pages in parallel, PyMuPDF runs on one thread (it has
# no parallel API), so the machine's core count matters: it is printed too.
set -euo pipefail
cd "$(dirname "$0")/.."

folder="${1:-${LORE_CORPUS:-}/pdf}"
if [[ ! -d "$folder" ]]; then
    echo "usage: benches/peers.sh FOLDER (or set LORE_CORPUS to a folder with pdf/)" >&2
    exit 2
fi

venv=target/peers-venv
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet pymupdf
fi

cargo build --release --quiet --example pdf_throughput

echo "folder: $folder ($(ls "$folder"/*.pdf | wc -l) files), cores: $(nproc)"

"$venv/bin/python" - "$folder" <<'PY'
import pathlib, sys, time
import pymupdf

files = [(p.name, p.read_bytes()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.pdf"))]
best = None
for _ in range(3):
    pages = ok = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for name, data in files:
        try:
            with pymupdf.open(stream=data, filetype="pdf") as doc:
                if doc.needs_pass and not doc.authenticate(""):
                    continue
                for page in doc:
                    page.get_text()
                pages += doc.page_count
                ok += 1
        except Exception:
            pass
    secs = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    if best is None or secs < best[0]:
        best = (secs, pages, ok, cpu)
secs, pages, ok, cpu = best
print(f"pymupdf {pymupdf.VersionBind}: files {len(files)} (parsed {ok}), pages {pages}, "
      f"seconds {secs:.3f}, pages/s {pages / secs:.0f}, cpu seconds {cpu:.3f}, "
      f"pages per cpu-second {pages / cpu:.0f}")
PY

target/release/examples/pdf_throughput "$folder" --repeat 3

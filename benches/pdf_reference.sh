#!/usr/bin/env bash
# pdftotext's text of every PDF of a folder, the referee for tests/pdf_corpus.rs:
#
#   benches/pdf_reference.sh [FOLDER] [OUT]   (default: $LORE_CORPUS/pdf → target/pdf-ref/pdf)
#   LORE_CORPUS=… LORE_PDF_REF=target/pdf-ref/pdf cargo test --release --test pdf_corpus -- --nocapture
#
# Needs poppler-utils (Debian: apt-get install poppler-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-${LORE_CORPUS:-}/pdf}"
out="${2:-target/pdf-ref/pdf}"
command -v pdftotext >/dev/null || { echo "pdftotext not found (apt-get install poppler-utils)" >&2; exit 2; }
mkdir -p "$out"
for f in "$folder"/*.pdf; do
    timeout 120 pdftotext -enc UTF-8 "$f" "$out/$(basename "$f" .pdf).txt" 2>/dev/null || true
done
echo "wrote $(ls "$out" | wc -l) files to $out"

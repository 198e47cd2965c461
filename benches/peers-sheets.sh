#!/usr/bin/env bash
# Spreadsheet parsing throughput, lore vs python-calamine, on the same files in the same run.
#
#   benches/peers-sheets.sh [folder] [rounds]
#
# folder defaults to $LORE_CORPUS/sheets (else ~/.cache/lore-corpus/sheets). Both sides read
# every file into memory first and then parse all of them `rounds` times; rows are lore's
# blocks (data and title rows; header rows are folded into them) and python-calamine's
# non-empty rows of every sheet (header rows included), so the comparison slightly favours
# python-calamine.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="${LORE_CORPUS:-$HOME/.cache/lore-corpus}"
dir="${1:-$corpus/sheets}"
rounds="${2:-5}"
venv=target/peers-venv

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check python-calamine

cargo build --quiet --release --example sheet_throughput
lore=$(target/release/examples/sheet_throughput "$dir" "$rounds")

py=$("$venv/bin/python" - "$dir" "$rounds" <<'PY'
import io, os, sys, time
from python_calamine import CalamineWorkbook

folder, rounds = sys.argv[1], int(sys.argv[2])
exts = (".xlsx", ".xls", ".xlsb", ".ods")
files = []
for name in sorted(os.listdir(folder)):
    if name.lower().endswith(exts):
        with open(os.path.join(folder, name), "rb") as f:
            files.append(f.read())
rows = 0
start = time.perf_counter()
for _ in range(rounds):
    for data in files:
        try:
            wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception:
            continue
        for sheet in wb.sheet_names:
            try:
                values = wb.get_sheet_by_name(sheet).to_python()
            except Exception:
                continue
            rows += sum(1 for r in values if any(c != "" for c in r))
secs = time.perf_counter() - start
print(f"rows={rows} seconds={secs:.3f} rows_per_sec={rows / secs:.0f} files={len(files)}")
PY
)

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
printf '%-16s %10s %10s %14s %6s\n' "parser" "rows" "seconds" "rows/s" "files"
printf '%-16s %10s %10s %14s %6s\n' "lore" "$(field rows "$lore")" "$(field seconds "$lore")" \
    "$(field rows_per_sec "$lore")" "$(field files "$lore")"
printf '%-16s %10s %10s %14s %6s\n' "python-calamine" "$(field rows "$py")" "$(field seconds "$py")" \
    "$(field rows_per_sec "$py")" "$(field files "$py")"

#!/usr/bin/env bash
# Writes the README's lifetime table (between its "lifetime-table" markers), and the boundaries'
# tables after it (between the "boundaries-table" markers in the check section), from the
# measured reports in checks/, with `shmimage check --compare`. Refresh the reports first:
#   shmimage check --json > checks/linux.json                (Linux)
#   shmimage.exe check --json > checks/windows-under-wine.json (Windows, or under Wine)
# tests/it/check.rs fails if the README's table is not what this script writes.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(cargo run --quiet --release -- check --compare checks/linux.json checks/windows-under-wine.json)
python3 - "$table" <<'PY'
import sys
table = sys.argv[1] + "\n"
cut = table.index("#### Limits, measured")
readme = open("README.md", encoding="utf-8").read()
for name, part in (("lifetime-table", table[:cut]), ("boundaries-table", table[cut:])):
    begin, end = f"<!-- {name}: begin -->\n", f"<!-- {name}: end -->"
    start, stop = readme.index(begin) + len(begin), readme.index(end)
    readme = readme[:start] + part + readme[stop:]
open("README.md", "w", encoding="utf-8").write(readme)
PY
echo "README.md: lifetime and boundaries tables written from checks/*.json"

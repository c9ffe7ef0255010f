#!/usr/bin/env bash
# Writes the README's lifetime table (between its "lifetime-table" markers) from the measured
# reports in checks/, with `shmimage check --compare`. Refresh the reports first:
#   shmimage check --json > checks/linux.json                (Linux)
#   shmimage.exe check --json > checks/windows-under-wine.json (Windows, or under Wine)
# tests/it/check.rs fails if the README's table is not what this script writes.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(cargo run --quiet --release -- check --compare checks/linux.json checks/windows-under-wine.json)
python3 - "$table" <<'PY'
import re, sys
readme = open("README.md", encoding="utf-8").read()
begin, end = "<!-- lifetime-table: begin -->\n", "<!-- lifetime-table: end -->"
start, stop = readme.index(begin) + len(begin), readme.index(end)
open("README.md", "w", encoding="utf-8").write(readme[:start] + sys.argv[1] + "\n" + readme[stop:])
PY
echo "README.md: lifetime table written from checks/*.json"

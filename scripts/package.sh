#!/usr/bin/env bash
# Builds release packages into dist/, one per argument:
#   deb          the Debian package (cargo-deb): the binary, the .desktop file and the icon
#   linux-tar    the Linux binary with the .desktop file, the icon and the README
#   windows-zip  shmimage.exe and the README; on Linux cross-built with mingw
#   macos-tar    the macOS binary (signed ad hoc, as Apple Silicon needs) and the README
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(uname -m)
mkdir -p dist
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Packs folder $stage/$1 into dist/$1.tar.gz.
tarball() { tar -czf "dist/$1.tar.gz" -C "$stage" "$1"; }

for package in "$@"; do
  case "$package" in
    deb)
      cargo deb --output dist/
      ;;
    linux-tar)
      cargo build --release
      name="shmimage-$version-$arch-linux"
      mkdir -p "$stage/$name"
      cp "$target_dir/release/shmimage" assets/shmimage.desktop assets/icon.png README.md "$stage/$name/"
      tarball "$name"
      ;;
    windows-zip)
      if [ "$(uname -s)" = Linux ]; then
        source scripts/windows/wine-env.sh
        rustup target add "$target" >/dev/null 2>&1 || rustup target add "$target"
        cargo build --release --target "$target"
        exe="$target_dir/$target/release/shmimage.exe"
      else
        cargo build --release
        exe="$target_dir/release/shmimage.exe"
      fi
      name="shmimage-$version-windows-x86_64"
      mkdir -p "$stage/$name"
      cp "$exe" README.md "$stage/$name/"
      (cd "$stage" && python3 -m zipfile -c "$name.zip" "$name" 2>/dev/null ||
        python -m zipfile -c "$name.zip" "$name")
      mv "$stage/$name.zip" dist/
      ;;
    macos-tar)
      cargo build --release
      name="shmimage-$version-$arch-macos"
      mkdir -p "$stage/$name"
      cp "$target_dir/release/shmimage" README.md "$stage/$name/"
      codesign --force --sign - "$stage/$name/shmimage"
      tarball "$name"
      ;;
    *)
      echo "scripts/package.sh: unknown package \"$package\": deb, linux-tar, windows-zip or macos-tar" >&2
      exit 2
      ;;
  esac
done
ls -l dist

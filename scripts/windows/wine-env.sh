# Sourced by the scripts that run Windows builds under Wine: the cross linker, and a Wine
# prefix of our own that prefers the ProcessPrng shim (Wine 8 lacks ProcessPrng; Rust's std
# needs it) and skips the Mono and Gecko installers, which would otherwise prompt.
target=x86_64-pc-windows-gnu
wine=/usr/lib/wine/wine64
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export WINEARCH=win64
export WINEPREFIX="${WINEPREFIX:-$CARGO_TARGET_DIR/wineprefix}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml="

# Builds the ProcessPrng shim into folder $1.
build_prng_shim() {
  mkdir -p "$1"
  x86_64-w64-mingw32-gcc -shared -O2 -o "$1/bcryptprimitives.dll" \
    scripts/windows/bcryptprimitives.c -ladvapi32
}

#!/bin/sh
# Installs the dist build (cmake/build-dist.sh) into a prefix (toolchain.md §8):
#   bin/gradus  lib/libgradus.so.<version> (+ .so.<ABI>, .so links)  include/gradus.h
#   lib/cmake/Gradus/{GradusConfig,GradusConfigVersion}.cmake  lib/pkgconfig/gradus.pc
# Usage: cmake/install.sh PREFIX [scratch-path]. Everything installed is relocatable (no absolute paths inside).
set -eu
[ $# -ge 1 ] || { echo "usage: cmake/install.sh PREFIX [scratch-path]" >&2; exit 2; }
prefix=$1
cd "$(dirname "$0")/.."
scratch=${2:-.build-dist}
hdr=include/gradus.h
v() { sed -n "s/^#define GRADUS_$1 \\([0-9][0-9]*\\).*/\\1/p" "$hdr"; }
version="$(v VERSION_MAJOR).$(v VERSION_MINOR).$(v VERSION_PATCH)"
abi=$(v ABI_VERSION)
lib="$scratch/release/libgradus.so"
cli="$scratch/release/gradus-cli"
for f in "$lib" "$cli"; do [ -f "$f" ] || { echo "install: $f missing; run cmake/build-dist.sh (make dist)" >&2; exit 1; }; done

mkdir -p "$prefix/bin" "$prefix/include" "$prefix/lib/cmake/Gradus" "$prefix/lib/pkgconfig"
install -m 755 "$cli" "$prefix/bin/gradus"
install -m 755 "$lib" "$prefix/lib/libgradus.so.$version"
strip --strip-unneeded "$prefix/lib/libgradus.so.$version" 2>/dev/null || true
ln -sf "libgradus.so.$version" "$prefix/lib/libgradus.so.$abi"
ln -sf "libgradus.so.$abi" "$prefix/lib/libgradus.so"
install -m 644 "$hdr" "$prefix/include/gradus.h"
install -m 644 cmake/GradusConfig.cmake cmake/GradusConfigVersion.cmake "$prefix/lib/cmake/Gradus/"
sed -e "s/@GRADUS_VERSION@/$version/g" cmake/gradus.pc.in > "$prefix/lib/pkgconfig/gradus.pc"
echo "install: gradus $version (ABI $abi) -> $prefix"

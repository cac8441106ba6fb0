#!/bin/sh
# Builds what `make install` ships (toolchain.md §4):
#   <scratch>/release/libgradus.so  static Swift runtime, SONAME libgradus.so.<ABI>, exports exactly gradus_*
#   <scratch>/release/gradus-cli    the command-line tool (installed as bin/gradus), static Swift runtime
# Usage: cmake/build-dist.sh [scratch-path]   (default .build-dist; env GRADUS_CPU=x86-64-v3 for an AVX2 build)
# The -Xswiftc flags are identical for both products, so the second build reuses every compiled module and
# only links; the linker flags (soname, version script) are given to the library link only.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=${1:-.build-dist}
abi=$(sed -n 's/^#define GRADUS_ABI_VERSION \([0-9][0-9]*\).*/\1/p' include/gradus.h)
[ -n "$abi" ] || { echo "build-dist: cannot read GRADUS_ABI_VERSION from include/gradus.h" >&2; exit 1; }

set -- -c release --scratch-path "$scratch" -Xswiftc -static-stdlib -Xswiftc -no-toolchain-stdlib-rpath
if [ -n "${GRADUS_CPU:-}" ]; then set -- "$@" -Xcc "-march=$GRADUS_CPU"; fi

swift build "$@" --product gradus \
  -Xlinker "--version-script=$root/cmake/gradus.map" -Xlinker "-soname=libgradus.so.$abi"
swift build "$@" --product gradus-cli
echo "build-dist: $scratch/release/libgradus.so (SONAME libgradus.so.$abi) and $scratch/release/gradus-cli"

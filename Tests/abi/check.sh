#!/bin/sh
# ABI checks (toolchain.md §2 and §4). Usage: Tests/abi/check.sh LIBGRADUS_SO GENERATED_GradusC-Swift.h
#   - gradus.h compiles alone as C99 and C++11 with -Wall -Wextra -pedantic -Werror (gcc, clang, g++, clang++)
#   - the Swift-generated header compiles together with gradus.h (clang -Werror): no conflicting prototypes
#   - the library: SONAME libgradus.so.<ABI>, no libswift* dependency, no toolchain RUNPATH
#   - Tests/abi/abi.py check: frozen symbols/constants/structs, header == exports, coverage by the tests
set -eu
cd "$(dirname "$0")/../.."
lib=${1:?usage: check.sh LIB GENERATED_HEADER}
gen=${2:?usage: check.sh LIB GENERATED_HEADER}
fail=0
warnflags="-Wall -Wextra -pedantic -Werror"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include "gradus.h"\nint main(void) { return gradus_abi_version() == GRADUS_ABI_VERSION ? 0 : 1; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cpp"

try() { # description, command...
  d=$1; shift
  if "$@" > "$tmp/log" 2>&1; then echo "abi: ok   $d"; else echo "abi: FAIL $d"; cat "$tmp/log"; fail=1; fi
}
for cc in gcc clang; do
  command -v $cc >/dev/null && try "$cc -std=c99 gradus.h" $cc -std=c99 $warnflags -Iinclude -fsyntax-only "$tmp/h.c"
done
for cxx in g++ clang++; do
  command -v $cxx >/dev/null && try "$cxx -std=c++11 gradus.h" $cxx -x c++ -std=c++11 $warnflags -Iinclude -fsyntax-only "$tmp/h.cpp"
done
try "generated GradusC-Swift.h against gradus.h" \
  clang -fsyntax-only -x c -Werror -Iinclude -ISources/_GradusShims/include "$gen"

abi=$(sed -n 's/^#define GRADUS_ABI_VERSION \([0-9][0-9]*\).*/\1/p' include/gradus.h)
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libgradus.so.$abi" ]; then echo "abi: ok   SONAME $soname"; else echo "abi: FAIL SONAME is '$soname', want libgradus.so.$abi"; fail=1; fi
if readelf -d "$lib" | grep -q 'NEEDED.*libswift'; then echo "abi: FAIL $lib needs libswift* (build with -static-stdlib)"; fail=1
else echo "abi: ok   no libswift* dependency"; fi
if readelf -d "$lib" | grep -E 'R(UN)?PATH' | grep -q '/swift'; then echo "abi: FAIL $lib has a toolchain RUNPATH"; fail=1
else echo "abi: ok   no toolchain RUNPATH"; fi

python3 Tests/abi/abi.py check include/gradus.h "$lib" "$gen" || fail=1
exit $fail

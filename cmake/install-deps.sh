#!/bin/sh
# Installs what `make test` / `make demo` need on Debian 12, skipping what is present:
#   apt:  libopenblas-dev libnuma-dev zlib1g-dev python3-dev cmake pkg-config dataset-fashion-mnist
#   PyPI: numpy pytest safetensors (for the python3 on PATH; pyenv or Debian's, --break-system-packages if needed)
# As root directly, otherwise through sudo. Set GRADUS_SKIP_DEPS=1 to skip entirely.
set -eu
[ "${GRADUS_SKIP_DEPS:-0}" = 1 ] && exit 0
python=${PYTHON:-python3}

if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else sudo="none"; fi

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in libopenblas-dev libnuma-dev zlib1g-dev python3-dev cmake pkg-config dataset-fashion-mnist; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if ! "$python" -m pip --version >/dev/null 2>&1; then missing="$missing python3-pip"; fi
if [ -n "$missing" ]; then
  if [ "$sudo" = none ]; then
    echo "install-deps: missing Debian packages:$missing (need root or sudo)" >&2; exit 1
  fi
  echo "install-deps: apt-get install$missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

pymissing=""
for m in numpy pytest safetensors; do
  "$python" -c "import $m" 2>/dev/null || pymissing="$pymissing $m"
done
if [ -n "$pymissing" ]; then
  echo "install-deps: pip install$pymissing"
  # A pyenv/venv python installs for the user who owns it; Debian's system python needs root and
  # --break-system-packages (PEP 668).
  if "$python" -m pip install -q $pymissing 2>/dev/null; then :
  elif [ "$sudo" != none ] && $sudo "$python" -m pip install -q --break-system-packages $pymissing; then :
  else "$python" -m pip install -q --user --break-system-packages $pymissing
  fi
fi

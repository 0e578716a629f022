#!/usr/bin/env bash
# Installs the wheel built by `make wheel` into a fresh venv, from binaries only (numpy from
# PyPI; nothing is compiled, no -dev package is used), checks that every shared library the
# extension needs is bundled or a base-system one, and runs the real-model corpus with it.
# Needs PyPI access: run by `make test-wheel`, not by `make test`.
#   tools/wheel_test.sh [WHEEL] [CORPUS]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WHEEL=${1:-$(ls "$REPO"/dist/recur-*manylinux*.whl 2>/dev/null | head -1)}
CORPUS=${2:-$REPO/../shared/models/real}
PYTHON=${PYTHON:-python3}
[ -f "$WHEEL" ] || { echo "no wheel (run make wheel first)" >&2; exit 1; }
[ -d "$CORPUS" ] || { echo "no corpus at $CORPUS" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/venv"
# No compiler on PATH for the install: a source build would fail instead of passing silently.
PATH="$WORK/venv/bin:/usr/bin:/bin" CC=false CXX=false \
  "$WORK/venv/bin/pip" install -q --only-binary=:all: "$WHEEL"
cd "$WORK"  # outside the checkout: the installed package, not python/recur
core=$("$WORK/venv/bin/python" -c 'import recur._core as c; print(c.__file__)')
echo "extension: $core"
# Every dependency resolves inside the wheel (recur.libs) or to a library manylinux allows
# (glibc, libstdc++, libgcc, zlib).
missing=$(ldd "$core" | awk '/=>/ {print $1, $3}' | grep -vE 'recur\.libs/|/(libc|libm|libstdc\+\+|libgcc_s|libz|libpthread|libdl|librt|ld-linux[^ ]*)\.so' || true)
if [ -n "$missing" ]; then
  echo "libraries not bundled in the wheel:" >&2
  echo "$missing" >&2
  exit 1
fi
"$WORK/venv/bin/python" "$REPO/tools/wheel_corpus.py" "$CORPUS"

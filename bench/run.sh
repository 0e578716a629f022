#!/usr/bin/env bash
# `make bench`: recur against oneDNN (in process, C++) and OpenVINO / ONNX Runtime / PyTorch
# (Python APIs, in .venv-bench), one table with ratios (docs/PERFORMANCE.md).
# Arguments go to recur-bench and peers.py: --shapes, --cells, --threads, --budget S | --full.
# BUILD (default build) is the CMake build folder; BENCH_PEERS limits the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/bench
PEERS=${BENCH_PEERS:-onednn,openvino,onnxruntime,torch}
mkdir -p "$OUT"

# oneDNN (Debian's libdnnl-dev): installed when missing, then recur-bench is rebuilt with it.
if [[ ",$PEERS," == *,onednn,* ]] && ! dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing libdnnl-dev (oneDNN peer)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev >&2
    cmake -S . -B "$BUILD" >/dev/null
  else
    echo "libdnnl-dev missing and not root: oneDNN peer skipped" >&2
  fi
fi
cmake --build "$BUILD" -j "$(nproc)" --target recur_bench >/dev/null

# Python peers: a venv with the PyPI wheels, created when missing (torch is optional: large).
VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import numpy, onnx" 2>/dev/null; then
  echo "creating $VENV (numpy, onnx, onnxruntime, openvino, torch)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy onnx onnxruntime openvino >&2
  "$VENV/bin/pip" install -q torch >&2 || echo "torch not installed: torch peer skipped" >&2
fi

args=()
peer_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shapes|--cells) args+=("$1" "$2"); shift 2 ;;
    --threads|--budget) args+=("$1" "$2"); peer_args+=("$1" "$2"); shift 2 ;;
    --full) args+=(--budget 1); peer_args+=(--budget 1); shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

rm -rf "$OUT/data"
echo "== recur and oneDNN (in process)"
"./$BUILD/recur-bench" --peers "$PEERS" --export "$OUT/data" --json "$OUT/cpp.json" "${args[@]}"
echo "== Python peers"
"$VENV/bin/python" bench/peers.py "$OUT/data" --peers "$PEERS" --json "$OUT/py.json" \
  "${peer_args[@]}" || echo "peers.py failed: table without the Python peers" >&2
[ -f "$OUT/py.json" ] || echo "[]" > "$OUT/py.json"
echo "== Table"
python3 bench/merge.py "$OUT/cpp.json" "$OUT/py.json" --markdown "$OUT/table.md"
echo "(table also in $OUT/table.md, rows in $OUT/cpp.json and $OUT/py.json)"

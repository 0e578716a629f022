#!/usr/bin/env bash
# `make bench`: recur against oneDNN (C++, its own process), OpenVINO / ONNX Runtime / PyTorch
# (Python APIs, in .venv-bench) and Keras 3 on TensorFlow and on OpenVINO (one .keras file per
# case, in .venv-keras), one table with ratios and errors (docs/PERFORMANCE.md).
# Arguments go to recur-bench and the peers: --shapes, --cells, --threads, --budget S | --full,
# --bf16, --int8 (recur-bench also times recur with bf16 or int8 weights).
# BUILD (default build) is the CMake build folder; BENCH_PEERS limits the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/bench
PEERS=${BENCH_PEERS:-onednn,openvino,onnxruntime,torch,keras_tf,keras_ov,keras_ov_f32}
wants() { [[ ",$PEERS," == *,$1,* ]]; }
mkdir -p "$OUT"

# oneDNN (Debian's libdnnl-dev): installed when missing, then recur-bench is rebuilt with it.
if wants onednn && ! dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing libdnnl-dev (oneDNN peer)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev >&2
    cmake -S . -B "$BUILD" >/dev/null
  else
    echo "libdnnl-dev missing and not root: oneDNN peer skipped" >&2
  fi
fi
# recur (the CLI) checks that it reads the Keras peers' .keras files as recur-bench's reference.
cmake --build "$BUILD" -j "$(nproc)" --target recur_bench recur_cli >/dev/null

# Python peers: a venv with the PyPI wheels, created when missing (torch is optional: large).
VENV=.venv-bench
if (wants openvino || wants onnxruntime || wants torch) &&
   { [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import numpy, onnx" 2>/dev/null; }; then
  echo "creating $VENV (numpy, onnx, onnxruntime, openvino)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy onnx onnxruntime openvino >&2
fi
if wants torch && ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/pip" install -q torch >&2 || echo "torch not installed: torch peer skipped" >&2
fi

# Keras peers: their own venv, pinned (bench/keras_venv.sh).
KVENV=.venv-keras
if wants keras_tf || wants keras_ov || wants keras_ov_f32; then
  KVENV=$KVENV bash bench/keras_venv.sh
fi

args=()
peer_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shapes|--cells) args+=("$1" "$2"); shift 2 ;;
    --threads|--budget) args+=("$1" "$2"); peer_args+=("$1" "$2"); shift 2 ;;
    --full) args+=(--budget 1); peer_args+=(--budget 1); shift ;;
    --bf16) args+=(--bf16); shift ;;
    --int8) args+=(--int8); shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

rm -rf "$OUT/data"
# recur and oneDNN in separate processes: in one, each engine's idle threads spin on the cores
# the other is timed on (oneDNN's OpenMP team, recur's pool), which slowed recur's 2-thread S3
# LSTM 1.2x on the 2-vCPU machine (docs/PERFORMANCE.md).
echo "== recur"
"./$BUILD/recur-bench" --peers none --export "$OUT/data" --json "$OUT/cpp.json" "${args[@]}"
rm -f "$OUT/onednn.json" "$OUT/py.json" "$OUT/keras.json"
if wants onednn; then
  echo "== oneDNN (C++, its own process)"
  "./$BUILD/recur-bench" --peers onednn --peers-only --json "$OUT/onednn.json" "${args[@]}"
fi
if wants openvino || wants onnxruntime || wants torch; then
  echo "== Python peers"
  "$VENV/bin/python" bench/peers.py "$OUT/data" --peers "$PEERS" --json "$OUT/py.json" \
    "${peer_args[@]}" || echo "peers.py failed: table without the Python peers" >&2
fi
if wants keras_tf || wants keras_ov || wants keras_ov_f32; then
  echo "== Keras peers (one .keras file per case, written by Keras)"
  if [ -x "$KVENV/bin/python" ]; then
    "$KVENV/bin/python" bench/keras_peers.py "$OUT/data" --peers "$PEERS" --recur "./$BUILD/recur" \
      --json "$OUT/keras.json" "${peer_args[@]}" || echo "keras_peers.py failed: table without Keras" >&2
  else
    echo "no $KVENV: Keras peers skipped" >&2
  fi
fi
for f in onednn py keras; do [ -f "$OUT/$f.json" ] || echo "[]" > "$OUT/$f.json"; done
echo "== Table"
python3 bench/merge.py "$OUT/cpp.json" "$OUT/onednn.json" "$OUT/py.json" "$OUT/keras.json" \
  --markdown "$OUT/table.md"
echo "(table also in $OUT/table.md, rows in $OUT/{cpp,onednn,py,keras}.json)"

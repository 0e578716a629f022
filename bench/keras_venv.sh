#!/usr/bin/env bash
# The Keras peers' venv (.venv-keras), created when missing or incomplete, pinned: Keras 3.15.1
# on TensorFlow 2.21 (CPU) and on OpenVINO (Keras' OpenVINO backend also needs scipy), and
# tf_keras 2.21 (Keras 2, for legacy .h5 files Keras 3 refuses; --no-deps: its dependency on
# the full tensorflow wheel is met by tensorflow-cpu).
# Used by bench/run.sh and `make bench-models`; a failed install only leaves the Keras peers out.
set -uo pipefail
cd "$(dirname "$0")/.."
KVENV=${KVENV:-.venv-keras}
PINS="keras==3.15.1 tensorflow-cpu==2.21.0 openvino==2026.4.1 scipy==1.17.1"
if ! "$KVENV/bin/python" -c "import keras, tensorflow, openvino, scipy, tf_keras" 2>/dev/null; then
  echo "creating $KVENV ($PINS tf_keras==2.21.0)" >&2
  { python3 -m venv "$KVENV" && "$KVENV/bin/pip" install -q $PINS >&2 &&
    "$KVENV/bin/pip" install -q --no-deps tf_keras==2.21.0 >&2; } ||
    echo "$KVENV incomplete: the Keras peers may be skipped" >&2
fi

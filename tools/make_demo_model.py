#!/usr/bin/env python3
"""Train and write the demo model in examples/demo/: next-value forecast of a noisy sine wave.

A small Keras 3 model, Input(24, 1) -> LSTM(16) -> Dense(1), learns to predict the next sample
of a noisy sine wave (period 25 samples, Gaussian noise sigma 0.1) from the previous 24
samples. Training takes a few seconds on a CPU and is deterministic (fixed seeds, TensorFlow op
determinism, one thread).

Writes examples/demo/: model.keras, input.npy (6 windows, float32 (6, 24, 1)), expected.npy
(Keras' predictions, float32 (6, 1)), target.npy (the true next samples, float32 (6, 1)) and
README.md. Run from the repository root:
    /work/venv/bin/python tools/make_demo_model.py
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_model_fixtures import normalize_keras_zip  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "demo"
SEED = 2024
WINDOW = 24
PERIOD = 25.0
NOISE = 0.1
N_SAMPLES = 1200
N_TRAIN = 900          # windows whose target index is < N_TRAIN train the model
EPOCHS = 12
SHOW = 6               # windows written to input.npy


def make_series(rng):
    t = np.arange(N_SAMPLES, dtype=np.float64)
    return (np.sin(2 * np.pi * t / PERIOD) + rng.normal(0.0, NOISE, N_SAMPLES)).astype(np.float32)


def windows(series, start, stop):
    """Windows series[i-24:i] -> target series[i] for i in [start, stop)."""
    idx = np.arange(max(start, WINDOW), stop)
    x = np.stack([series[i - WINDOW:i] for i in idx])[..., None]
    return x.astype(np.float32), series[idx][:, None].astype(np.float32)


def main():
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    series = make_series(rng)
    x_train, y_train = windows(series, 0, N_TRAIN)
    x_test, y_test = windows(series, N_TRAIN, N_SAMPLES)

    model = keras.Sequential([
        keras.Input(shape=(WINDOW, 1), name="window"),
        L.LSTM(16, name="lstm"),
        L.Dense(1, name="next_value"),
    ], name="sine_forecaster")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, shuffle=True, verbose=0)

    pred_test = model.predict(x_test, verbose=0)
    mse_model = float(np.mean((pred_test - y_test) ** 2))
    mse_last = float(np.mean((x_test[:, -1, :] - y_test) ** 2))   # "repeat the last value"
    mse_noise = NOISE ** 2                                          # the best any model can do

    pick = np.linspace(0, len(x_test) - 1, SHOW).astype(int)
    x_show, y_show = x_test[pick], y_test[pick]
    expected = model.predict(x_show, verbose=0).astype(np.float32)

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "model.keras"
    model.save(str(path))
    normalize_keras_zip(path)
    np.save(OUT / "input.npy", x_show)
    np.save(OUT / "expected.npy", expected)
    np.save(OUT / "target.npy", y_show)

    reloaded = keras.models.load_model(str(path), compile=False)
    again = np.asarray(reloaded(x_show, training=False))
    if not np.allclose(again, expected, atol=1e-6, rtol=1e-6):
        raise SystemExit("reloaded model does not reproduce expected.npy")

    rows = "\n".join(
        f"| {i} | {float(x_show[i, -1, 0]):+.4f} | {float(expected[i, 0]):+.4f} | "
        f"{float(y_show[i, 0]):+.4f} |" for i in range(SHOW))
    readme = f"""# Demo model: next-value forecast of a noisy sine wave

`model.keras` is a small Keras {keras.__version__} model trained (on the CPU, in a few seconds) to
forecast the next sample of a noisy sine wave from the previous {WINDOW} samples:

```
Input(shape=({WINDOW}, 1)) -> LSTM(16) -> Dense(1)
series[t] = sin(2*pi*t / {PERIOD:g}) + noise,  noise ~ N(0, {NOISE}^2)
```

Files:
- `model.keras`: the trained model (Keras 3 `.keras` zip, Sequential,
  {model.count_params():,} weights), saved as trained, so like users' files it also holds the
  compile config and the Adam optimizer's state (`optimizer/vars` in `model.weights.h5`).
- `input.npy`: float32 `({SHOW}, {WINDOW}, 1)`, {SHOW} windows from the held-out part of the series.
- `expected.npy`: float32 `({SHOW}, 1)`, Keras' predictions for them (`model.predict`); recur
  should reproduce them within atol = rtol = 1e-5.
- `target.npy`: float32 `({SHOW}, 1)`, the true next samples (noisy), for comparison.

Held-out mean squared error over {len(x_test)} windows: model {mse_model:.4f}; repeating the last
value {mse_last:.4f}; the noise floor (variance of the noise) {mse_noise:.4f}.

| window | last input | predicted next | true next |
|---|---|---|---|
{rows}

Made by `tools/make_demo_model.py` (run from the repository root with the Python environment
of `tools/requirements.txt`): seed {SEED}, {N_SAMPLES} samples, windows whose target index is
below {N_TRAIN} train the model (Adam, learning rate 0.01, {EPOCHS} epochs, batch 32, MSE), the
rest are held out. Training is deterministic (fixed seeds, TensorFlow op determinism, one
thread) and the `.keras` zip is normalised (fixed member timestamps, `date_saved` and
`shared_object_id` numbers), so rerunning the script with the pinned versions rewrites the same
files.
"""
    (OUT / "README.md").write_text(readme)
    print(f"wrote {OUT}: held-out MSE model {mse_model:.4f}, last-value {mse_last:.4f}, "
          f"noise floor {mse_noise:.4f}")


if __name__ == "__main__":
    main()

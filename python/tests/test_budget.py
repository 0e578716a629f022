"""Load budgets from Python (issue 15): load_model(path, max_weight_bytes=..., max_activation_bytes=...)
bound one model; errors name the limit, the option and the environment variable."""
import json
import zipfile

import numpy as np
import pytest

import recur
from conftest import REPO

BASE = REPO / "tests" / "hostile" / "files" / "base.keras"


def with_upsampling(tmp_path, size):
    """base.keras (Input (None, 6, 4) -> LSTM -> TimeDistributed(Dense)) with UpSampling1D(size)
    after its input: one batch row of its output is 6 * size * 4 float32."""
    src = zipfile.ZipFile(BASE)
    config = json.loads(src.read("config.json"))
    config["config"]["layers"].insert(1, {"module": "keras.layers", "class_name": "UpSampling1D",
                                          "config": {"name": "up", "size": size}})
    path = tmp_path / "up.keras"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("metadata.json", src.read("metadata.json"))
        out.writestr("config.json", json.dumps(config))
        out.writestr("model.weights.h5", src.read("model.weights.h5"))
    return path


def test_weight_budget():
    with pytest.raises(recur.InvalidModelError) as e:
        recur.load_model(BASE, max_weight_bytes=512)
    msg = str(e.value)
    assert "over the limit of 512 bytes" in msg
    assert "max_weight_bytes: a load option, or RECUR_MAX_WEIGHT_BYTES" in msg
    assert recur.load_model(BASE, max_weight_bytes=1 << 20).file.endswith("base.keras")
    with pytest.raises(recur.InvalidModelError, match="max_weight_bytes"):
        recur.shared_model(BASE, max_weight_bytes=512)


def test_activation_budget_at_load_and_at_run(tmp_path):
    path = with_upsampling(tmp_path, 1000)  # 96 000 bytes a batch row
    with pytest.raises(recur.InvalidModelError) as e:
        recur.load_model(path, max_activation_bytes=50_000)
    msg = str(e.value)
    assert "layer 'up'" in msg and "limit of 50000 bytes" in msg
    assert "max_activation_bytes: a load option, or RECUR_MAX_ACTIVATION_BYTES" in msg
    model = recur.load_model(path, max_activation_bytes=200_000)
    assert model.predict(np.zeros((2, 6, 4), np.float32)).shape == (2, 6000, 3)
    with pytest.raises(recur.InvalidInputError, match="max_activation_bytes"):
        model.predict(np.zeros((3, 6, 4), np.float32))


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_bad_budget_values(value):
    with pytest.raises(ValueError, match="max_weight_bytes must be a positive integer"):
        recur.load_model(BASE, max_weight_bytes=value)

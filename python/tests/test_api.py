"""The Python API: inputs as Keras takes them, errors as the CLI words them, streams, threads."""
import shutil
import subprocess
import threading

import numpy as np
import pytest

import recur
from conftest import DEMO, FIXTURES, REPO

SEQ_MODEL = FIXTURES / "models" / "k3-lstm-timedistributed" / "model.keras"  # (None, 6, 4) -> (None, 6, 3)


@pytest.fixture(scope="module")
def demo():
    return recur.load_model(DEMO / "model.keras")


@pytest.fixture(scope="module")
def demo_x():
    return np.load(DEMO / "input.npy")


def test_inputs_outputs_and_summary(demo, cli):
    assert demo.inputs == [recur.TensorSpec("window", (None, 24, 1))]
    assert demo.outputs == [recur.TensorSpec("next_value", (None, 1))]
    assert [layer["class_name"] for layer in demo.layers] == ["LSTM", "Dense"]
    assert demo.layers[0]["path"] == "fused lstm"
    lines = []
    demo.summary(print_fn=lines.append)
    inspect = subprocess.run([cli, "inspect", DEMO / "model.keras"], capture_output=True, text=True, check=True)
    assert lines == inspect.stdout.splitlines()


def test_predict_forms_and_dtypes(demo, demo_x):
    y = demo.predict(demo_x)
    assert y.dtype == np.float32 and y.shape == (demo_x.shape[0], 1)
    np.testing.assert_array_equal(demo.predict([demo_x]), y)
    np.testing.assert_array_equal(demo.predict({"window": demo_x}), y)
    np.testing.assert_array_equal(demo.predict(demo_x.astype(np.float64)), y)
    np.testing.assert_array_equal(demo.predict(demo_x.tolist()), y)
    np.testing.assert_array_equal(demo.predict(np.asfortranarray(demo_x)), y)
    np.testing.assert_array_equal(demo.predict(demo_x, batch_size=4, verbose=0), y)
    ints = np.arange(2 * 24).reshape(2, 24, 1) % 3
    np.testing.assert_array_equal(demo.predict(ints), demo.predict(ints.astype(np.float32)))


def test_matches_keras_demo_target(demo, demo_x):
    # examples/demo/expected.npy holds Keras' own forecast for input.npy.
    np.testing.assert_allclose(demo.predict(demo_x), np.load(DEMO / "expected.npy"), atol=1e-5, rtol=1e-5)


def _cli_error(cli, model, x):
    out = x.parent / "never-written.npy"
    r = subprocess.run([cli, "run", model, "--input", x, "--output", out], capture_output=True, text=True)
    assert not out.exists()
    assert r.returncode in (3, 4), r
    line = r.stderr.strip()
    assert "\n" not in line
    return line.split(": ", 2)[2], r.returncode  # after "recur: error: " / "recur: unsupported: "


def test_errors_carry_the_cli_message(cli, tmp_path, demo_x):
    x = tmp_path / "x.npy"
    np.save(x, demo_x)
    lam = FIXTURES / "models" / "k2-lambda" / "model.h5"
    with pytest.raises(recur.UnsupportedModelError) as e:
        recur.load_model(lam)
    assert (str(e.value), 3) == _cli_error(cli, lam, x)
    assert isinstance(e.value, NotImplementedError) and isinstance(e.value, recur.Error)

    broken = tmp_path / "broken.keras"
    broken.write_bytes((DEMO / "model.keras").read_bytes()[:300])
    with pytest.raises(recur.InvalidModelError) as e:
        recur.load_model(broken)
    assert (str(e.value), 4) == _cli_error(cli, broken, x)

    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 5, 1, 2), np.float32))  # another rank: refused (a Keras 3 Sequential checks no axis sizes)
    with pytest.raises(recur.InvalidInputError) as e:
        recur.load_model(DEMO / "model.keras").predict(np.load(wrong))
    # The CLI names the input file first; the library's message follows it unchanged.
    assert (f"{wrong}: {e.value}", 4) == _cli_error(cli, DEMO / "model.keras", wrong)
    assert isinstance(e.value, ValueError)


def test_bad_calls_raise(demo, demo_x):
    with pytest.raises(recur.InvalidInputError, match="input names"):
        demo.predict({"nope": demo_x})
    with pytest.raises(recur.InvalidInputError, match="1 inputs"):
        demo.predict([demo_x, demo_x])
    with pytest.raises(recur.InvalidInputError, match="not numeric"):
        demo.predict(np.array([["a"]]))
    with pytest.raises(recur.InvalidInputError, match="threads"):
        demo.predict(demo_x, threads=0)
    with pytest.raises(recur.InvalidModelError):
        recur.load_model(REPO / "no-such-file.keras")


def test_stream_steps_equal_the_whole_sequence():
    m = recur.load_model(SEQ_MODEL)
    x = np.random.default_rng(7).standard_normal((3, 6, 4)).astype(np.float32)
    whole = m.predict(x)
    s = m.stream()
    steps = np.stack([s.step(x[:, t]) for t in range(6)], axis=1)
    np.testing.assert_array_equal(steps, whole)
    saved = s.states
    assert [a.shape for a in saved] == [(3, 8), (3, 8), (3, 8)]  # h, c, the last output
    s.reset()
    np.testing.assert_array_equal(s.predict(x[:, :4]), whole[:, :4])
    s.states = saved  # back to the end of the sequence; one more step continues from there
    more = s.step(x[:, 0])
    s.reset()
    np.testing.assert_array_equal(s.predict(np.concatenate([x, x[:, :1]], axis=1))[:, 6], more)
    fresh = m.stream()  # a new stream (another process) takes the states too
    fresh.states = saved
    np.testing.assert_array_equal(fresh.step(x[:, 0]), more)
    with pytest.raises(recur.InvalidInputError, match="set_states: state 0 must have shape"):
        m.stream().states = [a[:, :5] for a in saved]



def test_stream_states_restore_exactly_across_masked_steps():
    # After a masked step, LSTM repeats its last output: the states carry it, so a stream
    # restored half way (in a new stream) answers as the unbroken one, bit for bit.
    case = FIXTURES / "models" / "k2-lstm-masking-holes"
    m = recur.load_model(case / "model.h5")
    x = np.load(case / "x0.npy").astype(np.float32)
    whole = m.stream()
    ys = [whole.step(x[:, t]) for t in range(x.shape[1])]
    np.testing.assert_allclose(np.stack(ys, 1), np.load(case / "y0.npy"), rtol=1e-5, atol=1e-5)  # Keras
    for cut in range(1, x.shape[1]):
        s = m.stream()
        for t in range(cut):
            s.step(x[:, t])
        restored = m.stream()
        restored.states = s.states
        for t in range(cut, x.shape[1]):
            np.testing.assert_array_equal(restored.step(x[:, t]), ys[t])


def test_stream_refuses_encoder_decoder():
    # The encoder's final states start the decoder: a stream would restart the decoder at
    # every step, so stream() refuses (it used to return numbers 5e-2 off predict).
    m = recur.load_model(FIXTURES / "models" / "k3-stream-encoder-decoder" / "model.keras")
    with pytest.raises(recur.UnsupportedModelError, match="'decoder_lstm' .* initial state .*'encoder_lstm'"):
        m.stream()


def test_stream_through_causal_conv_equals_the_whole_sequence():
    case = FIXTURES / "models" / "k3-stream-causal-conv-gru"
    m = recur.load_model(case / "model.keras")
    x = np.load(case / "x0.npy")
    whole = m.predict(x)
    np.testing.assert_allclose(whole, np.load(case / "y0.npy"), rtol=1e-5, atol=1e-5)  # Keras
    s = m.stream()
    steps = np.stack([s.step(x[:, t]) for t in range(x.shape[1])], axis=1)
    np.testing.assert_array_equal(steps, whole)


def test_threads_argument_changes_no_bit(demo):
    x = np.random.default_rng(3).standard_normal((64, 24, 1)).astype(np.float32)
    one = demo.predict(x, threads=1)
    np.testing.assert_array_equal(recur.load_model(DEMO / "model.keras", threads=2).predict(x), one)
    np.testing.assert_array_equal(demo.predict(x, threads=2), one)


def test_eight_threads_on_one_model():
    m = recur.load_model(SEQ_MODEL)
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((int(rng.integers(1, 9)), 6, 4)).astype(np.float32) for _ in range(8)]
    want = [m.predict(x) for x in xs]
    got = [[None] * 25 for _ in range(8)]
    errors = []

    def work(i):
        try:
            for k in range(25):
                got[i][k] = m.predict(xs[i])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(8):
        for k in range(25):
            np.testing.assert_array_equal(got[i][k], want[i])


def test_gil_is_released_while_computing(demo):
    x = np.random.default_rng(5).standard_normal((20000, 24, 1)).astype(np.float32)  # ~0.2 s
    inside = threading.Event()
    done = threading.Event()

    def work():
        inside.set()
        demo.predict(x)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    inside.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    t.join()
    # With the GIL held through predict, this loop could only run between bytecodes of work().
    assert ticks > 10000, ticks


def test_shared_model_loads_once_per_file_version(tmp_path):
    path = tmp_path / "m.keras"
    shutil.copy(DEMO / "model.keras", path)
    a = recur.shared_model(path)
    assert recur.shared_model(str(path)) is a
    assert recur.shared_model(path, threads=2) is not a
    shutil.copy(SEQ_MODEL, path)  # a new file at the same path is loaded again
    b = recur.shared_model(path)
    assert b is not a and b.inputs[0].shape == (None, 6, 4)


def test_precision_bf16_is_opt_in_and_measured():
    # Keras' outputs (the fixture's y0.npy); bf16 stays within 0.02 of them (tests/test_bf16.cpp).
    x = np.load(SEQ_MODEL.parent / "x0.npy")
    want = np.load(SEQ_MODEL.parent / "y0.npy")
    exact, half = recur.load_model(SEQ_MODEL), recur.load_model(SEQ_MODEL, precision="bf16")
    assert exact.precision == "fp32" and half.precision == "bf16"
    assert "bf16 weights" in half.layers[0]["path"] and "bf16" not in exact.layers[0]["path"]
    np.testing.assert_allclose(exact.predict(x), want, rtol=1e-5, atol=1e-5)
    got = half.predict(x)
    np.testing.assert_allclose(got, want, atol=0.02)
    assert not np.array_equal(got, exact.predict(x))
    err = recur.precision_error(SEQ_MODEL, x, precision="bf16")
    diff = np.abs(got.astype(np.float64) - exact.predict(x))
    assert err["max_abs"] == pytest.approx(diff.max()) and err["mean_abs"] == pytest.approx(diff.mean())
    assert err["elements"] == diff.size and err["output_index"] == 0
    assert abs(err["fp32"] - err["value"]) == pytest.approx(err["max_abs"])
    assert diff[err["index"]] == pytest.approx(err["max_abs"])
    with pytest.raises(ValueError):
        recur.load_model(SEQ_MODEL, precision="fp16")


def test_precision_int8_is_opt_in_and_measured():
    # Keras' outputs; int8 stays within 0.1 of them (tests/test_int8.cpp's sanity bound).
    x = np.load(SEQ_MODEL.parent / "x0.npy")
    want = np.load(SEQ_MODEL.parent / "y0.npy")
    exact, q = recur.load_model(SEQ_MODEL), recur.load_model(SEQ_MODEL, precision="int8")
    assert q.precision == "int8" and "int8 weights" in q.layers[0]["path"]
    got = q.predict(x)
    np.testing.assert_allclose(got, want, atol=0.1)
    assert not np.array_equal(got, exact.predict(x))
    err = recur.precision_error(SEQ_MODEL, x, precision="int8")
    diff = np.abs(got.astype(np.float64) - exact.predict(x))
    assert err["max_abs"] == pytest.approx(diff.max()) and err["elements"] == diff.size

"""examples/serve_ray.py on a local Ray Serve (loopback HTTP): batched whole sequences and
interleaved streaming sessions answer exactly what single-process recur gives; a full replica,
an expired session and a session carried over a replica restart by its exported states.
Those tests are skipped without ray (`make test-serve` makes a venv with it); the replica's
own logic is also tested without it."""
import faulthandler
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import recur
from conftest import DEMO, REPO

sys.path.insert(0, str(REPO / "examples"))
import serve_ray  # noqa: E402  (imports ray only when asked to serve)

MASKED = REPO / "tests" / "fixtures" / "models" / "k2-lstm-masking-holes" / "model.h5"

MODEL = DEMO / "model.keras"
STEPS = 24


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deploy(**config):
    from ray import serve

    serve.run(serve_ray.app(MODEL, **config), name="recur", route_prefix="/")


@pytest.fixture(scope="module")
def url():
    ray = pytest.importorskip("ray")
    serve = pytest.importorskip("ray.serve")
    faulthandler.dump_traceback_later(180, exit=True)  # a hang ends the run, with its stacks
    port = _free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        _deploy(max_sessions=3, session_ttl_s=600.0, batch_wait_timeout_s=0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        serve.shutdown()
        ray.shutdown()
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(16)
    return rng.normal(0, 1, (40, STEPS, 1)).astype(np.float32)


def test_predict_batched_matches_single_process(url, data):
    model = recur.load_model(MODEL)

    def ask(rows):
        client = serve_ray.Client(url)
        try:
            return [client.predict(data[i]) for i in rows]
        finally:
            client.close()

    with ThreadPoolExecutor(8) as pool:  # 8 clients at once: the replica batches their rows
        answers = [y for part in pool.map(ask, [range(k, len(data), 8) for k in range(8)]) for y in part]
    order = [i for k in range(8) for i in range(k, len(data), 8)]
    for i, y in zip(order, answers):
        np.testing.assert_array_equal(y, model.predict(data[i:i + 1])[0])
    client = serve_ray.Client(url)
    stats = client.stats()
    assert stats["predict"] == len(data) and stats["max_batch"] > 1, stats
    with pytest.raises(serve_ray.ServeError, match=r"HTTP 400: x 'window': shape \(23, 1\), the model takes \(24, 1\)"):
        client.predict(data[0, :23])
    with pytest.raises(serve_ray.ServeError, match="HTTP 400: .*element 0 is NaN"):
        client.predict(np.full((STEPS, 1), np.nan, np.float32))


def test_interleaved_sessions_full_restart_and_expiry(url, data):
    from ray import serve

    model = recur.load_model(MODEL)
    names = ["a", "b", "c"]
    local = {n: model.stream() for n in names}
    client = serve_ray.Client(url)
    for n in names:
        client.start(n)
    with pytest.raises(serve_ray.ServeError, match="HTTP 429: this replica holds max_sessions=3 sessions"):
        client.start("d")

    half = STEPS // 2
    saved = {}
    for t in range(half):  # three sessions, one step each in turn
        for k, n in enumerate(names):
            y, states = client.step(n, data[k, t], return_states=True)
            np.testing.assert_array_equal(y, local[n].step(data[k:k + 1, t])[0])
            saved[n] = states
    for n, (want, got) in ((n, p) for n in names for p in zip(local[n].states, client.states(n))):
        np.testing.assert_array_equal(got, want)

    # A new replica knows no session; each goes on from the states its client kept.
    serve.delete("recur")
    _deploy(max_sessions=3, session_ttl_s=600.0)
    with pytest.raises(serve_ray.ServeError, match="HTTP 404: unknown session 'a' .*replica restarted"):
        client.step("a", data[0, half])
    client = serve_ray.Client(url)
    for n in names:
        client.start(n, states=saved[n])
    last = {}
    for t in range(half, STEPS):
        for k, n in enumerate(names):
            last[n] = client.step(n, data[k, t])
            np.testing.assert_array_equal(last[n], local[n].step(data[k:k + 1, t])[0])
    for k, n in enumerate(names):  # the last step's answer is the whole sequence's
        np.testing.assert_array_equal(last[n], model.predict(data[k:k + 1])[0])

    client.end("c")
    client.start("d")  # room again
    # Idle sessions expire (a replica with a short session_ttl_s).
    _deploy(max_sessions=3, session_ttl_s=0.5)
    client = serve_ray.Client(url)
    client.start("e")
    np.testing.assert_array_equal(client.step("e", data[0, 0]), model.stream().step(data[:1, 0])[0])
    time.sleep(1.0)
    with pytest.raises(serve_ray.ServeError, match=r"HTTP 404: unknown session 'e' \(expired after 0.5 s idle"):
        client.step("e", data[0, 1])
    assert client.stats()["sessions"] == 0


def test_replica_logic_without_ray(data):
    """RecurServer alone: a batch with a bad row answers the others; imported states continue
    a session with masked steps exactly."""
    server = serve_ray.RecurServer(str(MODEL))
    model = recur.load_model(MODEL)
    bad = np.full((STEPS, 1), np.nan, np.float32)
    rows = [[data[0]], [bad], [data[1]]]
    got = server._batched_predict(rows)
    np.testing.assert_array_equal(got[0][0], model.predict(data[:1])[0])
    np.testing.assert_array_equal(got[2][0], model.predict(data[1:2])[0])
    assert isinstance(got[1], recur.InvalidInputError) and "NaN" in str(got[1])
    assert server.counts["max_batch"] == 3

    masked = serve_ray.RecurServer(str(MASKED))
    x = np.load(MASKED.parent / "x0.npy").astype(np.float32)
    masked.start("m")
    states = masked.step("m", x[0, 0].tolist(), return_states=True)["states"]
    masked.start("n", states=states)  # the states carry the last emitted output too
    for t in range(1, x.shape[1]):
        assert masked.step("n", x[0, t].tolist()) == masked.step("m", x[0, t].tolist())

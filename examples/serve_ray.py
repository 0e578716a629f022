#!/usr/bin/env python3
"""Serves a Keras model (.keras / .h5) through recur on Ray Serve: whole sequences with dynamic
batching, and stateful streams (one session per client, one time step per request).

    python examples/serve_ray.py MODEL [--replicas 1] [--threads 1] [--port 8000]

HTTP, POST with a JSON body, answers in JSON (numbers are float32 values written as decimals,
so they cross exactly):
  /predict        {"x": sequence}                               -> {"y": output}
  /stream/start   {"session": id, "states": [...] (optional)}   -> {"session": id}
  /stream/step    {"session": id, "x": step, "return_states": false}
                                                                -> {"y": output, "states": [...]}
  /stream/states  {"session": id}                               -> {"states": [...]}
  /stream/end     {"session": id}                               -> {}
  /stats          {}                                            -> this replica's counters
A sequence is one row without its batch axis, (steps, features...); a step also has no time
axis, (features...). A model with several inputs takes {"x": {input name: array}} and one with
several outputs answers {"y": {output name: array}}.
Errors answer {"error": message}: 400 a bad request, 404 an unknown or expired session (start
it again, or start it with the states you exported), 429 the replica holds max_sessions.

Each replica loads the model once (recur.shared_model). Whole-sequence requests are batched
by @serve.batch into one recur predict call per shape; recur's results do not depend on the
batch, so every answer is what recur gives for that row alone. A session is a recur stream of
batch 1 on one replica: with several replicas, clients send the session id in the
x-session-id header and a consistent-hash router keeps a session on its replica
(docs/SCALING.md, "Serving").
"""
import argparse
import asyncio
import http.client
import json
import os
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import numpy as np

DEFAULTS = {"max_sessions": 1000, "session_ttl_s": 600.0, "max_batch_size": 64, "batch_wait_timeout_s": 0.002}
SESSION_HEADER = "x-session-id"  # Ray Serve's default session header (RAY_SERVE_SESSION_ID_HEADER_KEY)
MAX_SESSION_ID = 128


class RequestError(Exception):
    """A request the replica refuses; status is the HTTP status it answers with."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class RecurServer:
    """The deployment's body (Ray Serve wraps it in `deployment()`; the test and the docs use
    it through HTTP). user_config keys: DEFAULTS."""

    def __init__(self, model_path, threads=1):
        import recur

        self._recur = recur
        rss = _rss_bytes()
        self.model = recur.shared_model(model_path, threads=threads)
        self.model_rss_bytes = _rss_bytes() - rss
        self.sessions = OrderedDict()  # id -> [stream, last use], least recently used first
        self.expired = OrderedDict()  # recently expired ids, to say so in the 404
        self.counts = {"predict": 0, "batches": 0, "max_batch": 0, "steps": 0}
        self.config = dict(DEFAULTS)

    def reconfigure(self, config):
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"recur serve: unknown user_config keys {unknown} (known: {sorted(DEFAULTS)})")
        self.config = dict(DEFAULTS, **config)
        self._predict_batch.set_max_batch_size(int(self.config["max_batch_size"]))
        self._predict_batch.set_batch_wait_timeout_s(float(self.config["batch_wait_timeout_s"]))

    # ---- HTTP ----

    async def __call__(self, request):
        from starlette.responses import JSONResponse

        path = request.url.path[len(request.scope.get("root_path", "")):].rstrip("/")
        routes = {"/predict": self.predict, "/stream/start": self.start, "/stream/step": self.step,
                  "/stream/states": self.states, "/stream/end": self.end, "/stats": self.stats}
        try:
            if path not in routes:
                raise RequestError(404, f"no route {path!r}; POST to one of {sorted(routes)}")
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError as e:
                raise RequestError(400, f"the body is not JSON: {e}") from None
            if not isinstance(body, dict):
                raise RequestError(400, "the body must be a JSON object")
            result = routes[path](**_args(body, routes[path]))
            if asyncio.iscoroutine(result):
                result = await result
            return JSONResponse(result)
        except RequestError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        except (self._recur.InvalidInputError, self._recur.UnsupportedModelError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    # ---- whole sequences ----

    async def predict(self, x):
        arrays = self._arrays(x, self.model.inputs, 1, "x")
        result = await self._predict_batch(arrays)
        if isinstance(result, Exception):
            raise result
        return {"y": self._answer(result)}

    def _batched_predict(self, rows):
        """One predict per group of rows with the same shapes; a group that recur refuses is
        retried row by row, so one bad row fails alone."""
        self.counts["batches"] += 1
        self.counts["max_batch"] = max(self.counts["max_batch"], len(rows))
        self.counts["predict"] += len(rows)
        groups = {}
        for i, row in enumerate(rows):
            groups.setdefault(tuple(a.shape for a in row), []).append(i)
        results = [None] * len(rows)
        for idx in groups.values():
            try:
                outs = self._predict([np.stack([rows[i][k] for i in idx]) for k in range(len(rows[idx[0]]))])
                for j, i in enumerate(idx):
                    results[i] = [o[j] for o in outs]
            except self._recur.InvalidInputError as e:
                if len(idx) == 1:
                    results[idx[0]] = e
                    continue
                for i in idx:
                    try:
                        results[i] = [o[0] for o in self._predict([a[None] for a in rows[i]])]
                    except self._recur.InvalidInputError as e1:
                        results[i] = e1
        return results

    def _predict(self, arrays):
        y = self.model.predict(arrays[0] if len(arrays) == 1 else arrays)
        return y if isinstance(y, list) else [y]

    # ---- streams ----

    def start(self, session, states=None):
        _check_session(session)
        self._expire()
        if session not in self.sessions and len(self.sessions) >= int(self.config["max_sessions"]):
            raise RequestError(429, f"this replica holds max_sessions={self.config['max_sessions']} "
                               f"sessions: end some (/stream/end), let idle ones expire (after "
                               f"session_ttl_s={self.config['session_ttl_s']} s) or add replicas")
        stream = self.model.stream()
        if states:
            stream.states = [np.asarray(s, dtype=np.float32) for s in states]
        self.sessions.pop(session, None)
        self.expired.pop(session, None)
        self.sessions[session] = [stream, time.monotonic()]
        return {"session": session}

    def step(self, session, x, return_states=False):
        stream = self._session(session)
        arrays = self._arrays(x, self.model.inputs, 2, "x")
        y = stream.step([a[None] for a in arrays] if len(arrays) > 1 else arrays[0][None])
        self.counts["steps"] += 1
        answer = {"y": self._answer([o[0] for o in (y if isinstance(y, list) else [y])])}
        if return_states:
            answer["states"] = [s.tolist() for s in stream.states]
        return answer

    def states(self, session):
        return {"states": [s.tolist() for s in self._session(session).states]}

    def end(self, session):
        _check_session(session)
        self.sessions.pop(session, None)
        return {}

    def stats(self):
        return dict(self.counts, pid=os.getpid(), rss_bytes=_rss_bytes(), model_rss_bytes=self.model_rss_bytes,
                    weight_bytes=self.model._core.weight_bytes, sessions=len(self.sessions),
                    config=self.config, isa=self._recur.isa(), threads=self.model._threads or self._recur.num_threads())

    def _session(self, session):
        _check_session(session)
        self._expire()
        entry = self.sessions.get(session)
        if entry is None:
            why = (f"expired after {self.config['session_ttl_s']} s idle" if session in self.expired
                   else "never started here, ended, or the replica restarted")
            raise RequestError(404, f"unknown session {session!r} ({why}): start it again, with its "
                               "exported states to go on where it was")
        entry[1] = time.monotonic()
        self.sessions.move_to_end(session)
        return entry[0]

    def _expire(self):
        limit = time.monotonic() - float(self.config["session_ttl_s"])
        while self.sessions:
            session, (_, used) = next(iter(self.sessions.items()))
            if used >= limit:
                break
            del self.sessions[session]
            self.expired[session] = None
            if len(self.expired) > 10_000:
                self.expired.popitem(last=False)

    # ---- JSON <-> arrays ----

    def _arrays(self, x, specs, drop, what):
        """One float32 array per model input, from a nested list (or a dict by input name),
        checked against the input's shape without its first `drop` axes (batch, and time)."""
        names = [s.name for s in specs]
        if isinstance(x, dict):
            if sorted(x) != sorted(names):
                raise RequestError(400, f"{what}: keys must be the model's inputs {names}, got {sorted(x)}")
            values = [x[n] for n in names]
        elif len(specs) == 1:
            values = [x]
        else:
            raise RequestError(400, f"{what}: the model has inputs {names}: send {{name: array}}")
        arrays = []
        for v, spec in zip(values, specs):
            try:
                a = np.asarray(v, dtype=np.float32)
            except (ValueError, TypeError) as e:
                raise RequestError(400, f"{what} '{spec.name}': not a rectangular array of numbers ({e})") from None
            want = spec.shape[drop:] if spec.shape is not None else None
            if want is not None and (a.ndim != len(want) or any(w is not None and w != d for w, d in zip(want, a.shape))):
                shown = tuple("?" if w is None else w for w in want)
                raise RequestError(400, f"{what} '{spec.name}': shape {a.shape}, the model takes {shown}")
            arrays.append(a)
        return arrays

    def _answer(self, outs):
        if len(outs) == 1:
            return outs[0].tolist()
        return {spec.name: o.tolist() for spec, o in zip(self.model.outputs, outs)}


def _args(body, method):
    import inspect

    params = inspect.signature(method).parameters
    unknown = sorted(set(body) - set(params))
    missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in body]
    if unknown or missing:
        raise RequestError(400, f"fields: takes {list(params)}" + (f"; missing {missing}" if missing else "")
                           + (f"; unknown {unknown}" if unknown else ""))
    return body


def _check_session(session):
    if not isinstance(session, str) or not 0 < len(session) <= MAX_SESSION_ID:
        raise RequestError(400, f"session: a string of 1 to {MAX_SESSION_ID} characters, got {session!r}")


def deployment():
    """RecurServer as a Ray Serve deployment: whole-sequence requests go through @serve.batch
    (each batch predicted in a worker thread: recur releases the GIL)."""
    from ray import serve

    class Batched(RecurServer):
        @serve.batch(max_batch_size=DEFAULTS["max_batch_size"], batch_wait_timeout_s=DEFAULTS["batch_wait_timeout_s"])
        async def _predict_batch(self, rows):
            return await asyncio.to_thread(self._batched_predict, rows)

    Batched.__name__ = Batched.__qualname__ = "Recur"
    return serve.deployment(Batched)


def app(model, *, replicas=1, threads=1, max_ongoing_requests=256, **config):
    """The application to serve.run: `replicas` copies of the model, each using `threads`
    kernel threads (and asking Ray for that many CPUs); config: user_config keys (DEFAULTS)."""
    options = {"num_replicas": replicas, "max_ongoing_requests": max_ongoing_requests,
               "ray_actor_options": {"num_cpus": threads}, "user_config": dict(DEFAULTS, **config)}
    if replicas > 1:
        from ray.serve.config import RequestRouterConfig

        options["request_router_config"] = RequestRouterConfig(
            request_router_class="ray.serve.experimental.consistent_hash_router.ConsistentHashRouter",
            request_router_kwargs={"num_fallback_replicas": 0})
    if __name__ != "__main__":  # replicas cannot import this file by name: ship it by value
        import sys

        from ray import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return deployment().options(**options).bind(os.path.abspath(model), threads)


class ServeError(Exception):
    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Client:
    """A small client over one kept-alive HTTP connection (one Client per thread)."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.prefix = parts.path.rstrip("/")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)

    def call(self, route, session=None, **body):
        headers = {"Content-Type": "application/json"}
        if session is not None:
            body["session"] = session
            headers[SESSION_HEADER] = session
        self.conn.request("POST", self.prefix + route, json.dumps(body), headers)
        r = self.conn.getresponse()
        data = json.loads(r.read() or b"{}")
        if r.status != 200:
            raise ServeError(r.status, data.get("error", data))
        return data

    def predict(self, x):
        return _f32(self.call("/predict", x=_lists(x))["y"])

    def start(self, session, states=None):
        return self.call("/stream/start", session, **({"states": _lists(states)} if states else {}))

    def step(self, session, x, return_states=False):
        r = self.call("/stream/step", session, x=_lists(x), return_states=return_states)
        y = _f32(r["y"])
        return (y, [np.asarray(s, np.float32) for s in r["states"]]) if return_states else y

    def states(self, session):
        return [np.asarray(s, np.float32) for s in self.call("/stream/states", session)["states"]]

    def end(self, session):
        self.call("/stream/end", session)

    def stats(self):
        return self.call("/stats")

    def close(self):
        self.conn.close()


def _lists(x):
    if isinstance(x, dict):
        return {k: _lists(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_lists(v) for v in x]
    return np.asarray(x, dtype=np.float32).tolist()


def _f32(y):
    return {k: np.asarray(v, np.float32) for k, v in y.items()} if isinstance(y, dict) else np.asarray(y, np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help=".keras or .h5 file")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="recur kernel threads per replica")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--max-sessions", type=int, default=DEFAULTS["max_sessions"], help="per replica")
    ap.add_argument("--session-ttl", type=float, default=DEFAULTS["session_ttl_s"], help="idle seconds before a session expires")
    ap.add_argument("--max-batch", type=int, default=DEFAULTS["max_batch_size"])
    ap.add_argument("--batch-wait", type=float, default=DEFAULTS["batch_wait_timeout_s"], help="seconds a batch waits to fill")
    args = ap.parse_args(argv)

    import ray
    from ray import serve

    ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(app(args.model, replicas=args.replicas, threads=args.threads, max_sessions=args.max_sessions,
                  session_ttl_s=args.session_ttl, max_batch_size=args.max_batch,
                  batch_wait_timeout_s=args.batch_wait), name="recur", route_prefix="/")
    print(f"serving {args.model} at http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.shutdown()


if __name__ == "__main__":
    main()

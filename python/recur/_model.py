"""Model and Stream: the Keras-like face of recur's C++ core."""
import os
import threading
import warnings
from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import _core
from ._errors import InvalidInputError, UnsupportedModelError

class TensorSpec(NamedTuple):
    """A model input or output: its name and shape (None where Keras leaves a size open; the
    whole shape is None when recur cannot tell it before a call)."""

    name: str
    shape: Optional[Tuple[Optional[int], ...]]
    dtype: str = "float32"


def load_model(path, *, threads=None, allow_nonfinite=False, max_weight_bytes=None,
               max_activation_bytes=None, precision="fp32"):
    """Loads a .keras or legacy .h5 file. threads: kernel threads for this model's calls
    (default: recur.num_threads(), 1 unless RECUR_NUM_THREADS or set_num_threads say more).
    A NaN or Inf input raises InvalidInputError, as `recur run` exits 4 (usually a data bug);
    allow_nonfinite=True passes them through, as Keras does.
    max_weight_bytes (all weights as float32, from the shapes the file declares) and
    max_activation_bytes (one layer output, checked before it is allocated, at load and on
    every call) bound what an untrusted file may cost; None keeps the default (the environment
    variables RECUR_MAX_WEIGHT_BYTES / RECUR_MAX_ACTIVATION_BYTES, else 1 GiB / 2 GiB). A file
    over a bound raises InvalidModelError naming the layer and the option.
    precision: "fp32" (Keras' results, the default), "bf16" or "int8": the LSTM/GRU/SimpleRNN, Conv
    and Dense weight matrices stored in bfloat16 (states, gates and sums stay float32; on AMD CPUs
    with AVX512-BF16 the matrix products' inputs are rounded to bfloat16 too), or in int8 with one
    scale per column (the products' inputs rounded to int8 per row, exact integer sums). Both are
    faster on large or bandwidth-bound layers (int8 for batch-1 steps) but NOT exact: measure it
    on your data with recur.precision_error."""
    _check_threads(threads)
    if precision not in ("fp32", "bf16", "int8"):
        raise ValueError(f"precision must be 'fp32', 'bf16' or 'int8', got {precision!r}")
    limits = {}
    for name, value in (("max_weight_bytes", max_weight_bytes), ("max_activation_bytes", max_activation_bytes)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer (bytes), got {value!r}")
        limits[name] = value
    return Model(_core.load_model(os.fspath(path), precision=precision, **limits), threads, allow_nonfinite)


def precision_error(path, x, precision="bf16", *, threads=None):
    """How far `precision` is from fp32 for the model at `path` on inputs x (as predict takes
    them): loads it both ways, runs both, and returns a dict: max_abs and mean_abs (over every
    output value), elements, and the worst value: output (its name), output_index, index (within
    that output), fp32 and value (the two results there)."""
    _check_threads(threads)
    exact = load_model(path, threads=threads)
    approx = load_model(path, threads=threads, precision=precision)
    arrays = _arrange(x, exact.inputs, "precision_error", True)
    return _core.precision_error(exact._core, approx._core, arrays,
                                 threads if threads is not None else None)


_shared = {}
_shared_lock = threading.Lock()


def shared_model(path, *, threads=None, allow_nonfinite=False, max_weight_bytes=None,
                 max_activation_bytes=None, precision="fp32"):
    """The model for path, loaded once per process (again if the file changes): for worker
    processes that score many batches, such as Spark executors' Python workers or
    multiprocessing pools. A model is safe to use from many threads at once. The options are
    load_model's."""
    path = os.path.abspath(os.fspath(path))
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    with _shared_lock:
        key = (path, threads, bool(allow_nonfinite), max_weight_bytes, max_activation_bytes, precision)
        entry = _shared.get(key)
        if entry is None or entry[0] != stamp:
            entry = (stamp, load_model(path, threads=threads, allow_nonfinite=allow_nonfinite,
                                       max_weight_bytes=max_weight_bytes,
                                       max_activation_bytes=max_activation_bytes, precision=precision))
            _shared[key] = entry
        return entry[1]


def set_num_threads(n):
    """Kernel threads for calls that give no threads= of their own (process-wide)."""
    _core.set_num_threads(int(n))


def num_threads():
    return _core.num_threads()


def isa():
    """The kernels in use: "scalar", "avx2", "avx512" or "amx" (RECUR_ISA in the environment chooses)."""
    return _core.isa()


def _check_threads(threads):
    if threads is not None and (not isinstance(threads, (int, np.integer)) or not 1 <= threads <= 64):
        raise InvalidInputError(f"threads must be an integer between 1 and 64, got {threads!r}")


def _as_float32(value, what):
    a = np.asarray(value)
    if a.dtype.kind not in "fiub":
        raise InvalidInputError(f"{what}: dtype {a.dtype} is not numeric (recur takes float and integer arrays)")
    return np.ascontiguousarray(a, dtype=np.float32)


_INT64 = np.iinfo(np.int64)


def _as_input(value, what):
    """A model input: integer arrays as int64, whose exact values reach an Embedding behind an
    integer Input (as in Keras; a float32 Input rounds them, as Keras casts them); the rest
    as float32."""
    a = np.asarray(value)
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.size and a.max() > _INT64.max:
            raise InvalidInputError(f"{what}: value {a.max()} does not fit in int64")
        return np.ascontiguousarray(a, dtype=np.int64)
    return _as_float32(a, what)


def _check_finite(a, what):
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        kind = "NaN" if np.isnan(a.ravel()[i]) else "infinite"
        raise InvalidInputError(f"{what}: element {i} is {kind} (allow_nonfinite=True in load_model "
                                "passes NaN/Inf through, as Keras does)")


def _arrange(x, specs, what, allow_nonfinite=True):
    """One float32 array per spec, from an array, a list/tuple of arrays or a dict by name;
    batch sizes must agree, and values be finite unless allowed."""
    names = [s.name for s in specs]
    if isinstance(x, dict):
        unknown = sorted(set(x) - set(names))
        missing = [n for n in names if n not in x]
        if unknown or missing:
            raise InvalidInputError(
                f"{what}: dict keys must be the model's input names {names}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else ""))
        values = [x[n] for n in names]
    elif isinstance(x, (list, tuple)) and len(x) > 0 and all(hasattr(v, "__array__") for v in x):
        values = list(x)
    else:
        values = [x]
    if len(values) != len(specs):
        raise InvalidInputError(f"{what}: the model has {len(specs)} inputs {names}, got {len(values)} arrays")
    arrays = [_as_input(v, f"{what} '{n}'") for v, n in zip(values, names)]
    for a, n in zip(arrays, names):
        if a.ndim and arrays[0].ndim and a.shape[0] != arrays[0].shape[0]:
            raise InvalidInputError(f"{what}: input '{n}' has batch size {a.shape[0]}, input "
                                    f"'{names[0]}' {arrays[0].shape[0]}")
        if not allow_nonfinite and a.dtype.kind == "f":
            _check_finite(a, f"{what} '{n}'")
    return arrays


def _single(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


class Model:
    """A loaded model. predict() is safe to call from many threads at once (the GIL is
    released while recur computes); a model with stateful layers keeps their states between
    predict() calls, as Keras does, until reset_states()."""

    def __init__(self, core, threads=None, allow_nonfinite=False):
        self._core = core
        self._threads = threads
        self._allow_nonfinite = bool(allow_nonfinite)
        self.inputs = [TensorSpec(n, s) for n, s in core.inputs]
        self.outputs = [TensorSpec(n, s) for n, s in core.outputs]
        self._stateful_session = core.session(False) if core.stateful else None
        self._lock = threading.Lock()
        for w in core.warnings:
            warnings.warn(f"recur: {w}", stacklevel=3)

    @property
    def file(self):
        return self._core.file

    @property
    def layers(self):
        """One dict per layer: name, class_name, params, path (fused or loop, and why), output_shapes."""
        return self._core.layers

    @property
    def stateful(self):
        return self._core.stateful

    @property
    def precision(self):
        """"fp32" (exact), "bf16" or "int8" (load_model's precision)."""
        return self._core.precision

    def summary(self, print_fn=None):
        """Prints the table `recur inspect` prints (or passes each line to print_fn)."""
        text = self._core.summary()
        if print_fn is None:
            print(text, end="")
        else:
            for line in text.splitlines():
                print_fn(line)

    def predict(self, x, batch_size=None, verbose="auto", *, threads=None):
        """Like keras.Model.predict: x is an array, a list of arrays (one per input) or a dict
        {input name: array}; float64 arrays are converted to float32, integer arrays reach an
        integer Input exactly (Embedding indices past 2^24, as in Keras). Returns an
        array, or a list for several outputs: float32, or int64 for integer outputs (lookup
        indices, bucket ids, token ids). batch_size splits the batch into calls (bounding
        memory; results do not change). verbose is accepted for Keras compatibility."""
        del verbose
        _check_threads(threads)
        threads = threads if threads is not None else self._threads
        arrays = _arrange(x, self.inputs, "predict", self._allow_nonfinite)
        if self._stateful_session is not None:
            return _single(self._stateful_session.run(arrays, threads))
        batch = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
        if batch_size is None or batch_size >= batch:
            return _single(self._core.predict(arrays, threads))
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidInputError(f"predict: batch_size must be a positive integer, got {batch_size!r}")
        parts = [self._core.predict([a[i:i + batch_size] for a in arrays], threads)
                 for i in range(0, batch, batch_size)]
        return _single([np.concatenate(p, axis=0) for p in zip(*parts)])

    def reset_states(self):
        """Stateful layers back to zeros (keras.Model.reset_states)."""
        if self._stateful_session is not None:
            self._stateful_session.reset()

    def stream(self, *, threads=None):
        """A streaming session: feed a sequence step by step (Stream.step) or in chunks
        (Stream.predict) and get exactly what the whole sequence gives. Raises
        UnsupportedModelError, naming the layer or edge, when a stream cannot be exact:
        layers that look across time (Bidirectional, go_backwards, pooling, ...) or a final
        state used as more than an output (an encoder's states as a decoder's initial_state)."""
        _check_threads(threads)
        return Stream(self, self._core.session(True), threads if threads is not None else self._threads)

    def __repr__(self):
        return f"<recur.Model {self.file!r} inputs={self.inputs} outputs={self.outputs}>"


class Stream:
    """Carries every recurrent layer's state from call to call (one stream per sequence batch)."""

    def __init__(self, model, session, threads):
        self._model = model
        self._session = session
        self._threads = threads

    def step(self, x_t):
        """One time step: each input without its time axis, (batch, features...)."""
        return _single(self._session.step(_arrange(x_t, self._model.inputs, "step", self._model._allow_nonfinite), self._threads))

    def predict(self, chunk):
        """A chunk of time steps, (batch, steps, features...); outputs with a time axis
        concatenate over chunks to the whole-sequence output."""
        return _single(self._session.run(_arrange(chunk, self._model.inputs, "stream predict", self._model._allow_nonfinite), self._threads))

    def reset(self):
        """Every state back to zeros: the next call starts a new sequence."""
        self._session.reset()

    @property
    def states(self):
        """The carried states, flat in layer order (empty before the first call); each recurrent
        layer's last emitted output follows its states (a masked step repeats it)."""
        return self._session.states()

    @states.setter
    def states(self, values):
        """Restores what `states` gave, on this stream or a new one (another process, a
        restarted server): the next step goes on from there."""
        values = [_as_float32(v, "states") for v in values]
        if values and not self._session.states():
            self._prime(values[0].shape[0] if values[0].ndim else 1)
        self._session.set_states(values)

    def _prime(self, batch):
        # A new session sizes its states at its first call: one step of zeros, then zeros.
        zeros = [np.zeros((batch, *[1 if d is None else d for d in s.shape[2:]]), np.float32)
                 for s in self._model.inputs]
        self._session.step(zeros, self._threads)
        self._session.reset()

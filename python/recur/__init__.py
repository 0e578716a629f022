"""recur: run Keras recurrent models (.keras / .h5) from C++, with Keras' results.

    import recur
    m = recur.load_model("model.keras")
    y = m.predict(x)            # numpy in, numpy out, like keras.Model.predict
"""
from ._errors import Error, InvalidInputError, InvalidModelError, UnsupportedModelError
from ._model import (Model, Stream, TensorSpec, isa, load_model, num_threads, precision_error, set_num_threads,
                     shared_model)

__all__ = [
    "Error",
    "InvalidInputError",
    "InvalidModelError",
    "Model",
    "Stream",
    "TensorSpec",
    "UnsupportedModelError",
    "isa",
    "load_model",
    "num_threads",
    "precision_error",
    "set_num_threads",
    "shared_model",
]
__version__ = "0.1.0"

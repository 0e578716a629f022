"""The exceptions recur raises; messages are the CLI's (file, layer and field named)."""


class Error(Exception):
    """Every error recur raises."""


class InvalidModelError(Error, ValueError):
    """The model file is broken, hostile or not a Keras model (CLI exit code 4)."""


class UnsupportedModelError(Error, NotImplementedError):
    """A valid Keras feature that recur does not run (CLI exit code 3)."""


class InvalidInputError(Error, ValueError):
    """Inputs or states of the wrong number, rank, shape or dtype for this model."""

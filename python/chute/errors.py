"""chute's exceptions. Each also subclasses the built-in a caller would naturally catch."""
from __future__ import annotations

from chute._core import (  # noqa: F401  (re-exported)
    CheckoutError,
    ChuteError,
    DatasetLockedError,
    DecodeError,
    EmptyCommitError,
    FormatError,
    InvalidArgument,
    InvalidTensorNameError,
    IoError,
    QueryError,
    ResourceError,
    TensorDoesNotExistError,
    VersionControlError,
)


class DatasetNotFoundError(ChuteError, FileNotFoundError):
    """No dataset at the given path."""


class DatasetAlreadyExistsError(ChuteError, FileExistsError):
    """A dataset (or a non-empty folder) is already at the path."""


class ReadOnlyModeError(ChuteError, PermissionError):
    """A write to a dataset opened read-only."""


class TensorAlreadyExistsError(ChuteError, ValueError):
    """create_tensor with a name that is taken."""


class TensorDtypeMismatchError(ChuteError, TypeError):
    """A sample whose dtype cannot be stored in the tensor without losing values."""


class TensorInvalidSampleShapeError(ChuteError, ValueError):
    """A sample whose shape does not fit the tensor's htype or dimensionality."""


class UnsupportedCompressionError(ChuteError, ValueError):
    """A compression chute does not support for that htype."""


class SampleAppendError(ChuteError, ValueError):
    """Appending a sample failed; names the tensor and the index in the call."""

    def __init__(self, tensor: str, message: str, index: int | None = None):
        where = f"tensor '{tensor}'" + (f", sample {index} of the call" if index is not None else "")
        super().__init__(f"{where}: {message}")
        self.tensor = tensor
        self.index = index


class SampleUpdateError(ChuteError, ValueError):
    """Updating a sample failed; names the tensor and the row."""

    def __init__(self, tensor: str, message: str, index: int | None = None):
        super().__init__(f"tensor '{tensor}', row {index}: {message}")
        self.tensor = tensor
        self.index = index


class DynamicTensorNumpyError(ChuteError, ValueError):
    """numpy() on samples of different shapes without aslist=True."""


class TransformError(ChuteError):
    """A transform failed on one input; `index` and `sample` say which, `__cause__` is the error.

    Deep Lake 3's class and signature (`deeplake.util.exceptions.TransformError`). Raised by the
    loader's Python transforms and by `chute.compute` / `chute.compose` `.eval`."""

    def __init__(self, index: int | None = None, sample=None, message: str | None = None,
                 samples_processed: int = 0, suggest: bool = False):
        self.index = index
        self.sample = sample
        self.samples_processed = samples_processed
        self.suggest = suggest
        if message is None:
            message = f"Transform failed at index {index} of the input data on the item: {_shorten(sample)}."
            if samples_processed > 0:
                message += (f" Last checkpoint: {samples_processed} samples processed. You can slice the input "
                            f"to resume from this point.")
            message += " See traceback for more details."
            if suggest:
                message += (" If you wish to skip the samples that cause errors, please specify "
                            "`ignore_errors=True`.")
        super().__init__(message)

    def __reduce__(self):
        # pickled across processes with its message and attributes (the default would call
        # __init__ with the message as `index`)
        return (_rebuild_error, (type(self), str(self), self.__dict__))


def _rebuild_error(cls, message: str, state: dict):
    e = cls.__new__(cls)
    Exception.__init__(e, message)
    e.__dict__.update(state)
    return e


def _shorten(sample) -> str:
    try:
        text = repr(sample)
    except Exception:  # a sample whose repr fails must not hide the real error
        text = f"<{type(sample).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


class InvalidInputDataError(TransformError, TypeError):
    """`data_in` that eval cannot index (a generator, an object without `__len__`/`__getitem__`)."""

    def __init__(self, message: str):
        super().__init__(message=message)


class UnsupportedSchedulerError(TransformError, ValueError):
    """A scheduler name eval does not know; the message lists the known ones."""

    def __init__(self, message: str):
        super().__init__(message=message)


class TensorMismatchError(TransformError, KeyError):
    """The transform's output tensors are not `ds_out`'s (a subset needs `skip_ok=True`)."""

    def __init__(self, message: str):
        super().__init__(message=message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


class InvalidOutputDatasetError(TransformError, ValueError):
    """`ds_out` cannot take the transform's rows (read-only, unequal tensor lengths, missing)."""

    def __init__(self, message: str):
        super().__init__(message=message)


class InvalidTransformDataset(TransformError, ValueError):
    """One input's output rows have unequal lengths across tensors."""

    def __init__(self, message: str):
        super().__init__(message=message)


class AllSamplesSkippedError(ChuteError, ValueError):
    """With `ignore_errors=True`, every input failed: nothing was written."""

"""chute's exceptions. Each also subclasses the built-in a caller would naturally catch."""
from __future__ import annotations

from chute._core import (  # noqa: F401  (re-exported)
    ChuteError,
    DatasetLockedError,
    DecodeError,
    FormatError,
    InvalidArgument,
    InvalidTensorNameError,
    IoError,
    QueryError,
    ResourceError,
    TensorDoesNotExistError,
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


class DynamicTensorNumpyError(ChuteError, ValueError):
    """numpy() on samples of different shapes without aslist=True."""


class TransformError(ChuteError):
    """A transform failed on one input; `index` and `sample` say which."""

    def __init__(self, index: int | None = None, sample=None, message: str | None = None):
        self.index = index
        self.sample = sample
        text = message or f"Transform failed at index {index} of the input data on the item: {str(sample)[:200]}"
        super().__init__(text)

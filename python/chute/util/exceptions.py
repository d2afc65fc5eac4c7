"""Deep Lake 3's `deeplake.util.exceptions`: chute's exception classes under the names scripts import."""
from chute.errors import (  # noqa: F401  (re-exported)
    AllSamplesSkippedError,
    ChuteError,
    DatasetLockedError,
    DatasetNotFoundError,
    DecodeError,
    DynamicTensorNumpyError,
    FormatError,
    InvalidInputDataError,
    InvalidOutputDatasetError,
    InvalidTensorNameError,
    InvalidTransformDataset,
    IoError,
    QueryError,
    ReadOnlyModeError,
    SampleAppendError,
    TensorAlreadyExistsError,
    TensorDoesNotExistError,
    TensorDtypeMismatchError,
    TensorInvalidSampleShapeError,
    TensorMismatchError,
    TransformError,
    UnsupportedCompressionError,
    UnsupportedSchedulerError,
)

# Deep Lake 3 calls a dataset that does not exist this
DatasetHandlerError = DatasetNotFoundError

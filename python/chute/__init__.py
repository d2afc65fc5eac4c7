"""chute: a data engine for training neural networks.

Deep Lake 3-compatible datasets (read and write), a C++ engine that decodes on its own threads,
and Deep Lake 3's API names, so `import chute as deeplake` runs Deep Lake 3 scripts on local data.
"""
from chute import _core, ops, random
from chute.api import dataset, delete, empty, exists, like, load
from chute.dataset import Dataset
from chute.errors import (
    ChuteError,
    DatasetAlreadyExistsError,
    DatasetLockedError,
    DatasetNotFoundError,
    DecodeError,
    DynamicTensorNumpyError,
    FormatError,
    InvalidTensorNameError,
    IoError,
    QueryError,
    ReadOnlyModeError,
    ResourceError,
    SampleAppendError,
    TensorAlreadyExistsError,
    TensorDoesNotExistError,
    TensorDtypeMismatchError,
    TensorInvalidSampleShapeError,
    TransformError,
)
from chute.ingest import ingest_classification
from chute.loader import DataLoader
from chute.sample import Sample, read
from chute.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "ChuteError", "DataLoader", "Dataset", "DatasetAlreadyExistsError", "DatasetLockedError", "DatasetNotFoundError",
    "DecodeError", "DynamicTensorNumpyError", "FormatError", "InvalidTensorNameError", "IoError", "QueryError",
    "ReadOnlyModeError", "ResourceError", "Sample",
    "SampleAppendError", "Tensor", "TensorAlreadyExistsError", "TensorDoesNotExistError",
    "TensorDtypeMismatchError", "TensorInvalidSampleShapeError", "TransformError", "dataset", "delete",
    "empty", "exists", "ingest_classification", "like", "load", "ops", "random", "read",
]

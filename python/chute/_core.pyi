"""
chute's C++ engine (private; use the chute package)
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ChuteError', 'Dataset', 'DatasetLockedError', 'DecodeError', 'FormatError', 'InvalidArgument', 'InvalidTensorNameError', 'IoError', 'Loader', 'QueryError', 'ResourceError', 'Tensor', 'TensorDoesNotExistError', 'decode_image', 'encode_image', 'image_shape', 'plan_order', 'release_shared_pool', 'tql_functions', 'weighted_draw']
class ChuteError(Exception):
    """
    Base class of chute's errors.
    """
class IoError(ChuteError, OSError):
    """
    A file could not be read or written.
    """
class FormatError(ChuteError, ValueError):
    """
    Bytes on disk do not follow the Deep Lake 3 format.
    """
class DecodeError(ChuteError, ValueError):
    """
    A sample could not be decoded.
    """
class InvalidArgument(ChuteError, ValueError):
    """
    An argument was rejected.
    """
class TensorDoesNotExistError(ChuteError, KeyError):
    """
    No tensor of that name.
    """
class QueryError(ChuteError, ValueError):
    """
    A TQL query that does not parse or cannot run; .line and .column say where.
    """
class DatasetLockedError(IoError):
    """
    Another process has the dataset open for writing; .holder_pid is its pid (0: unknown).
    """
class InvalidTensorNameError(InvalidArgument):
    """
    A tensor or group name that is empty, leaves the dataset folder, or is reserved.
    """
class ResourceError(ChuteError, MemoryError):
    """
    Memory or threads the engine needed could not be had, or a size is over its cap.
    """
class Tensor:
    def append_array(self, arg0: numpy.ndarray) -> None:
        ...
    def append_bytes(self, arg0: bytes, arg1: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> None:
        ...
    def append_compressed(self, arg0: bytes, arg1: str) -> None:
        ...
    def append_many(self, arg0: numpy.ndarray) -> None:
        """
        Appends a[0], a[1], ... as samples (one shape, one dtype).
        """
    def info_json(self) -> str:
        ...
    def meta_json(self) -> str:
        ...
    def nbytes_on_disk(self) -> int:
        ...
    def num_chunks(self) -> int:
        ...
    def read(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
        ...
    def read_batch(self, indices: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], num_threads: typing.SupportsInt | typing.SupportsIndex = 0, aslist: bool = False) -> typing.Any:
        """
        Decodes the samples on the engine's threads with the GIL released. One stacked array when every shape is equal (and aslist is False), else a list of arrays.
        """
    def set_info_json(self, arg0: str) -> None:
        ...
    def shape(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> tuple:
        ...
    def tobytes(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> bytes:
        ...
    @property
    def chunk_compression(self) -> str:
        ...
    @property
    def dtype(self) -> typing.Any:
        ...
    @property
    def htype(self) -> str:
        ...
    @property
    def is_bytes_htype(self) -> bool:
        ...
    @property
    def key(self) -> str:
        ...
    @property
    def length(self) -> int:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def sample_compression(self) -> str:
        ...
    @property
    def writable(self) -> bool:
        ...
class Dataset:
    @staticmethod
    def create(path: str, overwrite: bool) -> Dataset:
        ...
    @staticmethod
    def exists(arg0: str) -> bool:
        ...
    @staticmethod
    def open(path: str, read_only: bool) -> Dataset:
        ...
    @staticmethod
    def remove(path: str, why: str) -> None:
        """
        Deletes a dataset; DatasetLockedError while another process writes it.
        """
    @staticmethod
    def validate_name(arg0: str) -> None:
        ...
    def create_group(self, arg0: str) -> None:
        ...
    def create_tensor(self, arg0: str, arg1: str, arg2: str, arg3: str, arg4: str, arg5: typing.SupportsInt | typing.SupportsIndex, arg6: typing.SupportsInt | typing.SupportsIndex, arg7: str, arg8: str) -> Tensor:
        ...
    def detach(self, why: str) -> None:
        """
        Refuses every later write through this handle with `why`.
        """
    def flush(self) -> None:
        ...
    def groups(self) -> list[str]:
        ...
    def has_tensor(self, arg0: str) -> bool:
        ...
    def hidden_tensor_names(self) -> list[str]:
        ...
    def info_json(self) -> str:
        ...
    @typing.overload
    def query(self, tql: str, rows: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, row_by_row: bool = False) -> numpy.ndarray:
        """
        The rows (of 0..rows-1) a TQL query selects, in result order.
        """
    @typing.overload
    def query(self, tql: str, rows: typing.Annotated[numpy.typing.ArrayLike, numpy.uint64], seed: typing.SupportsInt | typing.SupportsIndex, row_by_row: bool = False) -> numpy.ndarray:
        """
        The rows (of `rows`, which the query sees as its table) a TQL query selects, in result order.
        """
    def set_info_json(self, arg0: str) -> None:
        ...
    def tensor(self, arg0: str) -> Tensor:
        ...
    def tensor_names(self) -> list[str]:
        ...
    @property
    def dirty(self) -> bool:
        ...
    @property
    def orphans_collected(self) -> int:
        ...
    @property
    def path(self) -> str:
        ...
    @property
    def read_only(self) -> bool:
        ...
class Loader:
    def __init__(self, tensors: list, order: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], batch_size: typing.SupportsInt | typing.SupportsIndex, drop_last: bool, num_threads: typing.SupportsInt | typing.SupportsIndex, prefetch: typing.SupportsInt | typing.SupportsIndex, ignore_errors: bool, seed: typing.SupportsInt | typing.SupportsIndex, epoch: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def close(self) -> None:
        ...
    def next(self, names: collections.abc.Sequence[str]) -> typing.Any:
        ...
    @property
    def num_batches(self) -> int:
        ...
    @property
    def num_threads(self) -> int:
        ...
    @property
    def skipped_total(self) -> int:
        ...
def decode_image(arg0: bytes, arg1: str) -> numpy.ndarray:
    ...
def encode_image(array: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], compression: str, quality: typing.SupportsInt | typing.SupportsIndex = 75) -> bytes:
    ...
def image_shape(arg0: bytes, arg1: str) -> tuple:
    ...
def plan_order(rows: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], shuffle: bool, seed: typing.SupportsInt | typing.SupportsIndex, epoch: typing.SupportsInt | typing.SupportsIndex, rank: typing.SupportsInt | typing.SupportsIndex, world: typing.SupportsInt | typing.SupportsIndex, drop_last: bool, consumed: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.uint64], int]:
    """
    This rank's share of an epoch's global order (shuffled, padded or truncated to the world size), after `consumed` global samples, and the global order's length.
    """
def release_shared_pool() -> None:
    """
    Drops the process-wide decode pool (its threads end once no running call uses it; the next call makes a new one). Called before forking worker processes, so the fork copies no engine thread.
    """
def tql_functions() -> list[str]:
    ...
def weighted_draw(weights: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], n: typing.SupportsInt | typing.SupportsIndex, replace: bool, seed: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    Positions drawn with probability proportional to weights (finite, non-negative): n draws with replacement (never a zero weight), or min(n, len) distinct ones without.
    """

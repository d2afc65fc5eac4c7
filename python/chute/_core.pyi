"""
chute's C++ engine (private; use the chute package)
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['CheckoutError', 'ChuteError', 'Dataset', 'DatasetLockedError', 'DecodeError', 'EmptyCommitError', 'FormatError', 'ImageOp', 'InvalidArgument', 'InvalidTensorNameError', 'IoError', 'Loader', 'LoaderColumn', 'OpKind', 'QueryError', 'ResourceError', 'S3Options', 'Tensor', 'TensorDoesNotExistError', 'TensorSpec', 'TensorState', 'VersionControlError', 'copy_rows', 'decode_image', 'encode_image', 'image_shape', 'is_bytes_htype', 'open_segment', 'plan_order', 'release_shared_pool', 'reset_storage_stats', 'storage_stats', 'tql_functions', 'weighted_draw']
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
class VersionControlError(ChuteError, ValueError):
    """
    Version control refused an operation (branch clash, deleting the checked-out branch, a write at a commit that is not a branch head).
    """
class CheckoutError(VersionControlError):
    """
    An address that names no branch or commit, or a branch that already exists.
    """
class EmptyCommitError(VersionControlError):
    """
    commit() of a head without changes.
    """
class S3Options:
    """
    Credentials, endpoint and request limits of an s3:// dataset. Built by chute from `creds`; its repr never shows a secret.
    """
    access_key: str
    endpoint_url: str
    region: str
    def __init__(self) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def addressing(self) -> str:
        """
        'auto', 'path' or 'virtual'
        """
    @addressing.setter
    def addressing(self, arg0: str) -> None:
        ...
    @property
    def backoff_base_ms(self) -> int:
        ...
    @backoff_base_ms.setter
    def backoff_base_ms(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def cache_bytes(self) -> int:
        """
        bound of the chunk cache on disk (0: none)
        """
    @cache_bytes.setter
    def cache_bytes(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def cache_dir(self) -> str:
        """
        local folder of the chunk cache
        """
    @cache_dir.setter
    def cache_dir(self, arg0: str) -> None:
        ...
    @property
    def connect_timeout_ms(self) -> int:
        ...
    @connect_timeout_ms.setter
    def connect_timeout_ms(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_attempts(self) -> int:
        ...
    @max_attempts.setter
    def max_attempts(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_in_flight(self) -> int:
        """
        requests in flight at most
        """
    @max_in_flight.setter
    def max_in_flight(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def multipart_part_size(self) -> int:
        """
        bytes per part (5 MB at least)
        """
    @multipart_part_size.setter
    def multipart_part_size(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def multipart_threshold(self) -> int:
        """
        bytes above which uploads are multipart
        """
    @multipart_threshold.setter
    def multipart_threshold(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def secret_key(self) -> str:
        """
        Write-only: reads give '***'.
        """
    @secret_key.setter
    def secret_key(self, arg1: str) -> None:
        ...
    @property
    def session_token(self) -> str:
        """
        Write-only: reads give '***'.
        """
    @session_token.setter
    def session_token(self, arg1: str) -> None:
        ...
class TensorSpec:
    """
    What Dataset.create_tensor needs; empty values take the format's defaults.
    """
    def __init__(self, *, name: str, htype: str = 'generic', dtype: str = '', sample_compression: str = '', chunk_compression: str = '', max_chunk_size: typing.SupportsInt | typing.SupportsIndex = 0, tiling_threshold: typing.SupportsInt | typing.SupportsIndex = 0, meta_extra_json: str = '{}', info_json: str = '{}') -> None:
        ...
    @property
    def chunk_compression(self) -> str:
        ...
    @property
    def dtype(self) -> str:
        ...
    @property
    def htype(self) -> str:
        ...
    @property
    def max_chunk_size(self) -> int:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def sample_compression(self) -> str:
        ...
    @property
    def tiling_threshold(self) -> int:
        ...
class Tensor:
    def append_array(self, array: numpy.ndarray) -> None:
        ...
    def append_bytes(self, data: bytes, shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> None:
        ...
    def append_compressed(self, data: bytes, compression: str) -> None:
        ...
    def append_many(self, array: numpy.ndarray) -> None:
        """
        Appends a[0], a[1], ... as samples (one shape, one dtype).
        """
    def append_segment(self, desc: str) -> None:
        """
        Appends a sealed segment's rows after this tensor's (published by the next flush).
        """
    def chunk_ends(self) -> numpy.ndarray:
        """
        Where each chunk's rows end (exclusive, ascending): for splitting work along chunk boundaries.
        """
    def clear(self) -> None:
        """
        Drops every row; the chunks are deleted by the next flush.
        """
    def info_json(self) -> str:
        ...
    def make_segment(self) -> Tensor:
        """
        An unpublished tensor with this one's meta and no rows; its chunks go to this tensor's folder.
        """
    def meta_json(self) -> str:
        ...
    def nbytes_on_disk(self) -> int:
        ...
    def num_chunks(self) -> int:
        ...
    def read(self, index: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
        ...
    def read_batch(self, indices: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], num_threads: typing.SupportsInt | typing.SupportsIndex = 0, aslist: bool = False, packed: bool = False) -> typing.Any:
        """
        Decodes the samples on the engine's threads with the GIL released. One stacked array when every shape is equal (and aslist is False), else a list of arrays; with packed=True the list's arrays are views of one buffer holding every sample back to back (each keeps the whole batch alive).
        """
    def reserve_cache(self, bytes: typing.SupportsInt | typing.SupportsIndex) -> None:
        """
        Lets the dataset's chunk cache hold at least `bytes` (never shrinks it).
        """
    def restore_state(self, state: TensorState) -> None:
        ...
    def save_state(self) -> TensorState:
        ...
    def seal_segment(self) -> str:
        """
        Writes and syncs the segment's chunks; returns the JSON description append_segment takes.
        """
    def segment_spec(self) -> str:
        """
        JSON for open_segment in another process.
        """
    def set_info_json(self, info: str) -> None:
        ...
    def shape(self, index: typing.SupportsInt | typing.SupportsIndex) -> tuple:
        ...
    def tobytes(self, index: typing.SupportsInt | typing.SupportsIndex) -> bytes:
        ...
    def update_array(self, index: typing.SupportsInt | typing.SupportsIndex, array: numpy.ndarray) -> None:
        ...
    def update_bytes(self, index: typing.SupportsInt | typing.SupportsIndex, data: bytes, shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> None:
        ...
    def update_compressed(self, index: typing.SupportsInt | typing.SupportsIndex, data: bytes, compression: str) -> None:
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
    def is_segment(self) -> bool:
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
    def create(path: str, overwrite: bool, remote: S3Options = ...) -> Dataset:
        ...
    @staticmethod
    def exists(path: str, remote: S3Options = ...) -> bool:
        ...
    @staticmethod
    def open(path: str, read_only: bool, remote: S3Options = ..., address: str = '') -> Dataset:
        """
        Opens a dataset at a branch's head or a commit (`address`; '' for main).
        """
    @staticmethod
    def remove(path: str, why: str, remote: S3Options = ...) -> None:
        """
        Deletes a dataset; DatasetLockedError while another process writes it.
        """
    @staticmethod
    def validate_name(name: str) -> None:
        ...
    def checkout(self, address: str, create: bool = False) -> str:
        """
        Switches to a branch or commit; create=True makes a branch.
        """
    def collect_orphans(self) -> int:
        """
        Removes chunk and temp files that no index names (what a failed transform wrote).
        """
    def commit(self, message: str | None = None, allow_empty: bool = False, checkpoint: bool = False, samples_processed: typing.SupportsInt | typing.SupportsIndex = 0) -> str:
        """
        Freezes the head as a commit (returns its id) and starts a new head on the branch.
        """
    def create_group(self, name: str) -> None:
        ...
    def create_tensor(self, spec: TensorSpec) -> Tensor:
        """
        Creates a tensor from a TensorSpec (published by the next flush).
        """
    def delete_branch(self, name: str) -> None:
        ...
    def delete_tensor(self, name: str) -> None:
        """
        Removes a tensor and its hidden companions from the head (older commits keep it).
        """
    def detach(self, why: str) -> None:
        """
        Refuses every later write through this handle with `why`.
        """
    def flush(self) -> None:
        ...
    def groups(self) -> list[str]:
        ...
    def has_tensor(self, name: str) -> bool:
        ...
    def hidden_tensor_names(self) -> list[str]:
        ...
    def info_json(self) -> str:
        ...
    def node_changes(self, id: str) -> str:
        """
        JSON of what commit `id` changed (its commit_diff and dataset_diff files).
        """
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
    def reset(self, force: bool = False) -> bool:
        """
        Drops the head's uncommitted changes; False when there were none.
        """
    def set_info_json(self, info: str) -> None:
        ...
    def tensor(self, name: str) -> Tensor:
        ...
    def tensor_names(self) -> list[str]:
        ...
    def version_info_json(self) -> str:
        ...
    @property
    def at_head(self) -> bool:
        ...
    @property
    def branch(self) -> str:
        ...
    @property
    def commit_id(self) -> typing.Any:
        ...
    @property
    def dirty(self) -> bool:
        ...
    @property
    def has_head_changes(self) -> bool:
        ...
    @property
    def is_remote(self) -> bool:
        ...
    @property
    def orphans_collected(self) -> int:
        ...
    @property
    def path(self) -> str:
        ...
    @property
    def pending_commit_id(self) -> str:
        ...
    @property
    def read_only(self) -> bool:
        ...
class OpKind:
    """
    The engine's image ops (chute.ops builds them).
    
    Members:
    
      RandomResizedCrop
    
      Resize
    
      CenterCrop
    
      RandomHorizontalFlip
    
      Normalize
    
      ToCHW
    """
    CenterCrop: typing.ClassVar[OpKind]
    Normalize: typing.ClassVar[OpKind]
    RandomHorizontalFlip: typing.ClassVar[OpKind]
    RandomResizedCrop: typing.ClassVar[OpKind]
    Resize: typing.ClassVar[OpKind]
    ToCHW: typing.ClassVar[OpKind]
    __members__: typing.ClassVar[dict[str, OpKind]]
    @typing.overload
    def __eq__(self, other: OpKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: OpKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class ImageOp:
    """
    One engine image op and its parameters (the fields its kind uses).
    """
    def __init__(self, *, kind: OpKind, height: typing.SupportsInt | typing.SupportsIndex = 0, width: typing.SupportsInt | typing.SupportsIndex = 0, scale: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex] = (0.08, 1.0), ratio: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex] = (0.75, 1.3333333333333333), p: typing.SupportsFloat | typing.SupportsIndex = 0.5, mean: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex] = [], std: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex] = []) -> None:
        ...
    @property
    def height(self) -> int:
        ...
    @property
    def kind(self) -> OpKind:
        ...
    @property
    def mean(self) -> list[float]:
        ...
    @property
    def p(self) -> float:
        ...
    @property
    def ratio(self) -> tuple[float, float]:
        ...
    @property
    def scale(self) -> tuple[float, float]:
        ...
    @property
    def std(self) -> list[float]:
        ...
    @property
    def width(self) -> int:
        ...
class LoaderColumn:
    """
    One tensor a Loader reads: how it is decoded and its image ops.
    """
    def __init__(self, *, tensor: Tensor, name: str, stored_bytes: bool = False, ops: collections.abc.Sequence[ImageOp] = [], channels: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    @property
    def name(self) -> str:
        ...
class Loader:
    def __init__(self, columns: collections.abc.Sequence[LoaderColumn], order: typing.Annotated[numpy.typing.ArrayLike, numpy.uint64], batch_size: typing.SupportsInt | typing.SupportsIndex, drop_last: bool, num_threads: typing.SupportsInt | typing.SupportsIndex, prefetch: typing.SupportsInt | typing.SupportsIndex, ignore_errors: bool, seed: typing.SupportsInt | typing.SupportsIndex, epoch: typing.SupportsInt | typing.SupportsIndex, readahead: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
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
class TensorState:
    """
    A tensor's rows and meta as they were (Tensor.save_state), for Tensor.restore_state.
    """
def copy_rows(columns: collections.abc.Sequence[tuple[Tensor, Tensor, collections.abc.Sequence[ImageOp] | None]], rows: typing.Annotated[numpy.typing.ArrayLike, numpy.uint64], seed: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    The engine-only transform: for each row, each (source tensor, destination segment, image ops or None) column's sample appended to its segment, images decoded, run through the ops and encoded as the destination stores them. The GIL is released throughout.
    """
def decode_image(data: bytes, compression: str) -> numpy.ndarray:
    """
    Decodes a JPEG or PNG to an HWC uint8 array.
    """
def encode_image(array: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], compression: str, quality: typing.SupportsInt | typing.SupportsIndex = 75) -> bytes:
    ...
def image_shape(data: bytes, compression: str) -> tuple:
    """
    The (height, width, channels) a compressed image's header gives.
    """
def is_bytes_htype(htype: str) -> bool:
    """
    True for the htypes whose samples are stored as UTF-8 bytes (text, json, list, tag).
    """
def open_segment(root: str, spec: str, remote: S3Options = ...) -> Tensor:
    """
    A segment (see Tensor.make_segment) of the tensor `spec` names, in the dataset folder `root`: for a worker process, which cannot open the dataset for writing.
    """
def plan_order(rows: typing.Annotated[numpy.typing.ArrayLike, numpy.uint64], shuffle: bool, seed: typing.SupportsInt | typing.SupportsIndex, epoch: typing.SupportsInt | typing.SupportsIndex, rank: typing.SupportsInt | typing.SupportsIndex, world: typing.SupportsInt | typing.SupportsIndex, drop_last: bool, consumed: typing.SupportsInt | typing.SupportsIndex, chunk_ends: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] = [], buffer_rows: typing.SupportsInt | typing.SupportsIndex = 0, interleave: typing.SupportsInt | typing.SupportsIndex = 8) -> tuple[numpy.typing.NDArray[numpy.uint64], int]:
    """
    This rank's share of an epoch's global order (shuffled, padded or truncated to the world size), after `consumed` global samples, and the global order's length. With `chunk_ends` (an object store's dataset) the shuffle is chunk-local through a buffer of `buffer_rows`.
    """
def release_shared_pool() -> None:
    """
    Drops the process-wide decode pool (its threads end once no running call uses it; the next call makes a new one). Called before forking worker processes, so the fork copies no engine thread.
    """
def reset_storage_stats(dataset: ...) -> None:
    ...
def storage_stats(dataset: ...) -> dict:
    """
    HTTP counters of an s3:// dataset's storage ({} for a local one).
    """
def tql_functions() -> list[str]:
    """
    The names of the functions TQL knows.
    """
def weighted_draw(weights: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], n: typing.SupportsInt | typing.SupportsIndex, replace: bool, seed: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    Positions drawn with probability proportional to weights (finite, non-negative): n draws with replacement (never a zero weight), or min(n, len) distinct ones without.
    """
__version__: str = '0.1.0'

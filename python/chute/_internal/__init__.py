"""Helpers shared by chute's subpackages; nothing here is public API.

- `handle`: `DatasetHandle`, the one internal object behind every view of an opened dataset (the
  engine's `_core.Dataset`, the `with ds:` batch depth, the read-only check and the flush rule),
  and the accessors `dataset_handle(ds)` / `tensor_core(t)` through which the loader, the CLI and
  ingestion reach the engine objects of a `Dataset` or a `Tensor`.
- `checks`: argument validation (`check_int`).
- `encoding`: JSON for stored samples and infos, and decoding of stored text / json / list bytes
  (used by tensor reads and by the loader's collate).
- `sampling`: weighted row draws and the SAMPLE BY query text (Dataset.sample_by and the loader).

Modules here import only `chute._core`, `chute.errors` and each other, never `chute.dataset` or
`chute.loader`: the subpackages depend on `_internal`, not the other way round.
"""

"""Deep Lake 3 htypes: their default dtype, the extra keys of their tensor_meta.json and their
tensor_info.json, and the rules a sample must follow."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Unspecified:
    def __repr__(self) -> str:
        return "UNSPECIFIED"


UNSPECIFIED: Any = _Unspecified()


@dataclass(frozen=True)
class HtypeSpec:
    dtype: str | None
    meta_extra: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    compressions: tuple = ("lz4",)


_IMAGE_COMPRESSIONS = ("jpeg", "jpg", "png", "lz4")

HTYPES: dict[str, HtypeSpec] = {
    "generic": HtypeSpec(None, compressions=("lz4", "png", "jpeg", "jpg")),
    "image": HtypeSpec("uint8", {"_info": ["intrinsics"], "intrinsics": None}, {"intrinsics": None}, compressions=_IMAGE_COMPRESSIONS),
    "image.rgb": HtypeSpec("uint8", {"_info": ["intrinsics"], "intrinsics": None}, {"intrinsics": None}, compressions=_IMAGE_COMPRESSIONS),
    "image.gray": HtypeSpec("uint8", {"_info": ["intrinsics"], "intrinsics": None}, {"intrinsics": None}, compressions=_IMAGE_COMPRESSIONS),
    "class_label": HtypeSpec(
        "uint32",
        {"_disable_temp_transform": False, "_info": ["class_names"], "class_names": []},
        {"class_names": []},
    ),
    "bbox": HtypeSpec("float32", {"_info": ["coords"], "coords": {}}, {"coords": {}}),
    "text": HtypeSpec("str", {"vdb_indexes": []}),
    "json": HtypeSpec("Any"),
    "list": HtypeSpec("List"),
    "embedding": HtypeSpec("float32", {"vdb_indexes": []}),
    "binary_mask": HtypeSpec("bool"),
}


def spec(htype: str) -> HtypeSpec:
    try:
        return HTYPES[htype]
    except KeyError:
        raise ValueError(f"htype '{htype}' is not supported; choose one of {sorted(HTYPES)}") from None


def is_image(htype: str) -> bool:
    return htype.startswith("image")

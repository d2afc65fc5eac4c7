"""Storage options of a dataset path: credentials for s3:// paths (found as Deep Lake 3 and boto3
find them) and the on-disk chunk cache. The public face is chute.remote; this module sits in
_internal so that the dataset handle can use it without importing a capability subpackage."""
from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from typing import Any

from chute import _core

CREDS_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "endpoint_url", "aws_region",
              "region", "profile_name", "addressing_style", "max_in_flight", "multipart_threshold",
              "multipart_part_size", "connect_timeout", "max_attempts", "backoff_base")


def is_remote(path: str) -> bool:
    """True for a path the engine serves from an object store."""
    return str(path).startswith("s3://")


def _profile(name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    cred_file = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", os.path.expanduser("~/.aws/credentials"))
    conf_file = os.environ.get("AWS_CONFIG_FILE", os.path.expanduser("~/.aws/config"))
    for path, section in ((conf_file, name if name == "default" else f"profile {name}"), (cred_file, name)):
        if not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error as e:
            raise ValueError(f"cannot read the AWS profile file '{path}': {type(e).__name__}") from None
        if parser.has_section(section):
            out.update(parser.items(section))
    return out


def s3_options(creds: Mapping[str, Any] | None = None) -> _core.S3Options:
    """The engine's options for `creds` (a Deep Lake 3 creds dict), the environment and profiles."""
    if creds is not None and not isinstance(creds, Mapping):
        raise TypeError(f"creds must be a dict, not {type(creds).__name__}")
    creds = dict(creds or {})
    unknown = sorted(k for k in creds if k not in CREDS_KEYS)
    if unknown:
        raise ValueError(f"unknown creds key(s) {unknown}; chute takes {list(CREDS_KEYS)}")
    env = os.environ
    profile = _profile(creds.get("profile_name") or env.get("AWS_PROFILE") or "default")
    if creds.get("profile_name") and not profile:
        raise ValueError(f"no AWS profile '{creds['profile_name']}' in ~/.aws/credentials or ~/.aws/config")

    def pick(key: str, env_names: tuple[str, ...], profile_key: str | None = None) -> str:
        if creds.get(key):
            return str(creds[key])
        for name in env_names:
            if env.get(name):
                return env[name]
        return profile.get(profile_key or key, "") if profile_key != "" else ""

    o = _core.S3Options()
    access = pick("aws_access_key_id", ("AWS_ACCESS_KEY_ID",))
    secret = pick("aws_secret_access_key", ("AWS_SECRET_ACCESS_KEY",))
    if bool(access) != bool(secret):
        raise ValueError("S3 credentials need both aws_access_key_id and aws_secret_access_key (one of them is missing)")
    o.access_key = access
    o.secret_key = secret
    o.session_token = pick("aws_session_token", ("AWS_SESSION_TOKEN",))
    o.region = str(creds.get("aws_region") or creds.get("region") or "") or pick("aws_region", ("AWS_REGION", "AWS_DEFAULT_REGION"), "region")
    o.endpoint_url = pick("endpoint_url", ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"))
    o.addressing = str(creds.get("addressing_style", "auto"))
    for key, attr, scale in (("max_in_flight", "max_in_flight", 1), ("multipart_threshold", "multipart_threshold", 1),
                             ("multipart_part_size", "multipart_part_size", 1), ("max_attempts", "max_attempts", 1),
                             ("connect_timeout", "connect_timeout_ms", 1000), ("backoff_base", "backoff_base_ms", 1000)):
        if key in creds:
            value = creds[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"creds['{key}'] must be a positive number, not {value!r}")
            setattr(o, attr, int(value * scale))
    return o


def cache_dir(path: str) -> str:
    """Where the chunk cache of the object-store dataset `path` lives: $CHUTE_CACHE_DIR (default
    ~/.cache/chute) / s3 / bucket / prefix."""
    base = os.environ.get("CHUTE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "chute")
    return os.path.join(base, "s3", *[p for p in str(path)[len("s3://"):].split("/") if p])


def storage_options(path: str, creds: Mapping[str, Any] | None = None, local_cache_size: int = 0) -> _core.S3Options:
    """s3_options(creds) for an object-store path, with a chunk cache of `local_cache_size` MB on
    local disk (Deep Lake 3's argument; 0: none); defaults (nothing read) for a local path, where
    creds are ignored as Deep Lake 3 ignores them."""
    if not is_remote(path):
        return _core.S3Options()
    o = s3_options(creds)
    if local_cache_size:
        if not isinstance(local_cache_size, int) or isinstance(local_cache_size, bool) or local_cache_size < 0:
            raise ValueError(f"local_cache_size is in MB and must be a positive int, not {local_cache_size!r}")
        o.cache_dir = cache_dir(path)
        o.cache_bytes = local_cache_size << 20
    return o

"""Object storage: datasets at ``s3://bucket/prefix`` on Amazon S3 or any S3-compatible server.

The engine reads and writes the objects itself (``chute._core``: HTTP on libcurl with keep-alive and
many requests in flight, Signature V4, byte-range GETs, retries with backoff); Python only turns
``creds`` into the engine's options. Credentials are looked up as Deep Lake 3 and boto3 do:

1. ``creds={"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "endpoint_url",
   "aws_region"}`` (plus ``profile_name``, and chute's own ``addressing_style``, ``max_in_flight``,
   ``multipart_threshold``, ``connect_timeout``, ``max_attempts``);
2. the ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` / ``AWS_REGION``
   (or ``AWS_DEFAULT_REGION``) / ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) variables;
3. the ``AWS_PROFILE`` (or ``default``) profile of ``~/.aws/credentials`` and ``~/.aws/config``
   (``AWS_SHARED_CREDENTIALS_FILE`` and ``AWS_CONFIG_FILE`` move them).

No credentials at all means anonymous requests (public buckets). Secrets never appear in an
error, a log line or a ``repr``.
"""
from __future__ import annotations

from chute._internal.storage import CREDS_KEYS, cache_dir, is_remote, s3_options, storage_options

__all__ = ["is_remote", "s3_options", "storage_options", "cache_dir", "CREDS_KEYS"]

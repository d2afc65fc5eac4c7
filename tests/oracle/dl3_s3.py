"""Oracle on object storage: dl3_write.py and dl3_read.py against an S3-compatible server.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_s3.py write s3://bucket/prefix EXPECTED_PKL CREDS_JSON
    python dl3_s3.py read  s3://bucket/prefix OUT_PKL CREDS_JSON

CREDS_JSON is the creds dict deeplake.empty / deeplake.load take (aws_access_key_id,
aws_secret_access_key, endpoint_url, ...). The datasets and pickles are those of dl3_write.py
and dl3_read.py; only the location and the credentials differ.
"""

import json
import pickle
import sys

import deeplake  # noqa: E402
import dl3_offline  # noqa: E402,F401  (before deeplake: no network I/O)
import dl3_read
import dl3_write


def main(argv):
    if len(argv) != 5 or argv[1] not in ("write", "read"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, url, out, creds = argv[1], argv[2], argv[3], json.loads(argv[4])
    empty, load = deeplake.empty, deeplake.load
    # dl3_write / dl3_read call deeplake.empty / deeplake.load with a path: give them the creds.
    dl3_write.deeplake.empty = lambda path, **kw: empty(path, creds=creds, **kw)
    dl3_read.deeplake.load = lambda path, **kw: load(path, creds=creds, **kw)
    try:
        result = dl3_write.write(url) if mode == "write" else dl3_read.read(url)
    finally:
        deeplake.empty, deeplake.load = empty, load
    with open(out, "wb") as f:
        pickle.dump(result, f, protocol=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

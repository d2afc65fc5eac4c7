"""An S3-compatible server for tests and benchmarks (moto's standalone server on 127.0.0.1, with
Signature V4 checked against a real IAM key) and a fault-injecting HTTP proxy to put in front of it.

The proxy forwards each HTTP/1.1 request on its own upstream connection (keep-alive on both sides)
and can add latency, drop connections, answer 503 SlowDown or cut a response body short. Faults are
counted per request, so a run is reproducible: `every=3` hits the 3rd, 6th, 9th... request; a
request that was faulted once passes when it is retried (transient faults), unless `persistent`.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """moto_server on 127.0.0.1 with IAM authentication on: requests must be signed with the key
    `creds` holds (wrong keys get 403, as on AWS)."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4", MOTO_ALLOW_NONEXISTENT_REGION="1")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.close()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, aws_access_key_id="setup",
                           aws_secret_access_key="setup", region_name="us-east-1")
        iam.create_user(UserName="chute")
        iam.put_user_policy(UserName="chute", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="chute")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                               aws_secret_access_key=self.secret_key, region_name="us-east-1")
        self._buckets = 0

    def creds(self, endpoint: str | None = None) -> dict:
        return {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key,
                "endpoint_url": endpoint or self.endpoint, "aws_region": "us-east-1"}

    def bucket(self) -> str:
        """A new empty bucket."""
        self._buckets += 1
        name = f"chute-test-{self._buckets}"
        self.s3.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out, token = [], None
        while True:
            kw = {"Bucket": bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            r = self.s3.list_objects_v2(**kw)
            out += [o["Key"] for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                return out
            token = r["NextContinuationToken"]

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Faults:
    latency_ms: float = 0.0
    drop_every: int = 0        # close the connection instead of answering
    slowdown_every: int = 0    # answer 503 SlowDown
    truncate_every: int = 0    # send half of a GET's body, then close
    only_method: str = ""      # faults (not latency) only for this method ("GET")
    persistent: bool = False   # fault a retried request again (else each request is faulted once)
    requests: int = 0
    faulted: set = field(default_factory=set)
    injected: dict = field(default_factory=lambda: {"drop": 0, "slowdown": 0, "truncate": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, **kw) -> None:
        """Replaces every fault setting (those not named go back to none) and resets the counters."""
        with self.lock:
            defaults = {"latency_ms": 0.0, "drop_every": 0, "slowdown_every": 0, "truncate_every": 0, "only_method": "",
                        "persistent": False}
            for k, v in {**defaults, **kw}.items():
                setattr(self, k, v)
            self.requests = 0
            self.faulted = set()
            self.injected = {"drop": 0, "slowdown": 0, "truncate": 0}

    def decide(self, method: str, signature: tuple) -> tuple[float, str]:
        with self.lock:
            self.requests += 1
            n = self.requests
            fault = ""
            again = signature in self.faulted and not self.persistent
            if not again and (not self.only_method or method == self.only_method):
                for name, every in (("drop", self.drop_every), ("slowdown", self.slowdown_every),
                                    ("truncate", self.truncate_every)):
                    if every and n % every == 0:
                        fault = name
                        break
            if fault == "truncate" and method != "GET":
                fault = ""
            if fault:
                self.injected[fault] += 1
                self.faulted.add(signature)
            return self.latency_ms / 1000.0, fault


_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 in front of `upstream_port`, injecting `faults`."""

    def __init__(self, upstream_port: int):
        self.faults = Faults()
        upstream = upstream_port
        faults = self.faults

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
                try:
                    while self._one(conn):
                        pass
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    conn.close()

            def _one(self, conn) -> bool:
                line = self.rfile.readline(65537)
                if not line or not line.strip():
                    return False
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = []
                while True:
                    h = self.rfile.readline(65537)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, v = h.decode("latin-1").split(":", 1)
                    headers.append((k.strip(), v.strip()))
                length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
                body = self.rfile.read(length) if length else b""
                rng = next((v for k, v in headers if k.lower() == "range"), "")
                delay, fault = faults.decide(method, (method, target, rng))
                if delay:
                    time.sleep(delay)
                if fault == "drop":
                    return False
                if fault == "slowdown":
                    msg = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                           b"<Message>Please reduce your request rate.</Message></Error>")
                    self.wfile.write(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                                     b"Content-Length: " + str(len(msg)).encode() + b"\r\n\r\n" + msg)
                    self.wfile.flush()
                    return True
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    if k.lower() not in _HOP:
                        conn.putheader(k, v)
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
                out = [f"HTTP/1.1 {resp.status} {resp.reason}\r\n".encode("latin-1")]
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP and k.lower() != "content-length":
                        out.append(f"{k}: {v}\r\n".encode("latin-1"))
                if method != "HEAD":
                    out.append(f"Content-Length: {len(data)}\r\n".encode())
                else:
                    cl = resp.getheader("Content-Length")
                    if cl is not None:
                        out.append(f"Content-Length: {cl}\r\n".encode())
                out.append(b"\r\n")
                if fault == "truncate" and len(data) > 1:
                    self.wfile.write(b"".join(out) + data[: len(data) // 2])
                    self.wfile.flush()
                    return False
                self.wfile.write(b"".join(out) + (data if method != "HEAD" else b""))
                self.wfile.flush()
                return True

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True
            # socketserver's default backlog is 5: a client opening 8 connections at once had one
            # SYN dropped and retried a second later (a 1 s first batch that was the proxy's)
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv=None) -> None:
    """`python tests/s3_server.py moto` starts a server and prints "endpoint access_key secret_key";
    `python tests/s3_server.py proxy UPSTREAM_PORT LATENCY_MS` starts a proxy in this process and
    prints its endpoint. Both run until stdin closes (benchmarks keep them out of their own process)."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["moto", "proxy"])
    p.add_argument("upstream", nargs="?", type=int)
    p.add_argument("latency_ms", nargs="?", type=float, default=0.0)
    a = p.parse_args(argv)
    if a.what == "moto":
        server = MotoServer()
        print(server.endpoint, server.access_key, server.secret_key, server.proc.pid, flush=True)
        sys.stdin.read()
        server.close()
    else:
        proxy = FaultProxy(a.upstream)
        proxy.faults.set(latency_ms=a.latency_ms)
        print(proxy.endpoint, flush=True)
        sys.stdin.read()
        proxy.close()


if __name__ == "__main__":
    main()

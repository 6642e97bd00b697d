"""A fast local HTTP/1.1 keep-alive server for the benchmarks, in a process of its own.

asyncio protocol callbacks, no framework: a request costs the server a few
microseconds of CPU, so the clients are what is measured. Each answer is a real
``send-sms`` answer, sent ``--latency`` seconds after its request arrived (a
timer, not a sleeping task), in order per connection. ``GET /__stats`` answers
the requests served and the server's CPU seconds so far, so that a run can show
the server was far from saturated. ``--cert``/``--key`` serve HTTPS.

Run as ``python -m benchmarks.server [--latency S] [--cert PEM --key PEM]``; it
prints ``PORT`` once listening on 127.0.0.1 and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

ANSWER_BODY = json.dumps(
    {
        "ok": True,
        "status": 200,
        "message": "Message sent successfully",
        "data": {
            "to": "+11234567890",
            "content": "Benchmark message",
            "country_code": "United States",
            "price": 0.15,
            "timestamp": 1676842652256,
        },
    }
).encode()


def _answer(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


ANSWER = _answer(ANSWER_BODY)
_DEFAULT_TO = b'"+11234567890"'


def _answer_to(request_body: bytes) -> bytes:
    """The send's answer about the number the request sent to, as TextFlow answers (the
    SDK checks it): the prepared one when it is the default number."""
    try:
        number = json.loads(request_body).get("phone_number")
    except (ValueError, AttributeError):
        return ANSWER
    if not isinstance(number, str) or number == "+11234567890":
        return ANSWER
    return _answer(ANSWER_BODY.replace(_DEFAULT_TO, json.dumps(number).encode(), 1))


class _Stats:
    requests = 0


class _Connection(asyncio.Protocol):
    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._buffer = b""
        self._transport: Optional[asyncio.Transport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            request_body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            if head.startswith(b"GET /__stats"):
                body = json.dumps({"requests": _Stats.requests, "cpu": time.process_time()})
                self._send(_answer(body.encode()))
                continue
            _Stats.requests += 1
            answer = _answer_to(request_body) if request_body else ANSWER
            if self._latency:
                asyncio.get_running_loop().call_later(self._latency, self._send, answer)
            else:
                self._send(answer)

    def _send(self, answer: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(answer)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._transport = None


async def _serve(latency: float, tls: Optional[ssl.SSLContext]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Connection(latency), "127.0.0.1", 0, backlog=4096, ssl=tls
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin
    server.close()


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now: ``(cert.pem, key.pem)``.

    With the ``cryptography`` package if it is installed, else the ``openssl`` binary.
    """
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _certificate_with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("TLS needs the cryptography package or the openssl binary") from None
        request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        subprocess.run(
            [openssl, *request, *subject, "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return cert, key


def _certificate_with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class Server:
    """The server's child process: its base URL and its counters."""

    def __init__(self, latency: float = 0.0, tls: Optional[tuple[Path, Path]] = None) -> None:
        command = [sys.executable, "-m", "benchmarks.server", "--latency", str(latency)]
        if tls is not None:
            command += ["--cert", str(tls[0]), "--key", str(tls[1])]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the benchmark server did not start (exit {self.proc.poll()})")
        self.port = int(line)
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}/api"
        self._tls = tls
        self.latency = latency

    def stats(self) -> tuple[int, float]:
        """``(requests served, server CPU seconds)`` so far."""
        import http.client

        if self._tls is None:
            conn: http.client.HTTPConnection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30
            )
        else:
            context = ssl.create_default_context(cafile=str(self._tls[0]))
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=context)
        try:
            conn.request("GET", "/__stats")
            stats = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        return stats["requests"], stats["cpu"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def running(latency: float = 0.0, tls: Optional[tuple[Path, Path]] = None) -> Iterator[Server]:
    server = Server(latency, tls)
    try:
        yield server
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    asyncio.run(_serve(args.latency, tls))


if __name__ == "__main__":
    main()

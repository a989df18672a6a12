"""Compressed responses: brotli (or gzip for clients without it) for HTML, JS, CSS and JSON, including Dash's
component suites and the callback responses.

Two layers, registered so the static one sees each response first:
- Static files (Dash's /_dash-component-suites/ bundles and /assets/) are served at brotli's best quality, ~8 %
  smaller than a fast level. That costs seconds of CPU per megabyte, so it is done once per machine: the result is
  kept by content hash in memory and in a directory under the system temp folder (shared by every worker and
  every restart). Until a file's best version exists, requests get a fast brotli while one background thread
  prepares the best one.
- Everything else (the index page, _dash-layout, callback JSON) goes through Flask-Compress at a fast level.

Must not import Dash layouts, callbacks, models or sync.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import queue
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import brotli
from flask import Flask, Request, Response, request
from flask_compress import Compress

log = logging.getLogger(__name__)

COMPRESSED_TYPES = (
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "application/json",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")
MIN_SIZE = 500  # below this, the encoding header costs more than it saves
BEST_BROTLI_QUALITY = 11
FAST_BROTLI_QUALITY = 5
STATIC_GZIP_LEVEL = 9  # fast enough to do inline
MEMORY_ENTRIES = 96  # distinct static files x encodings; a Dash app serves a few dozen
CACHE_DIR = Path(os.environ.get("KPI_COMPRESSED_CACHE", Path(tempfile.gettempdir()) / "kpi-dashboard-compressed"))


class CompressedStatic:
    """Compressed bodies by (encoding, sha256 of the body): content-addressed, so a changed file is simply a new
    entry and nothing ever needs invalidating."""

    def __init__(self, directory: Path, size: int = MEMORY_ENTRIES) -> None:
        self.directory = directory
        self.size = size
        self.items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.pending: set[str] = set()
        self.work: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.worker: threading.Thread | None = None

    def get(self, encoding: str, body: bytes) -> bytes:
        digest = hashlib.sha256(body).hexdigest()
        if encoding == "gzip":
            return self._remembered(("gzip", digest)) or self._remember(
                ("gzip", digest), gzip.compress(body, compresslevel=STATIC_GZIP_LEVEL, mtime=0)
            )
        best = self._remembered(("br", digest)) or self._from_disk(digest)
        if best is not None:
            return best
        self._prepare_later(digest, body)
        return brotli.compress(body, quality=FAST_BROTLI_QUALITY)

    def prepare_now(self, body: bytes) -> bytes:
        """The best brotli of `body`, computed here if needed (the background thread and tests call this)."""
        digest = hashlib.sha256(body).hexdigest()
        best = self._remembered(("br", digest)) or self._from_disk(digest)
        if best is None:
            best = brotli.compress(body, quality=BEST_BROTLI_QUALITY)
            self._to_disk(digest, best)
            self._remember(("br", digest), best)
        return best

    def _remembered(self, key: tuple[str, str]) -> bytes | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def _remember(self, key: tuple[str, str], data: bytes) -> bytes:
        with self.lock:
            self.items[key] = data
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return data

    def _from_disk(self, digest: str) -> bytes | None:
        try:
            data = (self.directory / f"{digest}.br").read_bytes()
        except OSError:
            return None
        return self._remember(("br", digest), data)

    def _to_disk(self, digest: str, data: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.directory / f"{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
            partial.write_bytes(data)
            os.replace(partial, self.directory / f"{digest}.br")  # atomic: readers never see half a file
        except OSError as exc:  # a read-only disk only costs the next process the work again
            log.info("cannot keep compressed file in %s: %s", self.directory, exc)

    def _prepare_later(self, digest: str, body: bytes) -> None:
        with self.lock:
            if digest in self.pending:
                return
            self.pending.add(digest)
            if self.worker is None or not self.worker.is_alive():
                self.worker = threading.Thread(target=self._work, name="kpi-compress", daemon=True)
                self.worker.start()
        self.work.put((digest, body))

    def _work(self) -> None:
        while True:
            digest, body = self.work.get()
            try:
                self.prepare_now(body)
            except Exception:  # the fast version keeps being served; log and go on
                log.exception("best compression failed")
            finally:
                with self.lock:
                    self.pending.discard(digest)


STATIC_CACHE = CompressedStatic(CACHE_DIR)


def accepted_encoding(req: Request) -> str | None:
    """The encoding to answer with: br when the client takes it, else gzip, else None."""
    accepted = set()
    for part in req.headers.get("Accept-Encoding", "").split(","):
        name, _, params = part.partition(";")
        quality = params.strip().lower().removeprefix("q=").strip() if params else "1"
        try:
            refused = float(quality) <= 0  # "q=0", "q=0.0", "q=0.000": the client refuses it
        except ValueError:
            refused = False
        if not refused:
            accepted.add(name.strip().lower())
    if "br" in accepted:
        return "br"
    if "gzip" in accepted:
        return "gzip"
    return None


def compress_static(response: Response) -> Response:
    """Best-quality, cached compression for the static bundles; other responses pass through untouched."""
    if (
        request.method != "GET"
        or not request.path.startswith(STATIC_PREFIXES)
        or response.status_code != 200
        or "Content-Encoding" in response.headers
        or "Range" in request.headers
        or response.mimetype not in COMPRESSED_TYPES
    ):
        return response
    encoding = accepted_encoding(request)
    vary = response.headers.get("Vary", "")
    if "accept-encoding" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if encoding is None:
        return response
    response.direct_passthrough = False  # static files arrive as a file wrapper; read it once
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(STATIC_CACHE.get(encoding, body))
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(f"{etag}:{encoding}")
        response.make_conditional(request)  # a revalidation with the encoded ETag gets a 304
    return response


def init_compression(server: Flask) -> None:
    """Register both layers. Flask runs after_request hooks in reverse order of registration: Flask-Compress is
    registered first, the static layer second, so the static layer sees each response first and Flask-Compress
    leaves what it already encoded alone (it skips responses that carry a Content-Encoding)."""
    server.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    server.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br"])
    server.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_TYPES))
    server.config.setdefault("COMPRESS_BR_LEVEL", 5)
    server.config.setdefault("COMPRESS_LEVEL", 6)
    server.config.setdefault("COMPRESS_MIN_SIZE", MIN_SIZE)
    Compress(server)
    server.after_request(compress_static)

"""Compressed responses: brotli (or gzip for clients without it) for HTML, JS, CSS and JSON, including Dash's
component suites and the callback responses.

Two layers, registered so the static one sees each response first:
- Static files (Dash's /_dash-component-suites/ bundles and /assets/) are served at brotli's best quality, ~8 %
  smaller than a fast level. That costs seconds of CPU per megabyte, so it is done once per machine: the result is
  kept by content hash in memory and in a private directory (shared by every worker and every restart of this
  user). Until a file's best version exists, requests get a fast brotli while one background thread prepares the
  best one.
- The directory is trusted for nothing: it is used only when it is a real directory (no symlink) owned by this
  process's user and closed to everyone else (0700; a wider mode is tightened, another owner means no file cache),
  and a file read from it is served only after it decompresses to exactly the bytes it is named after (its
  SHA-256), once per file and process. A planted or truncated file is deleted, and the best version made anew.
- Everything else (the index page, _dash-layout, callback JSON) goes through Flask-Compress at a fast level.

Must not import Dash layouts, callbacks, models or sync.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import queue
import stat
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


def cache_directory() -> Path | None:
    """KPI_COMPRESSED_CACHE, else a folder of this user's under the system temp folder; set empty: no file cache."""
    configured = os.environ.get("KPI_COMPRESSED_CACHE")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    return Path(tempfile.gettempdir()) / f"kpi-dashboard-compressed-{os.getuid()}"


def private_directory(directory: Path) -> bool:
    """True when `directory` is (or has just been made) a real directory of this user that nobody else may open.

    A symlink or another owner is refused (someone else could put files there); a mode wider than 0700 on our own
    directory is tightened (what is already in it is checked file by file anyway)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            reason = "it is not a plain directory (a symlink?)"
        elif info.st_uid != os.getuid():
            reason = f"it belongs to user id {info.st_uid}, not to this process's {os.getuid()}"
        else:
            if stat.S_IMODE(info.st_mode) & 0o077:
                os.chmod(directory, 0o700)
            return True
    except OSError as exc:
        reason = str(exc)
    log.warning(
        "not keeping compressed files in %s: %s; set KPI_COMPRESSED_CACHE to a private folder", directory, reason
    )
    return False


class CompressedStatic:
    """Compressed bodies by (encoding, sha256 of the body): content-addressed, so a changed file is simply a new
    entry and nothing ever needs invalidating."""

    def __init__(self, directory: Path | None, size: int = MEMORY_ENTRIES) -> None:
        self.directory = directory
        self._checked_directory: bool | None = None  # private_directory(), asked once on first use
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

    def _usable_directory(self) -> Path | None:
        if self.directory is None:
            return None
        if self._checked_directory is None:
            self._checked_directory = private_directory(self.directory)
        return self.directory if self._checked_directory else None

    def _from_disk(self, digest: str) -> bytes | None:
        """The file named after `digest`, if it really is the best brotli of that content."""
        directory = self._usable_directory()
        if directory is None:
            return None
        path = directory / f"{digest}.br"
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as file:
                data = file.read()
        except OSError:
            return None
        if not _decompresses_to(data, digest):
            log.warning("deleted %s: it is not the compressed file of the content it is named after", path)
            path.unlink(missing_ok=True)
            return None
        return self._remember(("br", digest), data)

    def _to_disk(self, digest: str, data: bytes) -> None:
        directory = self._usable_directory()
        if directory is None:
            return
        partial = directory / f"{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(partial, directory / f"{digest}.br")  # atomic: readers never see half a file
        except OSError as exc:  # a read-only disk only costs the next process the work again
            partial.unlink(missing_ok=True)
            log.info("cannot keep compressed file in %s: %s", directory, exc)

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


def _decompresses_to(data: bytes, digest: str) -> bool:
    try:
        return hashlib.sha256(brotli.decompress(data)).hexdigest() == digest
    except brotli.error:
        return False


STATIC_CACHE = CompressedStatic(cache_directory())


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

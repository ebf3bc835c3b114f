"""Downloading data files: a cache directory, MD5 checks, atomic writes and clear offline errors.

Files land in ``<root>/...`` where ``root`` defaults to ``$MINIGRAD_DATA`` or ``~/.cache/minigrad``.
A download is written to a temporary file in the target folder, checked against its known MD5 and
only then renamed into place (``os.replace`` is atomic), so an interrupted or corrupt download
never leaves a file that looks valid.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

_CHUNK = 1 << 20
_TIMEOUT_S = 60


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$MINIGRAD_DATA``, else ``~/.cache/minigrad``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("MINIGRAD_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "minigrad"


def md5sum(path: str | os.PathLike) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, out) -> None:
    """Copy the body at ``url`` into the open binary file ``out`` (the only function that touches the network)."""
    import urllib.request  # here, not at the top: it pulls in ssl and email, slow to import for everyone

    request = urllib.request.Request(url, headers={"User-Agent": "minigrad"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)


def _by_hand(path: Path, urls: Sequence[str], md5: str) -> str:
    return f"download it by hand from {urls[0]} (md5 {md5}) and put it at {path}"


def download(urls: Sequence[str], path: Path, md5: str, who: str) -> Path:
    """Download ``path`` from the first of ``urls`` that works and has the right MD5.

    Raises ``RuntimeError`` naming the file, every URL tried with its error, and where to put the
    file by hand. Nothing is left at ``path`` unless the checksum matched.
    """
    import http.client

    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out)
            actual = md5sum(tmp)
            if actual != md5:
                failures.append(f"{url}: checksum mismatch (md5 {actual}, expected {md5}); the download was discarded")
                continue
            os.replace(tmp, path)
            return path
        except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts, cut-off bodies
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    tried = "\n".join(f"  - {f}" for f in failures)
    raise RuntimeError(
        f"{who}: could not download {path.name}. Tried:\n{tried}\n"
        f"If this machine is offline, {_by_hand(path, urls, md5)}."
    )


def ensure_file(urls: Sequence[str], path: Path, md5: str, download_missing: bool, who: str) -> Path:
    """Return ``path`` once it exists with the right MD5, downloading it if allowed.

    A cached file with a wrong checksum is replaced when ``download_missing`` is set, and reported
    otherwise; a missing file without ``download_missing`` gives an error saying how to get it.
    """
    if path.is_file():
        actual = md5sum(path)
        if actual == md5:
            return path
        if not download_missing:
            raise RuntimeError(
                f"{who}: {path} is corrupt or incomplete (md5 {actual}, expected {md5}). Delete it and pass "
                f"download=True, or {_by_hand(path, urls, md5)}."
            )
    elif not download_missing:
        raise RuntimeError(
            f"{who}: dataset file not found: {path}. Pass download=True to fetch it, or {_by_hand(path, urls, md5)}."
        )
    return download(urls, path, md5, who)

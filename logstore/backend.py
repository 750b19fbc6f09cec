"""The store's files, in a folder or under an S3 prefix, through ``pyarrow.fs``: one code path.

Reads, listings and S3 writes go through pyarrow's file systems. A folder store writes with the OS
calls directly, because clients' data must be created private (files 0600 in 0700 folders, by
open mode, never chmod afterwards) and appear whole: a temporary sibling (``.name.xxxx.tmp``),
fsync, then ``os.replace``. On S3 a single PUT (or a completed multipart upload) is atomic, so an
object is written in place. Names starting with a dot are temporaries and never listed as parts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ENDPOINT_ENVS = ("AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")  # the first set wins


class StoreError(ValueError):
    """A store address, a part or a record that cannot be used; the message names it."""


@dataclass(frozen=True)
class Entry:
    """One file of the store: its path inside the store (``/``-separated) and its size."""

    rel: str
    size: int


class Backend:
    """A store's root (a local folder, or ``bucket/prefix`` on S3) and its file system."""

    def __init__(self, uri: str, fs: pafs.FileSystem, root: str, local: bool) -> None:
        self.uri, self.fs, self.root, self.local = uri, fs, root.rstrip("/"), local

    @classmethod
    def open(cls, uri: str | Path, env: dict[str, str] | None = None) -> Backend:
        """A folder path (or ``file://``) or ``s3://bucket/prefix``; anything else is refused."""
        env = dict(os.environ) if env is None else env
        text = str(uri)
        if isinstance(uri, Path) or "://" not in text:
            return cls._folder(text, text)
        parsed = urlparse(text)
        if parsed.scheme == "file":
            return cls._folder(text, parsed.path)
        if parsed.scheme != "s3":
            raise StoreError(
                f"{text}: a log store is a folder or s3://bucket/prefix, not a {parsed.scheme}:// address"
            )
        if not parsed.netloc:
            raise StoreError(f"{text}: an S3 log store needs a bucket (s3://bucket/prefix)")
        return cls(text, _s3(text, env), f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/"), False)

    @classmethod
    def _folder(cls, uri: str, path: str) -> Backend:
        if not path:
            raise StoreError("the log store's folder is empty: give a folder or s3://bucket/prefix")
        folder = Path(path).expanduser().absolute()
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{uri}: the log store must be a folder, and this is a file")
        return cls(uri, pafs.LocalFileSystem(), str(folder), True)

    def __str__(self) -> str:
        return self.uri

    def full(self, rel: str) -> str:
        """The file system's path of ``rel``."""
        return f"{self.root}/{rel}" if rel else self.root

    def name(self, rel: str) -> str:
        """``rel`` as a person finds it: a local path, or an ``s3://`` address."""
        return self.full(rel) if self.local else f"s3://{self.full(rel)}"

    def files(self, prefix: str) -> list[Entry]:
        """Every file under ``prefix`` (recursively), temporaries left out, sorted by path."""
        selector = pafs.FileSelector(self.full(prefix), recursive=True, allow_not_found=True)
        out = []
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and not info.base_name.startswith("."):
                out.append(Entry(info.path[len(self.root) + 1 :], info.size or 0))
        return sorted(out, key=lambda e: e.rel)

    def read_bytes(self, rel: str) -> bytes:
        """A whole (small) file: a host record or an outcome export."""
        with self.fs.open_input_stream(self.full(rel)) as fh:
            return fh.read()

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        """A Parquet part (only ``columns``); a damaged one is a StoreError naming it."""
        try:
            with self.fs.open_input_file(self.full(rel)) as fh:
                return pq.ParquetFile(fh).read(columns=columns)
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(f"{self.name(rel)}: not a readable Parquet part ({exc})") from None

    def put(self, rel: str, data: bytes) -> None:
        """Write ``rel`` whole or not at all (see the module's docstring)."""
        if not self.local:
            with self.fs.open_output_stream(self.full(rel)) as out:
                out.write(data)
            return
        target = Path(self.full(rel))
        private_dirs(target.parent)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete(self, rel: str) -> None:
        """Remove one file (already gone is fine)."""
        with contextlib.suppress(FileNotFoundError):
            if self.local:
                os.unlink(self.full(rel))
            else:
                self.fs.delete_file(self.full(rel))

    def delete_tree(self, rel: str) -> None:
        """Remove a folder and everything in it; locally it first leaves its name in one rename."""
        if not self.local:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_dir(self.full(rel))
            return
        folder = Path(self.full(rel))
        trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(4)}")
        try:
            os.replace(folder, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash)

    def temporaries(self, prefix: str) -> list[Path]:
        """Temporaries a killed writer left under ``prefix`` (a folder store only; S3 has none)."""
        if not self.local or not Path(self.full(prefix)).is_dir():
            return []
        return sorted(
            p
            for p in Path(self.full(prefix)).rglob(".*")
            if p.name.endswith(".tmp") or p.name.startswith(".trash-")
        )


def private_dirs(folder: Path) -> None:
    """Create ``folder`` and every missing parent 0700 (``os.makedirs`` gives the mode only to the last)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)


def _s3(uri: str, env: dict[str, str]) -> pafs.S3FileSystem:
    """The S3 file system of the usual variables: keys, region, and an endpoint for radosgw."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise StoreError(f"{uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for an S3 log store")
    kwargs: dict[str, object] = {
        "access_key": key,
        "secret_key": secret,
        "session_token": env.get("AWS_SESSION_TOKEN") or None,
        "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        "connect_timeout": 10,
        "request_timeout": 60,
    }
    endpoint = next((env[k] for k in ENDPOINT_ENVS if env.get(k)), None)
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise StoreError(f"the S3 endpoint {endpoint!r} is not http(s)://host:port")
        kwargs.update(endpoint_override=parsed.netloc, scheme=parsed.scheme)
        # The AWS SDK inside pyarrow sends uploads aws-chunked with a trailing checksum unless told
        # otherwise, and radosgw (Ceph 16) refuses those with HTTP 411 MissingContentLength (found
        # against the stack); the SDK reads this from the process's environment.
        os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    return pafs.S3FileSystem(**kwargs)

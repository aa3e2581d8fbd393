"""Atomic file writes, JSON files and line readers.

Every output of a stage is written under a temporary name in the same directory and renamed
into place, so an interrupted job never leaves half a file that a rerun would take as finished.
"""

from __future__ import annotations

import errno
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, List, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]


def temp_path(path: PathLike) -> Path:
    """Hidden temporary name next to ``path``; the suffix is kept so writers that infer the
    format from it (``np.save``, soundfile) behave as for the final name."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


# errno values of a write that found no room: the disk, a quota, or a file-size limit.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskFullError(OSError):
    """A write failed for lack of space; the message starts with ``disk full: <path>``."""


def _no_room_errno(exc: BaseException) -> Optional[int]:
    """The no-room errno behind ``exc`` (itself, or what it was raised from or during: torch's
    zip writer reports "unexpected pos" and keeps the OSError only as its context)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``path`` on success and is removed on error
    (a write that found no room is re-raised as :class:`DiskFullError` naming ``path``)."""
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except Exception as e:
        code = _no_room_errno(e)
        if code is None:
            raise
        raise DiskFullError(code, f"disk full: {path} ({os.strerror(code)})") from e
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """``open`` for writing whose result appears at ``path`` only once the block succeeds."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_lines(path: PathLike, lines: Iterable[str]) -> None:
    """Write ``line\\n`` for each line, UTF-8 with ``\\n`` endings, atomically."""
    with atomic_open(path, "w", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def write_json(
    path: PathLike, obj: Any, indent: int = 2, sort_keys: bool = True, ensure_ascii: bool = False
) -> None:
    """Write JSON (sorted keys unless told, UTF-8, final newline) atomically: the one JSON writer."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
        f.write("\n")


def read_json(path: PathLike) -> Any:
    """Parse a UTF-8 JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_lines(path: PathLike) -> List[str]:
    """The lines of a UTF-8 text file without their line ends (``\\r\\n`` too); fails naming the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"missing file: {path}")
    with open(path, encoding="utf-8", newline="") as f:
        return [line.rstrip("\r\n") for line in f]


def iter_json_lines(path: PathLike) -> Iterator[Tuple[int, Any, Optional[json.JSONDecodeError]]]:
    """``(line number, object, None)`` per non-empty line of a JSON-lines file, or
    ``(line number, None, error)`` for a line that is not JSON: the caller decides whether one bad
    line stops it (our own data) or is listed and skipped (a distributed corpus)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"missing file: {path}")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                yield lineno, json.loads(line), None
            except json.JSONDecodeError as e:
                yield lineno, None, e

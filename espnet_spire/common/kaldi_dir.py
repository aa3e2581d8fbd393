"""Read and write Kaldi-style two-column files (``id value``) such as wav.scp, text, utt2spk.

Kaldi tools expect these files sorted with ``LC_ALL=C sort``, i.e. by the raw bytes of each
line.  Python sorts ``str`` by code point, which differs from byte order once a file holds bytes
that are not valid UTF-8 (they are decoded with ``surrogateescape`` here so that nothing is
lost).  Every sort in this module therefore uses :func:`sort_key`, the UTF-8 *bytes* of the id.
For ids without control characters, sorting lines by id bytes and ``LC_ALL=C sort`` over whole
lines agree, because the separator (space, 0x20) sorts before every printable byte.

``espnet2.fileio.read_text.read_2columns_text`` is not used: it splits on any Unicode blank and
decodes strictly, while these files keep Unicode spaces inside values, must survive stray
non-UTF-8 bytes, and report errors with a line number; writes are atomic (``common.fileio``).
"""

from __future__ import annotations

import re
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from espnet_spire.common.fileio import PathLike, atomic_write_bytes

V = TypeVar("V")

# Kaldi separates fields with ASCII blanks only; Unicode spaces (e.g. U+3000) belong to values.
_ASCII_WS = " \t\r\n\f\v"
_FIELD_SEP = re.compile(r"[ \t]+")


class KaldiLine(NamedTuple):
    """One parsed line: 1-based line number, id (first field) and the rest of the line."""

    lineno: int
    key: str
    value: str


# A derived data dir (stage 2's dump/raw/<set>) names the data dir its files were copied from.
SOURCE_FILE = "source_data_dir"


class KaldiFormatError(ValueError):
    """A Kaldi-style file is malformed; names the file and line so the user can fix it."""

    def __init__(self, path: PathLike, lineno: int, message: str) -> None:
        self.path = str(path)
        self.lineno = lineno
        self.message = message
        super().__init__(f"{self.path}:{lineno}: {message}")


def sort_key(key: str) -> bytes:
    """Sort key reproducing ``LC_ALL=C`` byte order (surrogate-escaped bytes map back to bytes)."""
    return key.encode("utf-8", "surrogateescape")


def has_invalid_utf8(text: str) -> bool:
    """True when ``text`` was decoded (with surrogateescape) from bytes that are not UTF-8."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def parse_line(raw: str, lineno: int) -> KaldiLine:
    """Split a decoded line into id and value; trailing ASCII blanks (and CR) are dropped."""
    text = raw.rstrip(_ASCII_WS)
    parts = _FIELD_SEP.split(text, maxsplit=1)
    key = parts[0]
    value = parts[1] if len(parts) > 1 else ""
    return KaldiLine(lineno, key, value)


def iter_kaldi_file(path: PathLike) -> Iterator[KaldiLine]:
    """Yield every line of a Kaldi-style file, including malformed ones (empty key), in order.

    The file is read as bytes and decoded as UTF-8 with ``surrogateescape`` so that a file
    with a stray non-UTF-8 byte can still be reported on (see :func:`has_invalid_utf8`).
    """
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            yield parse_line(raw.decode("utf-8", "surrogateescape"), lineno)


def read_kaldi_dict(
    path: PathLike,
    allow_empty_value: bool = True,
    parse: Optional[Callable[[str], V]] = None,
) -> Dict[str, Any]:
    """Read a two-column file into an ordered ``{id: value}``; duplicates and blank ids raise.

    ``parse`` turns each value into an object (e.g. a ``segments`` entry); a ``ValueError`` it
    raises is reported as a :class:`KaldiFormatError` with the line number.
    """
    out: Dict[str, Any] = {}
    for line in iter_kaldi_file(path):
        if not line.key:
            raise KaldiFormatError(path, line.lineno, "empty line or line starting with a blank")
        if line.key in out:
            raise KaldiFormatError(path, line.lineno, f"duplicate id '{line.key}'")
        if not allow_empty_value and not line.value:
            raise KaldiFormatError(path, line.lineno, f"id '{line.key}' has an empty value")
        if parse is None:
            out[line.key] = line.value
            continue
        try:
            out[line.key] = parse(line.value)
        except ValueError as e:
            raise KaldiFormatError(path, line.lineno, str(e)) from e
    return out


def read_key_list(path: PathLike) -> List[str]:
    """First column of every non-empty line (e.g. a split ``keys.JOB.scp``), in file order."""
    keys = []
    for line in iter_kaldi_file(path):
        if line.key:
            keys.append(line.key)
    return keys


def format_line(key: str, value: str) -> str:
    """``id value`` (or just ``id`` when the value is empty), without newline."""
    if not key or any(ch in key for ch in _ASCII_WS):
        raise ValueError(f"invalid Kaldi id {key!r}: must be non-empty without blanks")
    if "\n" in value or "\r" in value:
        raise ValueError(f"value for id {key!r} contains a line break")
    return f"{key} {value}" if value else key


def sorted_items(items: Iterable[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """Items sorted by id in ``LC_ALL=C`` byte order (stable for equal ids)."""
    return sorted(items, key=lambda kv: sort_key(kv[0]))


def write_kaldi_file(
    path: PathLike,
    items: Union[Mapping[str, str], Iterable[Tuple[str, str]]],
    sort: bool = True,
) -> None:
    """Write ``id value`` lines (sorted by id bytes unless ``sort=False``); duplicate ids raise.

    The write is atomic (temporary file + rename).  Non-UTF-8 bytes that were read with
    ``surrogateescape`` are written back unchanged.
    """
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    if sort:
        pairs = sorted_items(pairs)
    seen: Set[str] = set()
    lines = []
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate id '{key}' while writing {path}")
        seen.add(key)
        lines.append(format_line(key, value) + "\n")
    atomic_write_bytes(path, "".join(lines).encode("utf-8", "surrogateescape"))


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Invert utt2spk; speakers and each speaker's utterances come out in byte order."""
    spk2utt: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=sort_key):
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return {spk: spk2utt[spk] for spk in sorted(spk2utt, key=sort_key)}


def spk2utt_to_utt2spk(spk2utt: Mapping[str, Iterable[str]]) -> Dict[str, str]:
    """Invert spk2utt; an utterance listed under two speakers raises ``ValueError``."""
    utt2spk: Dict[str, str] = {}
    for spk, utts in spk2utt.items():
        for utt in utts:
            if utt in utt2spk:
                raise ValueError(f"utterance '{utt}' belongs to '{utt2spk[utt]}' and '{spk}'")
            utt2spk[utt] = spk
    return {utt: utt2spk[utt] for utt in sorted(utt2spk, key=sort_key)}


def write_spk2utt(path: PathLike, spk2utt: Mapping[str, Iterable[str]]) -> None:
    """Write spk2utt (``spk utt1 utt2 ...``), sorted by speaker."""
    write_kaldi_file(path, ((spk, " ".join(utts)) for spk, utts in spk2utt.items()))


def filter_kaldi_file(src: PathLike, dst: PathLike, keep: Iterable[str]) -> int:
    """Copy the lines of ``src`` whose id is in ``keep`` to ``dst``, sorted; returns the count.

    Lines are copied verbatim (bytes), so values with odd spacing survive unchanged.
    """
    keep_set = set(keep)
    kept: List[Tuple[bytes, bytes]] = []
    with open(src, "rb") as f:
        for raw in f:
            line = parse_line(raw.decode("utf-8", "surrogateescape"), 0)
            if line.key in keep_set:
                body = raw.rstrip(b"\r\n")
                kept.append((sort_key(line.key), body + b"\n"))
    kept.sort(key=lambda kb: kb[0])
    atomic_write_bytes(dst, b"".join(body for _, body in kept))
    return len(kept)

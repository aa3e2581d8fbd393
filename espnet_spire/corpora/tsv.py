"""Read the tab-separated manifests that speech corpora ship (CoVoST-2, Common Voice, FLEURS).

These files are plain TSV with no quoting: a ``"`` inside a sentence is text, not a quote, so
they are read with ``csv.QUOTE_NONE`` (as the corpora's own loaders do).  A row with the wrong
number of fields is reported, not silently padded.
"""

from __future__ import annotations

import csv
import os
from typing import Dict, Iterator, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike


class ManifestError(ValueError):
    """A manifest file is missing or is not the table its corpus release has."""


def iter_tsv(path: PathLike, columns: Optional[Sequence[str]] = None,
             required: Sequence[str] = ()) -> Iterator[Tuple[int, Dict[str, str]]]:
    """Yield ``(line_number, row)`` for each data row of ``path``.

    With ``columns`` the file has no header and its rows have exactly these fields; without,
    the first line is the header, and every name in ``required`` must be in it.
    """
    if not os.path.isfile(path):
        raise ManifestError(f"manifest not found: {path}")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        names = list(columns) if columns is not None else next(reader, None)
        if not names:
            raise ManifestError(f"{path}: empty file, expected a header line")
        missing = [c for c in required if c not in names]
        if missing:
            raise ManifestError(f"{path}: header {names} lacks the column(s) {missing}")
        for row in reader:
            lineno = reader.line_num
            if not row or row == [""]:
                continue
            if len(row) != len(names):
                raise ManifestError(f"{path}:{lineno}: {len(row)} fields, expected {len(names)} ({', '.join(names)})")
            yield lineno, dict(zip(names, row))

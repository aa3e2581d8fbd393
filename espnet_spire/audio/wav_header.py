"""Truncated WAV files: the RIFF header promises more samples than the file holds.

libsndfile quietly shortens such a file to what is there (``frames`` and ``read`` agree on the
short length), so a recording cut by an interrupted copy or download would be kept, short, with
its full transcript: a wrong training pair. Comparing the ``data`` chunk's declared size with the
bytes that follow it finds the cut before any decoding. Streamed WAVs (size 0 or 0xFFFFFFFF, as
written to pipes) and RF64 files declare no usable size and are not checked.
"""

from __future__ import annotations

import os
import struct
from typing import Optional, Tuple

_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def wav_truncation(path: str) -> Optional[Tuple[int, int]]:
    """``(samples the header promises, samples the file holds)`` for a cut RIFF/WAVE file,
    None for a complete one or a file that is not a plain WAV (samples = frames per channel)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(min(csize, 16))
                if len(fmt) < 14:
                    return None
                block_align = struct.unpack("<H", fmt[12:14])[0]
                f.seek(csize - len(fmt) + (csize & 1), os.SEEK_CUR)
            elif cid == b"data":
                if block_align == 0 or csize in _UNKNOWN_SIZES:
                    return None
                available = size - f.tell()
                if available >= csize:
                    return None
                return csize // block_align, max(0, available) // block_align
            else:
                f.seek(csize + (csize & 1), os.SEEK_CUR)

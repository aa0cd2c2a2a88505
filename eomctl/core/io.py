"""Atomic file writing: a reader never sees a half-written result, and an interrupted run leaves the old file intact."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.core.errors import DataFileError, OutputPathError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike[str], *, folder: bool = False) -> Path:
    """Raise :class:`~eomctl.core.errors.OutputPathError` unless ``path`` can be written (a file, or with ``folder``
    a folder), so that a long computation never ends in a failed write.

    The nearest existing ancestor must be a writable folder; an existing target must be of the right kind (a file
    where a file is expected) and writable. Nothing is created.
    """
    target = Path(path)
    if target.exists():
        if folder != target.is_dir():
            kind = "a folder" if target.is_dir() else "a file"
            raise OutputPathError(f"cannot write to '{path}': it is {kind}")
        if not os.access(target if folder else target.parent, os.W_OK | os.X_OK) or not os.access(target, os.W_OK):
            raise OutputPathError(f"cannot write to '{path}': permission denied")
        return target
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"cannot write to '{path}': '{parent}' is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write to '{path}': folder '{parent}' is not writable")
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; results should read like any other file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_csv(path: str | os.PathLike[str], columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Path:
    """Write equal-length columns as a CSV with a header row, atomically; floats keep full precision."""
    names = list(columns)
    lengths = {len(columns[n]) for n in names}
    if len(lengths) > 1:
        raise ValueError(f"columns differ in length: { {n: len(columns[n]) for n in names} }")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names), strict=True):
        writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
    return atomic_write_text(path, buffer.getvalue())


def read_csv(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a numeric CSV written by :func:`write_csv` into float arrays keyed by column.

    An empty cell reads as NaN. Raises :class:`~eomctl.core.errors.DataFileError` (a ``ValueError``) naming the line
    and column for a file without a header row, a row of the wrong length or a cell that is not a number (a silent
    NaN would poison every sum computed from it), and for a file that cannot be read.
    """
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(f"{path}: cannot be read as a CSV file: {exc}") from None
    if not rows:
        raise DataFileError(f"{path}: the file is empty (no header row)")
    header = [name.strip() for name in rows[0]]
    columns: dict[str, list[float]] = {name: [] for name in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataFileError(f"{path}, line {line}: {len(row)} fields where the header has {len(header)}")
        for name, cell in zip(header, row, strict=True):
            try:
                columns[name].append(float(cell) if cell.strip() else math.nan)
            except ValueError:
                raise DataFileError(f"{path}, line {line}, column '{name}': '{cell}' is not a number") from None
    return {name: np.array(values, dtype=float) for name, values in columns.items()}


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")

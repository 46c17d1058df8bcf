"""Reading data files into a table: CSV, Parquet, NumPy `.npy`/`.npz`, or stdin.

Every failure is a DataError that names the file and what is wrong with it.
A file is read once, as bytes, which are parsed and hashed: the sha256 in the
artifact's lineage is of exactly what was trained on, and a FIFO or
/dev/stdin (which cannot be read twice) works like a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import stat
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.errors import DataError

FORMATS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy", ".npz": "npz"}
STDIN = "-"
DIGEST = "sha256"  # DataFrame.attrs key: the sha256 of the bytes the table was parsed from
EXTRA_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_HELD: dict[str, bytes] = {}  # the bytes of the files `held` read, by the path as given
_KEEP: set[str] = set()  # the paths whose bytes `kept` holds once they are first read


def detect_format(path: Path | str, fmt: str | None) -> str:
    """The format named by `fmt`, or else by the file's extension.

    Raises:
        DataError: if neither gives a known format.
    """
    if fmt:
        return fmt
    if str(path) == STDIN:
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"cannot tell the format of {path} from its extension {suffix or '(none)'!r}; "
            f"rename it to .csv, .parquet, .npy or .npz, or pass --format"
        )
    return FORMATS[suffix]


def read_table(path: Path | str, fmt: str | None = None) -> pd.DataFrame:
    """Read a data file into a DataFrame with string column names.

    Args:
        path: The file, or "-" for standard input.
        fmt: "csv", "parquet", "npy" or "npz"; defaults to the extension's.

    Returns:
        The table, with at least one row and one column.

    Raises:
        DataError: if the file is missing, empty, or not of its format.
    """
    fmt = detect_format(path, fmt)
    raw = _HELD[str(path)] if str(path) in _HELD else _read_bytes(path)
    if str(path) in _KEEP:
        _HELD[str(path)] = raw
    source = io.BytesIO(raw)
    source.name = str(path)
    try:
        frame = _READERS[fmt](source)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; give a file with a header row and data rows") from None
    except pd.errors.ParserError as exc:
        extra = EXTRA_FIELDS.search(str(exc))
        if extra:
            expected, line, saw = map(int, extra.groups())
            raise DataError(
                f"{path}, row {line - 2} has {saw} fields but the header names {expected} columns; "
                f"remove the extra field (a trailing comma?) or name its column in the header"
            ) from None
        raise DataError(f"{path} is not a readable {fmt} file: {_first_line(exc)}") from None
    except (UnicodeDecodeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path} is not a readable {fmt} file: {first}") from None
    except Exception as exc:  # pyarrow raises its own error types
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{path} is not a readable {fmt} file: {exc}") from None
        raise
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path} has no data rows; give a file with a header row and at least one row of values")
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"{path} has two columns named {duplicated[0]!r}; rename one so each column has its own name")
    frame.attrs[DIGEST] = hashlib.sha256(raw).hexdigest()
    return frame


@contextlib.contextmanager
def held(*paths):
    """Read each of `paths` once; inside the block, `read_table` parses those bytes again.

    For a command that runs several steps on one file (backtest's folds each
    fit and evaluate): a FIFO or stdin cannot be read twice, and every step
    then sees, and hashes, the same bytes. None among `paths` is skipped.

    Raises:
        DataError: as `read_table` does for a missing or unreadable file.
    """
    chosen = [str(p) for p in paths if p is not None and str(p) not in _HELD]
    try:
        for path in chosen:
            _HELD[path] = _read_bytes(path)
        yield
    finally:
        for path in chosen:
            _HELD.pop(path, None)


@contextlib.contextmanager
def kept(*paths):
    """Like `held`, but each of `paths` is read when a step first reads it, not before.

    For fit's guard (trials, then a refit): the first pass makes its checks
    (the artifact's stage, the options) before the data is read, as a single
    fit does; the later passes parse the same bytes.
    """
    chosen = [str(p) for p in paths if p is not None and str(p) not in _HELD and str(p) not in _KEEP]
    _KEEP.update(chosen)
    try:
        yield
    finally:
        for path in chosen:
            _KEEP.discard(path)
            _HELD.pop(path, None)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_bytes(path) -> bytes:
    """The whole input, read once: stdin for "-", else the file (a FIFO or device too)."""
    if str(path) == STDIN:
        return sys.stdin.buffer.read()
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"data file {path} does not exist; check the path") from None
    except OSError as exc:
        raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"data file {path} is a directory; give a file")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from None


def _read_csv(source) -> pd.DataFrame:
    # The header and the first row, read alone first: pandas reads a first row
    # with one field more than the header as an unnamed index column, shifting
    # every column by one, and silently renames a repeated column name.
    head = pd.read_csv(
        source, header=None, nrows=2, skipinitialspace=True, dtype=str, keep_default_na=False, skip_blank_lines=False
    )  # a longer row 1: ParserError, named in read_table
    names = head.iloc[0].tolist()
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"{source.name} has two columns named {repeated[0]!r}; rename one so each column has its own name"
        )
    source.seek(0)
    # A blank line in a one-column series is a missing value, not nothing:
    # skipping it would silently shift every window after it.
    return pd.read_csv(source, skipinitialspace=True, skip_blank_lines=False, index_col=False)


def _read_parquet(source) -> pd.DataFrame:
    return pd.read_parquet(source)


def _array_frame(array: np.ndarray, name: str) -> pd.DataFrame:
    _check_dtype(array, name)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"{name} holds a {array.ndim}-D array; lstmcli reads 1-D or 2-D arrays (rows × columns)")
    return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])


def _check_dtype(array: np.ndarray, name: str) -> None:
    """Refuse arrays whose values are not plain numbers or labels (complex, records, dates)."""
    if array.dtype.kind == "c":
        raise DataError(
            f"{name} holds complex numbers ({array.dtype}); lstmcli reads real numbers, so save the real and imaginary parts as two columns"
        )
    if array.dtype.kind not in "biufUS":
        raise DataError(f"{name} holds {array.dtype} values; lstmcli reads arrays of numbers or label strings")


def _read_npy(source) -> pd.DataFrame:
    return _array_frame(np.load(source, allow_pickle=False), source.name)


def _read_npz(source) -> pd.DataFrame:
    with np.load(source, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if not arrays:
        raise DataError(f"{source.name} holds no arrays")
    for key, array in arrays.items():
        _check_dtype(array, f"{source.name}'s {key}")
    if len(arrays) == 1:
        return _array_frame(next(iter(arrays.values())), source.name)
    lengths = {len(a) for a in arrays.values()}
    if any(a.ndim != 1 for a in arrays.values()) or len(lengths) != 1:
        raise DataError(
            f"{source.name} holds several arrays; lstmcli reads them as columns, so each must be 1-D "
            f"and of one length. Received: {', '.join(f'{k}{a.shape}' for k, a in arrays.items())}"
        )
    return pd.DataFrame(arrays)


_READERS = {"csv": _read_csv, "parquet": _read_parquet, "npy": _read_npy, "npz": _read_npz}

"""Reading data files into a table: CSV, Parquet, NumPy `.npy`/`.npz`, or stdin.

Every failure is a DataError that names the file and what is wrong with it.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcli.errors import DataError

FORMATS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy", ".npz": "npz"}
STDIN = "-"


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
    source = _open_source(path)
    try:
        frame = _READERS[fmt](source)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; give a file with a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path} is not a readable {fmt} file: {first}") from None
    except Exception as exc:  # pyarrow raises its own error types
        if type(exc).__module__.startswith("pyarrow"):
            raise DataError(f"{path} is not a readable {fmt} file: {exc}") from None
        raise
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path} has no data rows; give a file with a header row and at least one row of values")
    return frame


def _open_source(path):
    if str(path) == STDIN:
        return io.BytesIO(sys.stdin.buffer.read())
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist; check the path")
    if path.is_dir():
        raise DataError(f"data file {path} is a directory; give a file")
    return path


def _read_csv(source) -> pd.DataFrame:
    # A blank line in a one-column series is a missing value, not nothing:
    # skipping it would silently shift every window after it.
    return pd.read_csv(source, skipinitialspace=True, skip_blank_lines=False)


def _read_parquet(source) -> pd.DataFrame:
    return pd.read_parquet(source)


def _array_frame(array: np.ndarray, name: str) -> pd.DataFrame:
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"{name} holds a {array.ndim}-D array; lstmcli reads 1-D or 2-D arrays (rows × columns)")
    return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])


def _read_npy(source) -> pd.DataFrame:
    return _array_frame(np.load(source, allow_pickle=False), str(source))


def _read_npz(source) -> pd.DataFrame:
    with np.load(source, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if not arrays:
        raise DataError(f"{source} holds no arrays")
    if len(arrays) == 1:
        return _array_frame(next(iter(arrays.values())), str(source))
    lengths = {len(a) for a in arrays.values()}
    if any(a.ndim != 1 for a in arrays.values()) or len(lengths) != 1:
        raise DataError(
            f"{source} holds several arrays; lstmcli reads them as columns, so each must be 1-D "
            f"and of one length. Received: {', '.join(f'{k}{a.shape}' for k, a in arrays.items())}"
        )
    return pd.DataFrame(arrays)


_READERS = {"csv": _read_csv, "parquet": _read_parquet, "npy": _read_npy, "npz": _read_npz}

"""1-nearest-neighbour classification under dynamic time warping: the classic baseline of time-series classification.

Full-window DTW (no warping constraint, the UCR archive's "DTW (w=100)"
column) with the squared difference as the step cost; multivariate series use
the dependent form (DTW_D: one warping path, the cost summed over channels),
as the UEA archive's DTW_D column does. Series of different lengths are
compared at their true lengths. Written with numpy over all (test, train)
pairs at once, one cell of the cost matrix at a time, which is fast enough for
the small archive sets the quality benchmark uses.
"""

from __future__ import annotations

import numpy as np

CHUNK_PAIRS = 20_000  # (test, train) pairs per pass: bounds memory on the larger sets


def distances(test: np.ndarray, test_len: np.ndarray, train: np.ndarray, train_len: np.ndarray) -> np.ndarray:
    """DTW distance between every test and every train series.

    Args:
        test: (n_test, steps, channels), padded past each series' length with anything finite.
        test_len: (n_test,) true lengths.
        train: (n_train, steps, channels), padded likewise.
        train_len: (n_train,) true lengths.

    Returns:
        (n_test, n_train) distances.
    """
    out = np.empty((len(test), len(train)))
    rows = max(1, CHUNK_PAIRS // len(train))
    for start in range(0, len(test), rows):
        part = slice(start, start + rows)
        out[part] = _pairwise(test[part], test_len[part], train, train_len)
    return out


def _pairwise(a, a_len, b, b_len):
    n, m = a.shape[1], b.shape[1]
    inf = np.inf
    previous = np.full((len(a), len(b), m + 1), inf)
    previous[:, :, 0] = 0.0  # D[-1][-1] = 0 reaches only cell (0, 0) through the diagonal
    result = np.full((len(a), len(b)), inf)
    for i in range(n):
        cost = ((a[:, None, i, None, :] - b[None]) ** 2).sum(axis=-1)  # (na, nb, m)
        current = np.full_like(previous, inf)
        for j in range(m):
            best = np.minimum(np.minimum(previous[:, :, j + 1], current[:, :, j]), previous[:, :, j])
            current[:, :, j + 1] = cost[:, :, j] + best
        ends = (a_len - 1) == i
        if ends.any():
            result[ends] = current[ends][np.arange(ends.sum())[:, None], np.arange(len(b))[None, :], b_len[None, :]]
        previous = current
    return result


def accuracy_1nn(train_x, train_len, train_y, test_x, test_len, test_y) -> float:
    """Accuracy of 1-NN DTW: each test series takes the label of its nearest training series."""
    nearest = distances(test_x, test_len, train_x, train_len).argmin(axis=1)
    return float(np.mean(np.asarray(train_y)[nearest] == np.asarray(test_y)))

"""Smoke fits: one epoch on a few batches, asked for by --smoke or by LSTMCLI_SMOKE in the environment."""

from __future__ import annotations

import os

from lstmcli.errors import ConfigError
from lstmcli.options import ALL

SMOKE_ENV = "LSTMCLI_SMOKE"
SMOKE_ON, SMOKE_OFF = ("1", "true", "yes"), ("", "0", "false", "no")  # the values the README documents
SMOKE_BATCHES = 3  # a smoke fit trains one epoch on at most this many batches …
SMOKE_FULL_BATCH = 32  # … of this many samples when the batch size is 'all'


def requested(opts) -> bool:
    """A smoke fit: `--smoke`, `smoke = true` in the config, or LSTMCLI_SMOKE=1 in the environment.

    The environment turns a whole pipeline (a Makefile, a CI job) into a smoke
    test without editing it; `LSTMCLI_SMOKE=0` (or empty) leaves it alone.

    Raises:
        ConfigError: for any other value (`off`, `maybe`), rather than guessing which was meant.
    """
    value = os.environ.get(SMOKE_ENV, "").strip().lower()
    if value not in SMOKE_ON + SMOKE_OFF:
        raise ConfigError(
            f"{SMOKE_ENV}={value!r} is neither on (1, true, yes) nor off (0, false, no, or empty); set one of them"
        )
    return bool(opts.smoke) or value in SMOKE_ON


def parts(train, validation, batch_size):
    """A smoke fit's data: at most SMOKE_BATCHES batches of each part."""
    keep = SMOKE_BATCHES * (SMOKE_FULL_BATCH if batch_size == ALL else batch_size)
    return train.head(keep), validation.head(keep) if validation is not None else None

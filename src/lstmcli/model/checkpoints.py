"""Resuming a fit after a crash: checkpoints that know which fit made them.

With `--checkpoint-dir DIR`, fit writes `DIR/checkpoint.keras` (a complete
artifact: weights, optimizer state, history so far) at epoch boundaries, at
most once every `MIN_SECONDS`. Running the same command again finds it and
carries on from its last epoch; because each epoch's shuffle depends only on
(seed, epoch), the resumed fit ends with the same weights as one that was never
interrupted. The checkpoint carries a fingerprint of the fit that made it
(input artifact, data, options), and a different fit refuses to resume from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path

from lstmcli.errors import ConfigError
from lstmcli.model import artifact

CHECKPOINT_NAME = "checkpoint.keras"
MIN_SECONDS = 1.0


def fingerprint(source_sha256: str, data_sha256: dict[str, str], opts, *, smoke: bool) -> str:
    """A hash of everything that decides a fit's result: input, data and options.

    Args:
        source_sha256: The input artifact's sha256.
        data_sha256: {"data": …, "validation_data": …}: the sha256 of the bytes
            that were read (a file is never read twice: it may be a pipe), the
            whole file's: `--rows` is an option, fingerprinted with the others.
        opts: The fit's options: every field `options.fingerprinted` names counts
            (all but outputs and those declared not to change a fit's result).
        smoke: Whether the fit is a smoke fit: `--smoke`, or LSTMCLI_SMOKE in
            the environment (see `smoke.requested`).
    """
    from lstmcli.options import fingerprinted

    parts = {name: repr(getattr(opts, name)) for name in fingerprinted(type(opts))}
    parts["smoke"] = repr(bool(smoke))
    parts["source"] = source_sha256
    for role in ("data", "validation_data"):
        parts[role] = data_sha256.get(role)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """The checkpoint file of one fit in `directory`."""

    def __init__(self, directory: Path, fingerprint: str):
        self.path = Path(directory) / CHECKPOINT_NAME
        self.fingerprint = fingerprint
        self.saved_at = time.monotonic()
        self.epochs_done = 0  # epochs in the checkpoint on disk

    def find(self) -> Path | None:
        """The checkpoint to resume from, or None.

        Raises:
            ConfigError: if the checkpoint was made by a different fit.
        """
        if not self.path.exists():
            return None
        record = artifact.read_record(self.path)
        made_by = (record.fit or {}).get("checkpoint")
        self.epochs_done = record.epochs
        if made_by != self.fingerprint:
            raise ConfigError(
                f"{self.path} was written by a different fit (another input, data or options); "
                f"resuming would mix the two, so delete it or choose another --checkpoint-dir"
            )
        return self.path

    def save(self, model, record, epochs_done: int, *, force: bool = False) -> None:
        """Write the checkpoint if `MIN_SECONDS` have passed since the last one."""
        if not force and time.monotonic() - self.saved_at < MIN_SECONDS:
            return
        fit = record.fit
        record.fit = {"checkpoint": self.fingerprint, "epochs_done": epochs_done}
        try:
            artifact.save(model, record, self.path)
        finally:
            record.fit = fit
        self.saved_at = time.monotonic()
        self.epochs_done = epochs_done

    def clear(self) -> None:
        """Remove the checkpoint once the fit has finished and its artifact is written."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

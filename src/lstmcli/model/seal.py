"""What vouches for a record: its sha256 digest, and, with a key, an HMAC-SHA256 signature.

The record (`lstmcli.json`) holds the sha256 of every other member of the
archive (config, weights), so whatever vouches for the record's bytes vouches
for the whole artifact.

- The digest (`lstmcli.json.sha256`) catches accidents and edits: a damaged
  file, a hand edit, a tool that rewrote the record. It is not a secret, so
  anyone who edits on purpose can recompute it (resealing); it promises
  nothing against a deliberate attacker.
- The signature (`lstmcli.json.hmac`) is an HMAC-SHA256 of the record's bytes
  under a key from the environment (LSTMCLI_SIGNING_KEY). With the key set,
  every artifact lstmcli writes is signed, and every artifact it opens must
  carry a valid signature: without the key nobody can reseal an edited record,
  swapped weights or another model's config.

Light: standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from lstmcli.errors import ArtifactError, ConfigError
from lstmcli.model.record import DIGESTED_SINCE

DIGEST_MEMBER = "lstmcli.json.sha256"
SIGNATURE_MEMBER = "lstmcli.json.hmac"
KEY_VARIABLE = "LSTMCLI_SIGNING_KEY"
MIN_KEY_BYTES = 16  # an HMAC key shorter than this is guessable; `openssl rand -hex 32` gives 64


def signing_key() -> bytes | None:
    """The signing key from LSTMCLI_SIGNING_KEY (its UTF-8 bytes), or None when it is unset.

    Raises:
        ConfigError: if it is set but empty or shorter than MIN_KEY_BYTES.
    """
    value = os.environ.get(KEY_VARIABLE)
    if value is None:
        return None
    key = value.encode("utf-8", "surrogateescape")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{KEY_VARIABLE} holds {len(key)} bytes; a signing key needs at least {MIN_KEY_BYTES} "
            f"(make one with 'openssl rand -hex 32'), or unset it to write and read unsigned artifacts"
        )
    return key


def digest(record_bytes: bytes) -> str:
    return hashlib.sha256(record_bytes).hexdigest()


def signature(record_bytes: bytes, key: bytes) -> str:
    return hmac.new(key, record_bytes, hashlib.sha256).hexdigest()


def members_for(record_bytes: bytes) -> dict[str, bytes]:
    """The members that seal a record as lstmcli writes it: its digest, and its signature when a key is set."""
    sealed = {DIGEST_MEMBER: (digest(record_bytes) + "\n").encode("ascii")}
    key = signing_key()
    if key is not None:
        sealed[SIGNATURE_MEMBER] = (signature(record_bytes, key) + "\n").encode("ascii")
    return sealed


def check(path: Path, record_bytes: bytes, version, stored_digest: str | None, stored_signature: str | None) -> None:
    """Check the record's digest, and its signature when a key is set.

    Every record format lstmcli reads carries a digest: a record that claims a
    format from before the digest (1 or 2) cannot be told from an edited record
    whose digest was removed and its format lowered, so it is refused.

    Raises:
        ArtifactError: for a missing or wrong digest, a format from before the
            digest, or (with a key) a missing or wrong signature.
        ConfigError: for a key that is too short.
    """
    if (
        stored_digest is None
        and isinstance(version, int)
        and not isinstance(version, bool)
        and version < DIGESTED_SINCE
    ):
        raise ArtifactError(
            f"{path}'s lstmcli record claims format {version}, which predates the record's digest "
            f"({DIGEST_MEMBER}), so an edited record could not be told from it; write it again with the step that "
            f"made it (a fitted model: fit its compiled artifact again)"
        )
    if stored_digest != digest(record_bytes):
        why = "has no digest" if stored_digest is None else "no longer matches its digest"
        raise ArtifactError(
            f"{path}'s lstmcli record was edited after lstmcli wrote it (lstmcli.json {why}); "
            f"write it again with the step that made it"
        )
    key = signing_key()
    if key is None:
        return
    if stored_signature is None:
        raise ArtifactError(
            f"{path} is not signed, and {KEY_VARIABLE} is set, so only signed artifacts are opened; "
            f"write it again with the key set, or unset {KEY_VARIABLE}"
        )
    if not hmac.compare_digest(stored_signature, signature(record_bytes, key)):
        raise ArtifactError(
            f"{path}'s signature does not match (signed with another key, or changed and resealed after it was "
            f"signed); do not use it: write it again with the step that made it"
        )

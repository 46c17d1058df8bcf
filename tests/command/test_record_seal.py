"""What vouches for a record (issue 21, 4 and 8): the digest, the keyed signature, and the record's size.

The digest catches accidents and edits; anyone can recompute it, so a
deliberate forger is stopped only by the HMAC signature under
LSTMCLI_SIGNING_KEY. A record claiming a format from before the digest is
refused (it could be an edit whose digest was removed). A very long fit's
history is thinned so that lstmcli can read every record it writes.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from corpus_helpers import invoke, rewrite_zip, run_ok, series_csv, with_record

pytestmark = pytest.mark.slow

KEY = "k" * 32


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory):
    root = tmp_path_factory.mktemp("seal")
    data = series_csv(root / "series.csv", rows=12)
    run_ok("define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", root / "d.keras")
    run_ok("compile", root / "d.keras", "--out", root / "c.keras")
    run_ok("fit", root / "c.keras", "--data", data, "--epochs", "1", "--verbose", "0", "--out", root / "f.keras")
    return root


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """Two compiled models of one shape, written with the key set (their weights differ by seed)."""
    root = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LSTMCLI_SIGNING_KEY", KEY)
        for seed in ("0", "1"):
            define = ["define", "--lstm", "2", "--features", "value", "--seed", seed, "--out", root / f"d{seed}.keras"]
            run_ok(*define)
            run_ok("compile", root / f"d{seed}.keras", "--out", root / f"c{seed}.keras")
    return root


def weights_of(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("model.weights.h5")


def with_weights(source: Path, target: Path, weights: bytes) -> Path:
    """`source` with another model's weights, its record's member hashes and digest recomputed (resealed)."""
    swapped = rewrite_zip(source, target.with_suffix(".tmp"), lambda n, d: weights if n == "model.weights.h5" else d)

    def edit(obj):
        obj["members"]["model.weights.h5"] = hashlib.sha256(weights).hexdigest()

    return with_record(swapped, target, edit)


def test_a_record_claiming_a_format_from_before_the_digest_is_refused(unsigned, tmp_path):
    """Issue 21 (4): format_version 2, the features swapped, the digest deleted: predict and verify said exit 0."""

    def downgrade(obj):
        obj["format_version"] = 2
        obj["data_spec"]["index"] = "value"

    edited = with_record(unsigned / "f.keras", tmp_path / "old.keras", downgrade, redigest=False)
    stripped = rewrite_zip(edited, tmp_path / "stripped.keras", lambda n, d: None if n == "lstmcli.json.sha256" else d)
    for argv in (["verify", stripped], ["predict", stripped, "--data", unsigned / "series.csv"]):
        run = invoke(argv)
        assert run.exit_code == 2, run
        assert "claims format 2, which predates the record's digest" in run.stderr, run


def test_a_signed_artifact_verifies_with_its_key(signed, monkeypatch):
    monkeypatch.setenv("LSTMCLI_SIGNING_KEY", KEY)
    run = invoke(["verify", signed / "c0.keras"])
    assert run.exit_code == 0, run
    assert "signature    valid" in run.stdout
    with zipfile.ZipFile(signed / "c0.keras") as archive:
        assert "lstmcli.json.hmac" in archive.namelist()


def test_weights_swapped_from_a_same_shaped_model_and_resealed_are_caught_by_the_signature(
    signed, tmp_path, monkeypatch
):
    """Issue 21 (4): the digest cannot catch a resealed swap (verify exit 0 without a key); the HMAC does."""
    swapped = with_weights(signed / "c0.keras", tmp_path / "swapped.keras", weights_of(signed / "c1.keras"))
    assert weights_of(swapped) != weights_of(signed / "c0.keras")
    assert invoke(["verify", swapped]).exit_code == 0  # what a digest can promise: nothing against a forger
    monkeypatch.setenv("LSTMCLI_SIGNING_KEY", KEY)
    for argv in (["verify", swapped], ["inspect", swapped], ["compile", swapped, "--out", tmp_path / "o.keras"]):
        run = invoke(argv)
        assert run.exit_code == 2, run
        assert "swapped.keras's signature does not match" in run.stderr, run
    assert not (tmp_path / "o.keras").exists()


def test_with_a_key_set_unsigned_and_otherwise_signed_artifacts_are_refused(signed, unsigned, monkeypatch):
    monkeypatch.setenv("LSTMCLI_SIGNING_KEY", "another key, long enough")
    run = invoke(["verify", signed / "c0.keras"])
    assert run.exit_code == 2 and "signature does not match" in run.stderr, run
    run = invoke(["verify", unsigned / "f.keras"])
    assert run.exit_code == 2, run
    assert "f.keras is not signed, and LSTMCLI_SIGNING_KEY is set" in run.stderr
    monkeypatch.setenv("LSTMCLI_SIGNING_KEY", "short")
    run = invoke(["verify", signed / "c0.keras"])
    assert run.exit_code == 2 and "LSTMCLI_SIGNING_KEY holds 5 bytes; a signing key needs at least 16" in run.stderr


def test_an_artifact_from_a_very_long_fit_can_be_read_by_every_step(unsigned, tmp_path):
    """Issue 21 (8): 80,000 epochs of 16 logs wrote a 34.8 MB record that the 32 MiB read limit refused.

    The record is built directly (80,000 real epochs would take too long): the
    fitted model with such a history, saved as fit saves it.
    """
    from lstmcli.model import artifact

    model, record = artifact.load(unsigned / "f.keras")
    epochs = 80_000
    record.history = {f"m{i}": [1.0 / (e + 1) + i for e in range(epochs)] for i in range(16)}
    record.history["loss"] = [1.0 / (e + 1) for e in range(epochs)]
    out = artifact.save(model, record, tmp_path / "long.keras")
    with zipfile.ZipFile(out) as archive:
        size = archive.getinfo("lstmcli.json").file_size
    assert size < artifact.MAX_RECORD_BYTES / 2, size
    stored = artifact.read_record(out)
    every = stored.fit["history_every"]
    assert every > 1 and stored.history["loss"][1] == pytest.approx(1.0 / (every + 1))
    assert stored.history["loss"][-1] == pytest.approx(1.0 / epochs)  # the last epoch is kept
    assert len(json.loads(json.dumps(stored.history))["m15"]) == stored.epochs
    for argv in (["inspect", out], ["verify", out], ["plot", out, "--out-dir", tmp_path / "plots"]):
        assert invoke(argv).exit_code == 0, argv

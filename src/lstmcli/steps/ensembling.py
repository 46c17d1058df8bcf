"""`fit --ensemble N`: N single fits from seeds SEED … SEED+N−1, saved as one model that averages them.

Each member is the core's own single fit (`fitting.fit` with `ensemble = 1`),
into a private temporary folder: member 1 from the compiled weights with the
fit's seed (the model `fit --seed SEED` alone gives), member i from weights
drawn afresh by the layers' own initializers with seed SEED+i−1, which also
seeds its shuffling and dropout. Every member holds out the validation samples
member 1 chose (`FitOptions.split_seed`), so all learn the same preprocessing
and their networks are averaged inside one predictor (`model.ensemble`).

Nothing is written to `--out` (or `--history`) until every member has trained:
a Ctrl-C or an error in any member leaves no output, as a single fit does.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Sequence

from lstmcli import outputs
from lstmcli.errors import ConfigError, Interrupted, LstmcliError
from lstmcli.model import artifact
from lstmcli.model import ensemble as combining
from lstmcli.model.record import Record
from lstmcli.options import SEED_RANGE, inputs_of, outputs_of
from lstmcli.quiet import load_tensorflow
from lstmcli.steps.loading import Written, open_for_training


def check(source: Path, opts, record: Record) -> None:
    """The refusals that keep an ensemble sound (fit's `check` makes them before any work).

    Raises:
        ConfigError: continuing a fitted ensemble (its members would train as
            one network), --ensemble on a fitted model, or with
            --checkpoint-dir or --strategy multi-worker.
    """
    if record.stage == "fitted" and combining.is_ensemble(record):
        members = record.fit["ensemble"].get("members")
        raise ConfigError(
            f"{source} is a seed ensemble of {members} members; more epochs would train their average as one network, "
            f"not each member: fit the compiled artifact again with --ensemble {members} and the epochs you want"
        )
    if opts.ensemble == 1:
        return
    if record.stage == "fitted":
        raise ConfigError(
            f"--ensemble trains every member from the compiled weights, and {source} is already fitted: give the "
            f"compiled artifact it was fitted from, or drop --ensemble to train this model further"
        )
    if opts.checkpoint_dir is not None:
        raise ConfigError(
            "--checkpoint-dir resumes one fit, not the members of an ensemble: drop --checkpoint-dir (an interrupted "
            "ensemble starts again from its first member), or drop --ensemble to fit one resumable model"
        )
    if opts.strategy == "multi-worker":
        raise ConfigError(
            "--ensemble trains on one machine: drop --strategy multi-worker (use mirrored for this machine's devices), "
            "or drop --ensemble"
        )


def fit(
    source: Path,
    opts,
    fit_one: Callable[..., Written],
    *,
    callbacks: Sequence = (),
    should_stop: Callable[..., str | None] | None = None,
    lineage_path: Path | None = None,
) -> Written:
    """Train `opts.ensemble` members with `fit_one` (fit's single fit) and write their average as one artifact.

    Args:
        fit_one: `fitting.fit`: called once per member with that member's options (`ensemble = 1`).
        callbacks: Given to every member's fit; the CLI's progress display
            counts the fits it is made for (see `progress.FitReporter`).
        should_stop: As for `fitting.fit`; only the last member's fit polls it
            with `final=True`, since until then there is training left to stop.
        lineage_path: As for `fitting.fit`.

    Returns:
        The fitted ensemble: its record's fit summary is member 1's (so are
        its history and its epoch counts), with `ensemble` added: members,
        seeds, each member's epochs and final loss, and their training seconds summed.
    """
    record, _, _, content = open_for_training(source, opts)
    artifact.require_stage(record, "compiled", source, "fit")
    check(source, opts, record)
    out = artifact.check_out_path(opts.out, "fit", source=source)
    outputs.check(outputs_of(opts, out=out), inputs_of(opts, source))
    with tempfile.TemporaryDirectory(prefix="lstmcli-ensemble-") as scratch:
        folder = Path(scratch)
        (folder / START).write_bytes(content)  # every member starts from the bytes read once
        history = folder / "history.csv" if opts.history is not None and str(opts.history) != outputs.STDIO else None
        members = _Members(source, opts, out, folder, history, fit_one, callbacks, should_stop, lineage_path)
        for number in range(1, opts.ensemble + 1):
            members.train(number)
        record = _record(members.records)
        model = _combined(members.models, record)
        if history is not None:
            with outputs.atomic_output(Path(opts.history), "wb") as handle:
                handle.write(history.read_bytes())
        artifact.save(model, record, out)  # the last write: once --out exists, the ensemble is complete
    return Written(out, "fitted", record.fit, record.history)


START = "start.keras"  # the source's bytes, in the ensemble's temporary folder


@dataclasses.dataclass
class _Members:
    """The members trained so far, and what each member's fit shares (see `fit`)."""

    source: Path
    opts: object
    out: Path
    folder: Path
    history: Path | None
    fit_one: Callable[..., Written]
    callbacks: Sequence
    should_stop: Callable[..., str | None] | None
    lineage_path: Path | None
    models: list = dataclasses.field(default_factory=list)
    records: list = dataclasses.field(default_factory=list)

    def train(self, number: int) -> None:
        """Fit member `number` (from 1) into the temporary folder and load it.

        Member 1 is the plain fit (its seed, history and TensorBoard logs);
        the others start from fresh weights with their seeds and hold out
        member 1's validation samples.
        """
        n, stop = self.opts.ensemble, self.should_stop
        if stop is not None and stop() == "interrupted":  # asked between two members
            raise Interrupted(
                f"interrupted before ensemble member {number} of {n}; nothing was written to {self.out} and "
                f"{self.source} is unchanged"
            )
        start = self.folder / START
        changes = dict(ensemble=1, out=self.folder / f"member{number}.keras", history=self.history)
        if self.records:
            first = self.records[0].seed
            seed = (first + number - 1) % SEED_RANGE
            start = _fresh_start(start, seed, self.folder, self.opts.unsafe)
            changes.update(seed=seed, split_seed=first, history=None, tensorboard=None)
        member_opts = dataclasses.replace(self.opts, **changes)
        renames = {str(member_opts.out): str(self.out), str(start): str(self.source), str(self.folder): "(temporary)"}
        last = number == n
        with _named(f"ensemble member {number} of {n}: ", renames):
            self.fit_one(
                start,
                member_opts,
                callbacks=[_labelled(cb, f"member {number}/{n}") for cb in self.callbacks],
                should_stop=None if stop is None else lambda final=False: stop(final=final and last),
                lineage_path=self.lineage_path or self.source,
            )
        model, record = artifact.load(member_opts.out, unsafe=self.opts.unsafe)
        self.models.append(model)
        self.records.append(record)


def _labelled(callback, prefix: str):
    """A callback factory that names its pass after the member (`fitting.fit` calls factories with a label)."""
    if hasattr(callback, "set_model"):  # a callback, not a factory
        return callback
    return lambda label=None: callback(f"{prefix} {label}" if label else prefix)


def _fresh_start(start: Path, seed: int, folder: Path, unsafe: bool) -> Path:
    """The compiled model at `start` with its weights drawn afresh by its layers' initializers, seeded by `seed`.

    `keras.models.clone_model` makes the layers again from their configs, so
    each weight is drawn as define drew it, from another seed; the compiled
    model keeps its optimizer and record. A plain Keras model stays one (fit adopts it).
    """
    keras = load_tensorflow()
    to = folder / f"start-{seed}.keras"
    try:
        opened = artifact.read_artifact(start)
        model, record = artifact.load(start, unsafe=unsafe, record=opened.record, content=opened.content)
    except artifact.ForeignModel as foreign:
        model, record = artifact.load_keras(start, unsafe=unsafe, compile=True, content=foreign.content), None
    keras.utils.set_random_seed(seed)
    model.set_weights(keras.models.clone_model(model).get_weights())
    if record is not None:
        artifact.save(model, record, to)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(to)
    return to


def _record(records: list[Record]) -> Record:
    """The ensemble's record: member 1's (its history, epochs and summary) with what the ensemble is added.

    Its `seconds` are the members' training seconds summed, as a single fit counts its own.
    """
    record = copy.deepcopy(records[0])
    record.preprocessing = combining.check_shared([r.preprocessing for r in records])
    fits = [r.fit or {} for r in records]
    record.fit["ensemble"] = {
        "members": len(records),
        "seeds": [r.seed for r in records],
        "member_epochs": [f.get("epochs") for f in fits],
        "member_final_loss": [f.get("final_loss") for f in fits],
        "seconds": round(sum(f.get("seconds") or 0.0 for f in fits), 3),
        "history_member": 1,
    }
    calibration = combining.merge_calibration([f.get("calibration") for f in fits])
    record.fit.pop("calibration", None)
    if calibration is not None:
        record.fit["calibration"] = calibration
    record.lineage[-1]["ensemble"] = {"members": len(records), "seeds": [r.seed for r in records]}
    return record


def _combined(models: list, record: Record):
    """The members' average as one compiled predictor, its optimizer built (so it loads without a warning)."""
    from lstmcli.data.dataspec import DataSpec

    keras = load_tensorflow()
    views = combining.combine(models, record.preprocessing, DataSpec.from_dict(record.data_spec))
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(models[0].optimizer))
    views.predictor.compile(
        optimizer=optimizer, loss=record.compile["loss"], metrics=list(record.compile.get("metrics") or []) or None
    )
    optimizer.build(views.predictor.trainable_variables)
    return views.predictor


@contextlib.contextmanager
def _named(prefix: str, renames: dict[str, str]):
    """A member's error names the ensemble's files, not the member's temporary ones, after `prefix`."""
    try:
        yield
    except LstmcliError as exc:
        texts = []
        for arg in exc.args:
            if isinstance(arg, str):
                for temporary, final in renames.items():
                    arg = arg.replace(temporary, final)
                arg = prefix + arg
            texts.append(arg)
        exc.args = tuple(texts)
        raise

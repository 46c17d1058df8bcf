"""fit's guard against memorising small data: choose the epoch count on held-out samples, then refit on all.

A fit told to train N epochs on a few hundred rows trains N epochs, however
early its held-out error stopped falling; nothing in the training loss says so.
The guard does what a careful practitioner does when no one chose the epochs
on held-out data:

- **trial**: hold out the end of the training windows (a series, time's order)
  or a stratified draw (samples), train with early stopping on them, and note
  the best epoch. Few samples judge an epoch noisily, so a small samples file
  is judged by several draws (repeated stratified hold-out, one seed each),
  each trained in full, and the epoch best on their averaged curves is taken;
- **refit** (`--guard auto`, the default): train from the same start on every
  row for that many epochs, so the rows held out (a series' most recent ones)
  still teach the model; `--guard best` keeps the trial's best weights instead;
  `--guard none` trains exactly as asked (the tutorial's example).

The guard stays out of a fit whose user chose how to judge it: a
`--validation-data` file (judged on, never refitted on), a `--monitor`, an
`--early-stopping` on the training loss, a `--validation-split` on a file of
SMALL_SAMPLES or more. A split on a smaller file is what the guard is for
(10 samples judge an epoch noisily and 40 train a poor model): it becomes the
trials' hold-out, with the floors below, and the refit follows. The
held-out windows of a series also give the residuals that calibrate
`predict --interval` (see `calibration`).

This module holds the plan, not the training: `fitting` runs the trials and the refit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from lstmcli.model.record import Record
from lstmcli.options import SEED_RANGE

FRACTION = 0.2  # held out when the user chose no split
MIN_SAMPLES = 30  # below this many samples nothing is held out: too few to judge an epoch and still train
MIN_HELD = 10  # the fewest samples an epoch is judged on …
MIN_HELD_SERIES = 20  # … for a series, whose held-out windows also calibrate intervals (19 for a 95% one)
MIN_TRAIN = 20  # … and the fewest left to train on
SMALL_SAMPLES = 300  # a samples file smaller than this is judged by several hold-out draws …
DRAWS = 3  # … this many, their held-out curves averaged
NOISE_ERRORS = 2.0  # a classifier's held-out accuracy must fall this many standard errors to cut its epochs


@dataclass(frozen=True)
class Plan:
    """How the guard trains this fit: `mode`, the hold-out fraction, the patience, how many draws."""

    mode: str
    fraction: float
    patience: int
    draws: int
    given_split: bool  # the hold-out is the user's --validation-split
    layout: str
    judge: str | None = None  # the log early stopping watches: None for val_loss

    def trial_options(self, opts, draw: int):
        """The options of trial `draw` (0-based): the hold-out, early stopping, no outputs but the model.

        Draws after the first use the next seeds: another stratified hold-out, other shuffles.
        """
        # every epoch trained, the curves decide (see chosen_epochs); `best` keeps early stopping's restored weights
        in_full = (self.draws > 1 or bool(self.judge)) and self.mode == "auto"
        changes = dict(
            validation_split=self.fraction,
            early_stopping=None if in_full else self.patience,
            monitor=self.judge,
            history=None,
            checkpoint_dir=None,
        )
        if (
            draw
        ):  # the next seeds: another hold-out draw, other shuffles (and, in an ensemble, the same for every member)
            changes.update(seed=(opts.seed + draw) % SEED_RANGE, tensorboard=None)
            if getattr(opts, "split_seed", None) is not None:
                changes["split_seed"] = (opts.split_seed + draw) % SEED_RANGE
        return replace(opts, **changes)


def plan(opts, *, layout: str, n: int, smoke: bool, judge: str | None = None) -> tuple[Plan | None, str]:
    """The guard's plan for a fit of `n` samples (windows of a series), or None and why it does not apply.

    Args:
        opts: fit's options (guard, validation, early stopping, epochs).
        layout: "series" or "samples".
        n: The samples (a series' windows, before any transform's context) the file gives.
        smoke: A smoke fit trains one epoch: no guard.
        judge: The log the trials' early stopping watches; None for val_loss. A
            classifier's is its validation accuracy: its log loss rises as it grows
            sure of the samples it gets right while it still learns the others
            (GunPoint's trials stopped by val_loss kept 0.81 where 300 epochs gave 0.95).
    """
    mode = getattr(opts, "guard", "none")
    if mode == "none":
        return None, "--guard none: trained as asked"
    if smoke:
        return None, "smoke fit: trained as asked"
    if opts.strategy == "multi-worker":
        return None, "multi-worker fits train as asked (--guard needs one process to run trials)"
    if opts.validation_data is not None:
        return None, "judged on --validation-data, never refitted on it"
    if opts.monitor is not None:
        return None, f"--monitor {opts.monitor} chose what the callbacks watch: trained as asked"
    if opts.early_stopping and not opts.validation_split:
        return None, "--early-stopping without validation watches the training loss, as asked"
    if opts.validation_split and n >= SMALL_SAMPLES:
        return None, f"--validation-split {opts.validation_split} judges the epochs on enough samples: kept as asked"
    if n < MIN_SAMPLES:
        return None, f"{n} samples are too few to hold any out (the guard needs {MIN_SAMPLES}): trained as asked"
    floor = MIN_HELD_SERIES if layout == "series" and n - MIN_HELD_SERIES >= 2 * MIN_TRAIN else MIN_HELD
    held = max(round(n * (opts.validation_split or FRACTION)), floor)
    held = min(held, n - MIN_TRAIN)
    patience = opts.early_stopping or min(50, max(10, opts.epochs // 10))
    draws = DRAWS if layout == "samples" and n < SMALL_SAMPLES and mode == "auto" else 1
    return (
        Plan(
            mode=mode,
            fraction=held / n,
            patience=patience,
            draws=draws,
            given_split=bool(opts.validation_split),
            layout=layout,
            judge=judge,
        ),
        "",
    )


def judge(task, record) -> str | None:
    """The log a guard's trials judge epochs by: a classifier's validation accuracy when compiled, else val_loss."""
    return (
        "val_accuracy" if task.classification and "accuracy" in ((record.compile or {}).get("metrics") or []) else None
    )


def chosen_epochs(plan_: Plan, histories: list[dict], best: list[int], epochs: int, held: int) -> tuple[int, list[int]]:
    """The refit's epoch count, and each draw's best epoch.

    Judged by loss, one draw (a series): the epoch early stopping kept; several
    (a small samples file, each trained all `epochs`): the epoch whose held-out
    loss, averaged over the draws, is lowest. Judged by a classifier's accuracy
    (each draw trained in full): all `epochs`, unless the averaged held-out
    accuracy ends below its best by more than that many samples' noise can
    explain (two standard errors, 2√(p(1−p)/m) for m = `held` × draws): then
    the latest epoch at the best. Few samples' accuracy moves in coarse steps;
    it argues for fewer epochs only where it clearly falls (measured: with one
    standard error GunPoint's refit stopped at 245 epochs and kept 0.89, where
    300 gave 0.95; bench/QUALITY_CLASSIFY.md).
    """
    import numpy as np

    if plan_.draws == 1 and not plan_.judge:
        return best[0], best
    key = plan_.judge or "val_loss"
    curves = np.array([history[key][-epochs:] for history in histories], dtype=np.float64)
    pick = np.nanargmax if plan_.judge else np.nanargmin
    per_draw = [int(pick(curve)) + 1 for curve in curves]
    mean = np.nanmean(curves, axis=0)
    if not plan_.judge:
        return int(np.nanargmin(mean)) + 1, per_draw
    top = float(np.nanmax(mean))
    noise = NOISE_ERRORS * math.sqrt(top * (1 - top) / max(held * len(curves), 1))
    if mean[-1] >= top - noise:
        return len(mean), per_draw
    return int(np.flatnonzero(mean >= top - 1e-9)[-1]) + 1, per_draw


def summary(
    plan_: Plan | None, why: str, *, n: int, held: int = 0, best_epochs=(), epochs: int = 0, skill=None
) -> dict:
    """The record's `fit.guard`: what the guard did and why, with a one-line `note` fit prints.

    `skill` is the naive forecast's RMSE over the trial's on its held-out windows (a series'): below 1
    the model loses to "next = last" where it was judged, and the note says so and what to try.
    """
    if plan_ is None:
        return {"mode": "off", "note": f"guard: {why}"}
    where = "the last" if plan_.layout == "series" else "a stratified draw of"
    judged = f"{where} {held} of {n} samples" + (f" by {plan_.judge}" if plan_.judge else "")
    how = f"patience {plan_.patience}"
    if plan_.draws > 1:
        judged += f" ({plan_.draws} draws, seeds from the fit's)"
    if plan_.mode == "auto" and (plan_.draws > 1 or plan_.judge):
        how = "the draws' curves averaged, each trained in full" if plan_.draws > 1 else "trained in full"
    best = ", ".join(str(e) for e in best_epochs)
    if plan_.draws > 1 and plan_.mode == "auto":
        best = f"{epochs} (the draws' own: {best})"
    if plan_.mode == "best":
        note = f"guard: kept the best epoch ({best}) judged on {judged}, early stopping patience {plan_.patience}"
    else:
        note = f"guard: best epoch {best} judged on {judged} ({how}); refitted on all {n} for {epochs} epochs"
    if skill is not None:
        note += (
            f"; there it beat the naive forecast {skill:.2f}×"
            if skill >= 1
            else f"; there it LOST to the naive forecast (skill {skill:.2f}): try --transform diff, a smaller model or more rows"
        )
    return {
        "mode": plan_.mode,
        "held_out": held,
        "samples": n,
        "draws": plan_.draws,
        "patience": plan_.patience,
        "best_epochs": list(best_epochs),
        **({"refit_epochs": epochs} if plan_.mode == "auto" else {}),
        "note": note,
    }


MAX_RESIDUALS = 2000  # the most recent held-out windows a calibration keeps


def calibration(actual, predicted, *, held_out: str) -> dict:
    """The record's `fit.calibration`: signed residuals (actual − prediction, data units) of held-out windows.

    One list per output column (step-major, as the predictor's outputs), in
    window order, at most the last MAX_RESIDUALS windows. `predict --interval`
    turns them into split-conformal intervals; an ensemble averages its
    members' (their held-out windows are the same).
    """
    import numpy as np

    residuals = np.asarray(actual, np.float64) - np.asarray(predicted, np.float64)
    residuals = residuals[-MAX_RESIDUALS:]
    return {
        "method": "split conformal",
        "held_out": held_out,
        "windows": int(residuals.shape[0]),
        "residuals": [[float(f"{v:.7g}") for v in column] for column in residuals.T],
    }


def judged(record: Record, views, validation, how: dict, facts: tuple, restored: dict, base_epochs: int, guard: tuple):
    """What the held-out samples said: the best epoch of this pass and how many the guard held out; written into
    `record.fit`, a series' residuals (the calibration of prediction intervals, and the trial's skill over the
    naive forecast) and, for a pass the guard ran (`guard`: plan, why, samples, draw), its summary."""
    from lstmcli.train.loop import Trainer

    task, spec, dist, batch_size = facts
    plan_, why, n, draw = guard
    if validation is not None and not task.classification and spec.layout == "series" and dist.is_chief:
        predicted = Trainer(views.predictor, distribution=dist).predict(validation, batch_size)
        record.fit["calibration"] = calibration(
            validation.y_raw, predicted, held_out=held_out_words(how, len(validation))
        )
        if validation.history is not None:  # the first baseline a practitioner checks, on the same windows
            from lstmcli.scoring.baselines import forecast_metrics

            naive = forecast_metrics(
                predicted, validation.y_raw, validation.history, validation.target_rows, season=None, scale=None
            )
            if naive.get("skill") is not None and math.isfinite(naive["skill"]):
                record.fit["held_out_skill"] = naive["skill"]
    best = restored.get("restored_epoch", record.epochs) - base_epochs
    held = len(validation) if validation is not None and plan_ is not None else 0
    if draw is not None:  # a pass the guard ran (None: a refit, or a fit without the guard)
        record.fit["guard"] = summary(
            plan_, why, n=n, held=held, best_epochs=[best], skill=record.fit.get("held_out_skill")
        )
    return best, held


def held_out_words(how: dict, windows: int) -> str:
    """Which windows a calibration's residuals come from, for the record."""
    if how.get("method") == "file":
        return f"the {windows} windows of --validation-data"
    return f"the last {windows} windows of the training rows"

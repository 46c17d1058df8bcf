"""Scaling is learned on the training part only: validation rows never reach the statistics."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from lstmcli.data.prepared import Prepared, Samples
from lstmcli.model.artifact import load, read_record
from lstmcli.model.predictor import learned_in_graph

SHIFT = 1000.0


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


def stats_of(path):
    """The scaling statistics of a fitted artifact: the record's and the graph's, which must agree."""
    model, record = load(path)
    graph = learned_in_graph(model)
    for key in ("inputs", "targets"):
        if record.preprocessing[key] is None:
            assert graph[key] is None
        else:
            np.testing.assert_allclose(graph[key]["offset"], record.preprocessing[key]["offset"], rtol=1e-6)
    return record.preprocessing


def test_a_series_split_learns_its_scaling_on_the_rows_the_training_windows_use(tmp_path, cli):
    # 105 rows, 4 timesteps, horizon 1: 101 windows; a 0.2 split holds out the last 20, so the 81 training
    # windows use rows 0..84 (the last one's target is row 84). Every row after that is shifted by +1000.
    y = np.sin(np.arange(105) / 4)
    y[85:] += SHIFT
    pd.DataFrame({"y": y}).to_csv(tmp_path / "s.csv", index=False)
    run_ok(cli, "define", "--timesteps", 4, "--features", "y", "--lstm", 2, "--seed", 0, "--out", tmp_path / "d.keras")
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "s.csv",
        "--validation-split",
        "0.2",
        "--epochs",
        1,
        "--verbose",
        0,
        "--seed",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    learned = stats_of(tmp_path / "f.keras")
    for key in ("inputs", "targets"):
        assert learned[key]["offset"][0] == pytest.approx(y[:85].mean(), abs=1e-6)
        assert learned[key]["scale"][0] == pytest.approx(y[:85].std(), rel=1e-6)
    fit = read_record(tmp_path / "f.keras").fit
    assert (fit["samples"], fit["validation_samples"]) == (81, 20)  # the split itself is unchanged
    assert fit["naive_scale"] == pytest.approx([np.abs(np.diff(y[:85])).mean()], rel=1e-5)  # MASE's scale too

    # Continued training keeps what the first fit learned, whatever it is given.
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        tmp_path / "f.keras",
        "--data",
        tmp_path / "s.csv",
        "--validation-split",
        "0.5",
        "--epochs",
        1,
        "--verbose",
        0,
        "--out",
        tmp_path / "g.keras",
    )
    assert stats_of(tmp_path / "g.keras")["inputs"] == learned["inputs"]

    # A separate validation file: the statistics are the whole training file's, none of the validation file's.
    pd.DataFrame({"y": y[:85] + SHIFT}).to_csv(tmp_path / "v.csv", index=False)
    pd.DataFrame({"y": y[:85]}).to_csv(tmp_path / "t.csv", index=False)
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "t.csv",
        "--validation-data",
        tmp_path / "v.csv",
        "--epochs",
        1,
        "--verbose",
        0,
        "--seed",
        0,
        "--out",
        tmp_path / "h.keras",
    )
    assert stats_of(tmp_path / "h.keras")["inputs"]["offset"][0] == pytest.approx(y[:85].mean(), abs=1e-6)


def test_a_samples_split_learns_its_scaling_on_the_training_samples_and_its_labels_on_all(tmp_path, cli):
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], [30, 31])
    x = labels[:, None] + 0.2 * rng.standard_normal((61, 3))
    x[1::2] += SHIFT  # half the rows far away, so any held-out one moves the mean
    frame = pd.DataFrame(x, columns=["t0", "t1", "t2"])
    frame["label"] = np.array(["a", "b"])[labels]
    frame.loc[60, "label"] = "z"  # a third class in one row only: a 0.6 split holds it out
    frame.to_csv(tmp_path / "s.csv", index=False)
    run_ok(
        cli,
        "define",
        "--task",
        "multiclass",
        "--num-classes",
        3,
        "--layout",
        "samples",
        "--reshape",
        "timesteps",
        "--features",
        "t0,t1,t2",
        "--target",
        "label",
        "--lstm",
        2,
        "--seed",
        0,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    run = cli(
        "fit",
        "--guard",
        "none",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "s.csv",
        "--validation-split",
        "0.6",
        "--epochs",
        1,
        "--verbose",
        0,
        "--seed",
        5,
        "--out",
        tmp_path / "f.keras",
    )
    assert run.exit_code == 2 and "leaves class 'z' without training samples" in run.stderr, run  # refused, not crashed

    frame.loc[[58, 59], "label"] = "z"  # three rows of 'z': a 0.2 split holds one out and trains on two
    frame.to_csv(tmp_path / "s.csv", index=False)
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "s.csv",
        "--validation-split",
        "0.2",
        "--epochs",
        1,
        "--verbose",
        0,
        "--seed",
        5,
        "--out",
        tmp_path / "f.keras",
    )
    learned = stats_of(tmp_path / "f.keras")
    assert learned["classes"] == ["a", "b", "z"]
    # The training rows are the ones the stratified draw itself keeps.
    index = {"a": 0, "b": 1, "z": 2}
    encoded = np.eye(3, dtype=np.float32)[[index[v] for v in frame["label"]]]
    data = Prepared(
        Samples(x.reshape(61, 3, 1).astype(np.float32)),
        encoded,
        frame["label"].to_numpy(),
        np.arange(61),
        "row",
        ["label"],
    )
    train, validation = split_random(data, 0.2, seed=5)
    kept = train.keys
    assert len(kept) == read_record(tmp_path / "f.keras").fit["samples"]
    assert learned["inputs"]["offset"][0] == pytest.approx(x[kept].mean(), rel=1e-6)
    assert learned["inputs"]["offset"][0] != pytest.approx(x.mean(), rel=1e-4)


def test_one_pass_a_split_fit_reads_its_artifact_once_and_learns_and_parses_once(tmp_path, cli, monkeypatch):
    """Read, split, learn once on the training rows, prepare: nothing is learned, parsed or hashed twice."""
    import builtins
    import io

    import keras

    from lstmcli.data import parsing, preprocessing, windowing

    y = np.sin(np.arange(105) / 4)
    pd.DataFrame({"y": y}).to_csv(tmp_path / "s.csv", index=False)
    run_ok(cli, "define", "--timesteps", 4, "--features", "y", "--lstm", 2, "--seed", 0, "--out", tmp_path / "d.keras")
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    source = str(tmp_path / "c.keras")
    calls = {"learn": [], "numeric": 0, "learn_scaling": 0, "opens": 0, "keras_loads": 0}
    learn, numeric, learn_scaling, real_open = (
        windowing.learn,
        parsing.numeric,
        preprocessing.learn_scaling,
        builtins.open,
    )
    load_model, loading = keras.saving.load_model, []

    def counting_learn(*args, **kwargs):
        calls["learn"].append(kwargs.get("rows"))
        return learn(*args, **kwargs)

    def counting_numeric(*args, **kwargs):
        calls["numeric"] += 1
        return numeric(*args, **kwargs)

    def counting_learn_scaling(*args, **kwargs):
        calls["learn_scaling"] += 1
        return learn_scaling(*args, **kwargs)

    def counting_open(file, *args, **kwargs):
        if not loading and isinstance(file, (str, bytes, os.PathLike)) and os.fspath(file) in (source, source.encode()):
            calls["opens"] += 1
        return real_open(file, *args, **kwargs)

    def counting_load_model(path, *args, **kwargs):  # Keras opens the file itself (twice: a zip check, the load)
        calls["keras_loads"] += os.fspath(path) == source
        loading.append(path)
        try:
            return load_model(path, *args, **kwargs)
        finally:
            loading.pop()

    monkeypatch.setattr(windowing, "learn", counting_learn)
    monkeypatch.setattr(parsing, "numeric", counting_numeric)
    monkeypatch.setattr(preprocessing, "learn_scaling", counting_learn_scaling)
    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)  # zipfile and pathlib open files with io.open
    monkeypatch.setattr(keras.saving, "load_model", counting_load_model)
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        source,
        "--data",
        tmp_path / "s.csv",
        "--validation-split",
        "0.2",
        "--epochs",
        1,
        "--verbose",
        0,
        "--seed",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    monkeypatch.undo()
    assert len(calls["learn"]) == 1, "the preprocessing is learned once"
    np.testing.assert_array_equal(calls["learn"][0], np.arange(85))  # on the rows of the 81 training windows
    assert calls["learn_scaling"] == 2  # the inputs' statistics and the targets'
    assert calls["numeric"] == 1  # the one column parsed once, for learning and preparing both
    # One read of the artifact's bytes: its record, its sha256 and the model Keras loads all come from it.
    assert (calls["opens"], calls["keras_loads"]) == (1, 0), calls
    record = read_record(tmp_path / "f.keras")
    from lstmcli.model.artifact import sha256_file

    assert record.lineage[-1]["parent"]["sha256"] == sha256_file(source)


def test_auto_transforms_are_chosen_once_on_the_training_rows(tmp_path, cli, monkeypatch):
    from lstmcli.data import transforms

    t = np.arange(150)
    y = 10 + 0.5 * t + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).standard_normal(150)
    y[125:] += SHIFT  # rows only validation sees: a choice made on them would differ
    pd.DataFrame({"y": y}).to_csv(tmp_path / "m.csv", index=False)
    run_ok(
        cli,
        "define",
        "--timesteps",
        12,
        "--features",
        "y",
        "--transform",
        "auto",
        "--season",
        12,
        "--lstm",
        2,
        "--seed",
        0,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    seen, choose, forward = [], transforms.choose, transforms.forward

    def counting_choose(values, season):
        seen.append(np.array(values, copy=True))
        return choose(values, season)

    forwards = []

    def counting_forward(values, chosen, *args, **kwargs):
        forwards.append(list(chosen))
        return forward(values, chosen, *args, **kwargs)

    monkeypatch.setattr(transforms, "choose", counting_choose)
    monkeypatch.setattr(transforms, "forward", counting_forward)
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "m.csv",
        "--validation-split",
        "0.2",
        "--epochs",
        1,
        "--verbose",
        0,
        "--seed",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    monkeypatch.undo()
    # 150 rows, 12 timesteps: 138 windows, the last 28 held out; whatever differencing auto chooses, the
    # training windows use the first 122 rows at least (more context: fewer windows, a shorter tail).
    assert len(seen) == 1, "auto chooses once"
    np.testing.assert_array_equal(seen[0].ravel(), y[:122].astype(np.float32))
    assert len(forwards) == 1, f"the targets are transformed once: {forwards}"
    record = read_record(tmp_path / "f.keras")
    assert record.fit["transforms"]["chosen"] == choose(y[:122, None].astype(np.float32), 12)[0]
    context = record.preprocessing["context"]
    assert (record.fit["samples"], record.fit["validation_samples"]) == (
        138 - context - round((138 - context) * 0.2),
        round((138 - context) * 0.2),
    )


def split_random(data, fraction: float, seed: int):
    """A stratified seeded split of prepared samples, by the one draw fit makes (`prepared.held_out`)."""
    from lstmcli.data.parsing import class_indices
    from lstmcli.data.prepared import held_out

    held = held_out(class_indices(data.y), fraction, seed)
    return data.subset(np.flatnonzero(~held)), data.subset(np.flatnonzero(held))

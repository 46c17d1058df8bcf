"""Classification on real-shaped files: class-respecting splits, class weights, baselines, padding, honest summaries."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from lstmcli.model.artifact import read_record


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


def sorted_by_class(path, counts, timesteps=5, seed=0):
    """A samples file sorted by class, as many published sets are: class k's rows sit around level k."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    x = labels[:, None] + 0.2 * rng.standard_normal((len(labels), timesteps))
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(timesteps)])
    frame["label"] = np.array(["a", "b", "c", "d"])[labels]
    frame.to_csv(path, index=False)
    return frame


def compiled_classifier(cli, tmp_path, classes, timesteps=5, extra=()):
    task = ["--task", "binary"] if classes == 2 else ["--task", "multiclass", "--num-classes", classes]
    features = ",".join(f"t{i}" for i in range(timesteps))
    run_ok(
        cli,
        "define",
        *task,
        "--layout",
        "samples",
        "--reshape",
        "timesteps",
        "--features",
        features,
        "--target",
        "label",
        "--lstm",
        4,
        "--seed",
        0,
        *extra,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--learning-rate", "0.05", "--out", tmp_path / "c.keras")
    return tmp_path / "c.keras"


def test_a_class_sorted_file_keeps_every_class_in_training(tmp_path, cli):
    counts = [10, 20, 15, 5]
    sorted_by_class(tmp_path / "sorted.csv", counts)
    compiled = compiled_classifier(cli, tmp_path, 4)
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        compiled,
        "--data",
        tmp_path / "sorted.csv",
        "--validation-split",
        "0.2",
        "--seed",
        7,
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    fit = read_record(tmp_path / "f.keras").fit
    assert fit["class_counts"] == [
        8,
        16,
        12,
        4,
    ]  # each class gives 20% to validation, the tail would have taken all of d
    assert fit["validation_samples"] == 2 + 4 + 3 + 1
    assert fit["validation"] == {"method": "stratified", "fraction": 0.2, "seed": 7}
    run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        compiled,
        "--data",
        tmp_path / "sorted.csv",
        "--validation-split",
        "0.2",
        "--seed",
        7,
        "--verbose",
        0,
        "--out",
        tmp_path / "g.keras",
    )
    assert read_record(tmp_path / "g.keras").history == read_record(tmp_path / "f.keras").history  # the draw is seeded


def test_the_stratified_draw_is_random_within_each_class_and_keeps_order():
    from lstmcli.data.prepared import Prepared, Samples

    labels = np.repeat([0, 1], [50, 50])
    data = Prepared(
        Samples(np.arange(100, dtype=np.float32).reshape(100, 1, 1)),
        labels.astype(np.float32)[:, None],
        labels,
        np.arange(1, 101),
        "row",
        ["label"],
    )
    train, validation = split_random(data, 0.2, seed=1)
    held = validation.keys - 1
    assert np.bincount(labels[held]).tolist() == [10, 10]
    assert list(held) == sorted(held) and not (held == np.r_[40:50, 90:100]).all()  # not the tail of each class
    again = split_random(data, 0.2, seed=1)[1].keys
    other = split_random(data, 0.2, seed=2)[1].keys
    assert (again == validation.keys).all() and not (other == validation.keys).all()
    assert sorted(np.r_[train.keys, validation.keys].tolist()) == list(range(1, 101))


def test_a_split_leaving_a_class_without_training_samples_names_it(tmp_path, cli):
    sorted_by_class(tmp_path / "tiny.csv", [6, 1])
    compiled = compiled_classifier(cli, tmp_path, 2)
    run = cli(
        "fit",
        compiled,
        "--data",
        tmp_path / "tiny.csv",
        "--validation-split",
        "0.6",
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    assert run.exit_code == 2
    assert "leaves class 'b' without training samples" in run.stderr
    assert not (tmp_path / "f.keras").exists()


def test_series_validation_is_still_the_tail(tmp_path, cli):
    t = np.arange(120)
    pd.DataFrame({"y": np.sin(t / 5)}).to_csv(tmp_path / "s.csv", index=False)
    run_ok(cli, "define", "--timesteps", 4, "--features", "y", "--lstm", 2, "--out", tmp_path / "d.keras")
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
        "0.25",
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    fit = read_record(tmp_path / "f.keras").fit
    assert fit["validation"]["method"] == "tail"
    assert (fit["samples"], fit["validation_samples"]) == (87, 29)


def keras_model(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(4), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_class_weights_change_the_loss_as_keras_does():
    import keras

    from lstmcli.data.prepared import Prepared, Samples
    from lstmcli.train.imbalance import class_weights, sample_weights
    from lstmcli.train.loop import Trainer

    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 3, 2)).astype(np.float32)
    labels = np.repeat([0, 1, 2], [20, 7, 3])
    y = np.eye(3, dtype=np.float32)[labels]
    weights = class_weights("balanced", ["a", "b", "c"], [20, 7, 3])
    assert weights == pytest.approx({0: 30 / 60, 1: 30 / 21, 2: 30 / 9})

    ours = keras_model()
    theirs = keras.models.clone_model(ours)
    theirs.set_weights(ours.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    plain = keras_model()  # the same start without weights
    data = Prepared(Samples(x), y, labels, np.arange(30), "row", ["label"])
    result = Trainer(ours).fit(
        data, epochs=3, batch_size=None, shuffle=False, sample_weight=sample_weights(labels, weights)
    )
    unweighted = Trainer(plain).fit(data, epochs=3, batch_size=None, shuffle=False)
    expected = theirs.fit(x, y, epochs=3, batch_size=30, shuffle=False, verbose=0, class_weight=weights).history
    assert result.history["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert abs(result.history["loss"][0] - unweighted.history["loss"][0]) > 1e-3  # the weights really count
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_class_weight_labels_and_the_cli(tmp_path, cli):
    from lstmcli.errors import ConfigError
    from lstmcli.train.imbalance import class_weights, parse_class_weight

    assert parse_class_weight("Balanced") == "balanced"
    assert class_weights(parse_class_weight("3=2.5, 1=0.5"), [1, 2, 3], [5, 5, 5]) == {2: 2.5, 0: 0.5}
    for bad in ("yes", "a=0", "a=x", "=2", "a=1,a=2"):
        with pytest.raises(ConfigError, match="class-weight"):
            parse_class_weight(bad)
    with pytest.raises(ConfigError, match="'zebra', which the model does not have; its classes are a, b"):
        class_weights({"zebra": 2.0}, ["a", "b"], [1, 1])
    sorted_by_class(tmp_path / "data.csv", [24, 6])
    compiled = compiled_classifier(cli, tmp_path, 2)
    run_ok(
        cli,
        "fit",
        compiled,
        "--data",
        tmp_path / "data.csv",
        "--class-weight",
        "b=4",
        "--epochs",
        2,
        "--seed",
        1,
        "--verbose",
        0,
        "--out",
        tmp_path / "w.keras",
    )
    assert read_record(tmp_path / "w.keras").fit["class_weight"] == {"b": 4.0}
    run = cli("fit", compiled, "--data", tmp_path / "data.csv", "--class-weight", "c=4", "--out", tmp_path / "x.keras")
    assert run.exit_code == 2 and "'c', which the model does not have" in run.stderr


def test_evaluate_adds_the_majority_baseline_and_per_class_recall(tmp_path, cli):
    frame = sorted_by_class(tmp_path / "data.csv", [12, 6, 6])
    compiled = compiled_classifier(cli, tmp_path, 3)
    run_ok(
        cli,
        "fit",
        compiled,
        "--data",
        tmp_path / "data.csv",
        "--epochs",
        5,
        "--seed",
        0,
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    metrics = json.loads(
        run_ok(cli, "evaluate", tmp_path / "f.keras", "--data", tmp_path / "data.csv", "--json").stdout
    )
    predictions = pd.read_csv(
        io.StringIO(run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "data.csv").stdout)
    )
    truth, chosen = frame["label"].to_numpy(), predictions["label"].to_numpy()
    assert metrics["majority_accuracy"] == pytest.approx(0.5)  # always 'a', the training part's most common class
    for label in "abc":
        assert metrics[f"recall_{label}"] == pytest.approx(np.mean(chosen[truth == label] == label))
    assert metrics["accuracy"] == pytest.approx(np.mean(chosen == truth))
    table = run_ok(cli, "evaluate", tmp_path / "f.keras", "--data", tmp_path / "data.csv").stdout
    assert "majority_accuracy" in table and "recall_c" in table


def test_the_summary_and_history_name_the_restored_epoch(tmp_path, cli):
    sorted_by_class(tmp_path / "data.csv", [20, 20])
    compiled_classifier(cli, tmp_path, 2)
    # a learning rate far too high makes the validation loss jump about, so the best epoch is not the last
    run_ok(cli, "compile", tmp_path / "d.keras", "--learning-rate", "3", "--out", tmp_path / "hot.keras")
    run = run_ok(
        cli,
        "fit",
        "--guard",
        "none",
        tmp_path / "hot.keras",
        "--data",
        tmp_path / "data.csv",
        "--validation-split",
        "0.3",
        "--early-stopping",
        2,
        "--epochs",
        40,
        "--seed",
        0,
        "--verbose",
        2,
        "--history",
        tmp_path / "h.csv",
        "--out",
        tmp_path / "f.keras",
    )
    record = read_record(tmp_path / "f.keras")
    history = pd.read_csv(tmp_path / "h.csv")
    best = int(np.argmin(history["val_loss"]))
    assert record.fit["restored_epoch"] == best + 1 < len(history)
    assert record.fit["restored_loss"] == pytest.approx(history["loss"][best])
    assert record.fit["restored_val_loss"] == pytest.approx(history["val_loss"][best])
    assert history["restored"].tolist() == [1.0 if i == best else 0.0 for i in range(len(history))]
    assert f"kept epoch {best + 1}'s weights" in run.stderr
    assert f"validation: {record.fit['validation_samples']} samples drawn within each class (seed 0)" in run.stderr
    metrics = json.loads(
        run_ok(cli, "evaluate", tmp_path / "f.keras", "--data", tmp_path / "data.csv", "--json").stdout
    )
    assert metrics["loss"] != pytest.approx(history["loss"].iloc[-1], rel=1e-3)


def padded_file(path, rng, n=40, steps=6):
    """Variable-length univariate samples padded with empty cells; the label is the sign of the first value."""
    lengths = rng.integers(2, steps + 1, n)
    x = rng.standard_normal((n, steps))
    x[:, 0] = np.where(np.arange(n) % 2, 1.0, -1.0) + 0.1 * x[:, 0]
    x[np.arange(steps)[None, :] >= lengths[:, None]] = np.nan
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(steps)])
    frame["label"] = np.where(np.arange(n) % 2, "up", "down")
    frame.to_csv(path, index=False)
    return frame, lengths


def test_a_padded_file_without_mask_names_the_fix(tmp_path, cli):
    frame, lengths = padded_file(tmp_path / "padded.csv", np.random.default_rng(0), steps=5)
    compiled = compiled_classifier(cli, tmp_path, 2)
    run = cli("fit", compiled, "--data", tmp_path / "padded.csv", "--out", tmp_path / "f.keras")
    assert run.exit_code == 2
    first = int(np.argmax(lengths < 5))
    assert f"row {first} ends after {lengths[first]} of 5 time steps" in run.stderr
    assert "Define the model with --mask" in run.stderr


def test_padded_steps_do_not_move_predictions(tmp_path, cli):
    """A padded row predicts what the same network gives on its true steps alone, with no padding at all."""
    import keras

    from lstmcli.model.predictor import network_of

    rng = np.random.default_rng(1)
    frame, lengths = padded_file(tmp_path / "padded.csv", rng)
    compiled = compiled_classifier(cli, tmp_path, 2, timesteps=6, extra=("--mask",))
    run_ok(
        cli,
        "fit",
        compiled,
        "--data",
        tmp_path / "padded.csv",
        "--epochs",
        3,
        "--seed",
        0,
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    predicted = pd.read_csv(
        io.StringIO(run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "padded.csv").stdout)
    )
    network = network_of(keras.saving.load_model(tmp_path / "f.keras"))
    stats = read_record(tmp_path / "f.keras").preprocessing["inputs"]
    values = (frame.iloc[:, :6].to_numpy(dtype=np.float32) - stats["offset"][0]) / stats["scale"][0]
    checked = 0
    for row in np.flatnonzero(lengths < 6)[:3]:
        config = network.get_config()
        config["layers"][0]["config"]["batch_shape"] = [None, int(lengths[row]), 1]
        short = keras.Sequential.from_config(config)  # the same layers on the true length: nothing to mask
        short.set_weights(network.get_weights())
        alone = short.predict(values[row : row + 1, : lengths[row], None], verbose=0)
        assert predicted["up"][row] == pytest.approx(float(alone[0, 0]), abs=1e-5)
        checked += 1
    assert checked == 3


def split_random(data, fraction: float, seed: int):
    """A stratified seeded split of prepared samples, by the one draw fit makes (`prepared.held_out`)."""
    from lstmcli.data.parsing import class_indices
    from lstmcli.data.prepared import held_out

    held = held_out(class_indices(data.y), fraction, seed)
    return data.subset(np.flatnonzero(~held)), data.subset(np.flatnonzero(held))

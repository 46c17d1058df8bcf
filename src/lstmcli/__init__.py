"""lstmcli: the Keras LSTM lifecycle as five shell commands, and as Python functions.

A map of the house, top to bottom. The command line is on top and nothing else imports it;
the steps use train/, model/ and data/; no module imports one that imports it back
(tests/core/test_architecture.py checks both):

- `cli/`: the command line, the only part that knows Typer, rich and the terminal:
  `commands` (one thin body per command), `bridge` (Typer parameters from the options
  classes), `boundary` (errors and signals to exit codes), `render` (tables, summaries)
  and `progress` (fit's bar and epoch lines, a Keras callback).
- `steps/`: one module per command, named for what it does (`defining`, `compiling`,
  `fitting`, `evaluating`, `predicting`, `verifying`, `backtesting`, `running`, `exporting`,
  `inspecting`, `plotting`), `figures` (what plot draws), `loading` for what they share, and `options`, each command's
  frozen options dataclass. `lstmcli.steps` is the Python API (`steps.fit(...)`).
- `train/`: the fused training loop (`loop`, `graphdata`), Keras callbacks around it
  (`callbacks`), `tf.distribute` (`distribution`, `watchdog`) and class weights (`imbalance`).
- `model/`: tasks, architecture, the predictor graph, the artifact and its record,
  adopting plain Keras models, checkpoints, optimizers.
- `data/`: readers, the data spec, row selection and calendars, parsing cells, windowing
  into prepared data, preprocessing, transforms, a fit's data (`fitdata`), forecast tables.
- `scoring/`: the naive and majority baselines, metric gates, metrics files.
- `options`, `outputs`, `errors`, `quiet`: how options are declared and checked, how
  outputs are written atomically, the exception family, and TensorFlow's quiet import.

Importing this package is cheap: nothing here imports TensorFlow until a step needs it.
"""

__version__ = "0.2.0"

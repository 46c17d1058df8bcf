"""lstmcli: the Keras LSTM lifecycle as five shell commands, and as Python functions.

A map of the house, top to bottom (each layer imports only the ones below it):

- `cli/`: the command line, the only part that knows Typer, rich and the terminal:
  `commands` (one thin body per command), `bridge` (Typer parameters from the options
  classes), `boundary` (errors and signals to exit codes), `render` (tables, progress).
- `steps/`: one module per command (`defining`… in `lifecycle` for the five steps,
  `backtesting`, `running`, `exporting`, `inspecting`, `plotting`) and `options`, each
  step's frozen options dataclass. `lstmcli.steps` is the Python API.
- `train/`: the fused training loop (`loop`), Keras callbacks (`callbacks`),
  `tf.distribute` (`distribution`, `watchdog`) and class weights (`imbalance`).
- `model/`: tasks, architecture, the predictor graph, the artifact and its record,
  checkpoints, optimizers.
- `data/`: readers, the data spec, row selection and calendars, windowing,
  preprocessing, transforms, a fit's data (`fitdata`), forecast tables.
- `scoring/`: the naive and majority baselines, metric gates, metrics files.
- `options`, `outputs`, `errors`, `quiet`: how options are declared and checked, how
  outputs are written atomically, the exception family, and TensorFlow's quiet import.

Importing this package is cheap: nothing here imports TensorFlow until a step needs it.
"""

__version__ = "0.2.0"

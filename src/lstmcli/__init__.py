"""lstmcli: the Keras LSTM lifecycle as five shell commands.

The package is a plain core (artifacts, data, models, training) under a thin
command-line layer (`lstmcli.cli`). Importing this package is cheap: nothing
here imports TensorFlow until a step needs it.
"""

__version__ = "0.2.0"

"""From a file to model inputs: readers, the data spec, row selection, calendars, windowing,
scaling and label encoding, target transforms, a fit's training and validation data, and
forecast tables. Nothing here imports TensorFlow."""

"""Importing TensorFlow without its start-up noise on the user's terminal.

TensorFlow's C++ layer writes straight to file descriptor 2 while it loads
(the oneDNN notice, CPU feature and CUDA probing lines) and some of those lines
survive TF_CPP_MIN_LOG_LEVEL. Later lines (logged while a step runs) are
held back by TF_CPP_MIN_LOG_LEVEL=3, set before the import. So the import runs with fd 2 pointed at a
temporary file; afterwards every line that is not known start-up noise is
passed on to the real stderr. With `debug`, nothing is hidden.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

NOISE = re.compile(
    r"^(?:[IWE]\d{4} [\d:. ]+\s*\d+ \S+:\d+\]"  # absl/glog lines: I0000 00:00:… file.cc:12]
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions:"
    r"|\d{4}-\d\d-\d\d [\d:.]+: [IWE] tensorflow/)"
)

_loaded = False


def load_tensorflow(debug: bool = False):
    """Import TensorFlow and Keras once, quietly unless `debug`, and return keras."""
    global _loaded
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if _loaded or debug:
        import keras

        _loaded = True
        return keras
    # 3 silences TensorFlow's C++ ERROR lines too: a few are notices, not errors
    # (with masking, "oneDNN supports DT_BOOL only on platforms with AVX-512"
    # comes on every step), and a real failure reaches the user as an exception.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            import keras
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            tf.config.list_physical_devices()  # device probing logs now, not mid-fit
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        for line in sink.read().decode("utf-8", "replace").splitlines():
            if line.strip() and not NOISE.match(line):
                print(line, file=sys.stderr)
    _loaded = True
    return keras

"""Importing TensorFlow without its start-up noise on the user's terminal.

TensorFlow's C++ layer writes straight to file descriptor 2 while it loads
(the oneDNN notice, CPU feature and CUDA probing lines), and the libraries it
pulls in warn there too (matplotlib, given a HOME it cannot write, says so in
two lines). So the import runs with fd 2 pointed at the null device: a
library that cannot load raises, and that reaches the user as an error;
anything else it prints is not theirs to act on. Lines logged while a
step runs are held back by TF_CPP_MIN_LOG_LEVEL=3, set before the import.
Inside `debugging(True)` (the command line's --debug), nothing is hidden.

TensorFlow leaves files behind too: autograph writes each function it converts
as `__autograph_generated_file*.py` in the temporary folder and removes them
only at interpreter exit, which a command ending with `os._exit` never
reaches. `private_temporary_directory` gives the process a folder of its own
for such files, removed when the command ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import sys
import tempfile

_loaded = False
_DEBUG = contextvars.ContextVar("lstmcli_debug", default=False)


@contextlib.contextmanager
def debugging(on: bool):
    """Within the block, TensorFlow's own log lines and library warnings are shown (`--debug`).

    Set once by the command line, read where it matters, as pypa/build keeps its
    verbosity: the core's signatures do not carry it.
    """
    token = _DEBUG.set(bool(on))
    try:
        yield
    finally:
        _DEBUG.reset(token)


def debug() -> bool:
    """Whether this command runs with --debug."""
    return _DEBUG.get()


@contextlib.contextmanager
def _matplotlib_hidden():
    """Keep Keras's import from importing matplotlib.pyplot, which costs 0.3 s a process.

    Keras imports pyplot, when it is installed, for its image-gallery helpers
    only; lstmcli never calls them (`lstmcli plot` imports matplotlib itself).
    A None in sys.modules makes that optional import fail, as if matplotlib
    were absent, and is removed at once so later imports find the real one.
    """
    if "matplotlib" in sys.modules:
        yield
        return
    sys.modules["matplotlib"] = None
    try:
        yield
    finally:
        if "matplotlib" in sys.modules and sys.modules["matplotlib"] is None:
            del sys.modules["matplotlib"]


def load_tensorflow():
    """Import TensorFlow and Keras once, quietly unless `debugging`, and return keras."""
    global _loaded
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if _loaded or debug():
        with _matplotlib_hidden():
            import keras

        _loaded = True
        return keras
    # 3 silences TensorFlow's C++ ERROR lines too: a few are notices, not errors
    # (with masking, "oneDNN supports DT_BOOL only on platforms with AVX-512"
    # comes on every step), and a real failure reaches the user as an exception.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with open(os.devnull, "wb") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            with _matplotlib_hidden():
                import keras
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            tf.config.list_physical_devices()  # device probing logs now, not mid-fit
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    _loaded = True
    return keras


@contextlib.contextmanager
def private_temporary_directory():
    """Within the block, Python's temporary files (autograph's among them) go to a new folder, removed at the end.

    The folder lies in the usual temporary folder (`$TMPDIR`), named
    `lstmcli-PID-…`; where none can be made, nothing changes.
    """
    try:
        private = tempfile.mkdtemp(prefix=f"lstmcli-{os.getpid()}-")
    except OSError:
        yield None
        return
    before, tempfile.tempdir = tempfile.tempdir, private
    try:
        yield private
    finally:
        tempfile.tempdir = before
        shutil.rmtree(private, ignore_errors=True)

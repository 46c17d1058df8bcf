"""The one exception family lstmcli raises, and the exit code each carries.

The core raises these; the CLI's single error boundary turns them into one line
on stderr and the exit code below. Anything else is a bug and exits 1.
"""

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a terminated job


class LstmcliError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = EXIT_FAILURE


class UsageError(LstmcliError):
    """Input the user can correct: a bad option, file, stage or shape."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A bad option value or config file."""


class DataError(UsageError):
    """A data file that cannot be read or does not fit the model's data spec."""


class ArtifactError(UsageError):
    """A model artifact that is missing, damaged, or not lstmcli's."""


class StageError(UsageError):
    """An artifact at the wrong lifecycle stage for the step asked of it."""


class TrainingError(LstmcliError):
    """Training failed on its own terms (a NaN loss, for example)."""


class DistributionError(LstmcliError):
    """A multi-worker peer that never came up, stopped answering, or failed."""


class GateFailed(LstmcliError):
    """A metric gate (`evaluate --fail-if`) failed: the model got worse, the tool did not break."""

    exit_code = EXIT_GATE

    def __init__(self, failed: list[str]):
        super().__init__("\n".join(failed))
        self.lines = list(failed)  # one error line each: every error line is otherwise a whole message


class WriteError(LstmcliError):
    """An output could not be written (a full disk, a device that refuses); nothing was left half-written."""


class Interrupted(LstmcliError):
    """The user interrupted a step; nothing was written."""

    exit_code = EXIT_INTERRUPTED

"""Errors a user can cause. Each carries a one-line message and an exit code;
the CLI prints the message alone (the traceback only with -v).

Two class attributes tell a batch what a failure means for the other files:
`input_fault` (this input is unusable: retrying it cannot help) and `stops_batch`
(no file can succeed: a model, a setting or a package is missing)."""


class VidswapError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    exit_code = 1
    input_fault = False
    stops_batch = False


class InputError(VidswapError):
    """A missing, empty, damaged or unsupported input file."""

    exit_code = 2
    input_fault = True


class NoFaceError(VidswapError):
    """No usable face was found where one was needed."""

    exit_code = 3
    input_fault = True


class ModelError(VidswapError):
    """A model that cannot be found, loaded or trusted."""

    exit_code = 4
    stops_batch = True


class ConfigError(VidswapError):
    """An invalid setting, option value or config file."""

    exit_code = 2
    stops_batch = True


class MissingDependency(VidswapError):
    """An optional package is needed for this feature."""

    exit_code = 5
    stops_batch = True

    def __init__(self, package: str, feature: str, extra: str | None = None):
        hint = f"uv sync --extra {extra}" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs {package}: install it with `{hint}`")


class OutputError(VidswapError):
    """The output could not be written (full disk, no permission, ...)."""

    exit_code = 6


class BackendUnavailable(VidswapError):
    """An installed inference backend cannot run on this machine (libraries that fail to load)."""

    exit_code = 5


class DownloadError(VidswapError):
    """A download that failed: offline, refused, an HTTP error, or cut off part-way."""

    exit_code = 7

"""Errors a user can cause. Each carries a one-line message and an exit code;
the CLI prints the message alone (the traceback only with -v)."""


class VidswapError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    exit_code = 1


class InputError(VidswapError):
    """A missing, empty, damaged or unsupported input file."""

    exit_code = 2


class NoFaceError(VidswapError):
    """No usable face was found where one was needed."""

    exit_code = 3


class ModelError(VidswapError):
    """A model that cannot be found, loaded or trusted."""

    exit_code = 4


class ConfigError(VidswapError):
    """An invalid setting, option value or config file."""

    exit_code = 2


class MissingDependency(VidswapError):
    """An optional package is needed for this feature."""

    exit_code = 5

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

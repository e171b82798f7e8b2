"""Exceptions with a meaning for the store."""


class Unsupported(Exception):
    """A method cannot run on this model or task; stored as status `unsupported`, not a crash."""


class PluginError(ValueError):
    """A plugin file that does not load (a syntax or import error, a name registered twice)."""


class NoGpu(Exception):
    """A real `--gpu` run on a machine without an NVIDIA GPU (exit 2, with the way out)."""


class UnknownName(KeyError):
    """A name that is not in a registry; the message lists the valid names and the nearest."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

"""Exceptions with a meaning for the store."""


class Unsupported(Exception):
    """A method cannot run on this model or task; stored as status `unsupported`, not a crash."""


class UnknownName(KeyError):
    """A name that is not in a registry; the message lists the valid names and the nearest."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

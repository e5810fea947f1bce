"""Errors a user can cause and fix. The CLIs print them as one line, without a traceback."""


class AlibenchError(ValueError):
    """A mistake a user can fix (config, data, paths, weights); CLIs print it as one line."""


class ConfigError(AlibenchError):
    """A grid or run config that cannot be run: names the field, the value and the choices."""


class DataError(AlibenchError):
    """Data that is missing or unreadable: says where it looked and how to supply it."""

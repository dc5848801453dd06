"""Errors meant for the user: the CLI prints their message as one line, without a traceback."""


class KeelError(Exception):
    """Something the user can fix: the message says what is wrong and what is allowed."""


class ConfigError(KeelError):
    """A configuration value out of its allowed range."""


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds."""
    if not condition:
        raise ConfigError(message)

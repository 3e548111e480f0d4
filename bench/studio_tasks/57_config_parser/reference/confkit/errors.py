"""The one error of a config file."""


class ConfigError(Exception):
    """A config file problem at a 1-based line."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}")
        self.line = line

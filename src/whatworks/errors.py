"""User-facing errors. Every message names what is wrong (file, row, column or parameter) and the fix."""

from __future__ import annotations


class WhatWorksError(Exception):
    """Base class for every error a user can cause. The CLI prints its message and exits 2."""


class InputError(WhatWorksError, ValueError):
    """Bad input data: a missing file or column, text in a number column, an impossible value."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None):
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        self.file, self.row, self.column = file, row, column
        self.message = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class DegenerateModelError(InputError):
    """The data give a model no finite estimate or standard error (e.g. Knapp-Hartung with effects
    that agree exactly); the message says why and what to use instead."""


class ParameterError(WhatWorksError, ValueError):
    """A bad argument: names the parameter, the allowed values and what was given."""

    def __init__(self, name: str, given: object, allowed: str):
        self.name, self.given, self.allowed = name, given, allowed
        super().__init__(f"{name}={given!r} is not allowed; expected {allowed}")


class ConvergenceError(WhatWorksError, RuntimeError):
    """An iterative estimator did not converge; the message says which and what to try."""


class WhatWorksWarning(UserWarning):
    """A warning for users: rows left out, values adjusted (it says how many and why)."""

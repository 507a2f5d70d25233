"""Exception types that name a Populace-specific problem (each also a standard Python exception)."""


class InputError(ValueError):
    """A value the user gave (a command-line argument, a data or population file, a scenario) is wrong; the message
    names the value and the fix. The command line prints these as one line and exits with status 2; any other
    exception is a bug and keeps its traceback."""


class PopulationFileError(InputError):
    """A population or layer file exists but cannot be read as one (not Parquet, wrong column types)."""


class SubstepOutputError(ValueError):
    """A substep returned a column the world does not have, or one of the wrong shape (a bug in the model)."""

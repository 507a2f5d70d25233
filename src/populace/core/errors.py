"""Exception types that name a Populace-specific problem (each also a standard Python exception)."""


class PopulationFileError(ValueError):
    """A population or layer file exists but cannot be read as one (not Parquet, wrong column types)."""


class SubstepOutputError(ValueError):
    """A substep returned a column the world does not have, or one of the wrong shape."""

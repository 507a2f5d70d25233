"""The exception a data loader raises when a source file exists but cannot be read as that source."""

from populace.core.errors import InputError


class DataFileError(InputError):
    """A data file is empty, not the expected format (CSV, xlsx), or lacks the columns or rows a loader needs."""

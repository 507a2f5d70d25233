"""The installed Populace version, in a module of its own so that any module can record it without importing the
package's top level."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("populace")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

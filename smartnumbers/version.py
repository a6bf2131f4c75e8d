"""The release that runs: the installed package's version (``pyproject.toml``)."""

from importlib import metadata


def installed_version() -> str:
    try:
        return metadata.version("smartnumbers")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"

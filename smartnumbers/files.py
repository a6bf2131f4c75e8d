"""Files and folders on the operator's machine: the folders the product makes for itself, and the
files and folders an operator names for a command's output.

What the product makes (``var/``, the sounds folder, a node's dialplan folder, a folder of
rejected CDRs) holds call data, announcements or dialplans that nobody else on the machine
needs: it is made readable by its owner only (0700). A folder that exists keeps its mode: an
operator may have opened it to a switch that runs as another user.

An output an operator names is checked before anything is done (the folder exists, the file
is not a folder), so a typo is one line (``InputError``) and writes nothing; a file is then
written whole or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from smartnumbers.errors import InputError


def private_folder(path: Path) -> None:
    """Make ``path`` and any missing parents, each readable by its owner only."""
    missing = []
    while not path.is_dir() and path.parent != path:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            if not folder.is_dir():
                raise


def _writable(folder: Path) -> bool:
    """A folder we may write in, and not marked read-only (root may write in one, but an
    operator who made it so meant it)."""
    return os.access(folder, os.W_OK | os.X_OK) and bool(folder.stat().st_mode & 0o222)


def check_output_file(path: Path, *, what: str) -> None:
    """Refuse, before anything is done, a file that could not be written where asked."""
    if path.is_dir():
        raise InputError(f"{what}: {path} is a folder: give the name of a file in it")
    if not path.parent.is_dir():
        raise InputError(f"{what}: the folder {path.parent} does not exist: create it, or choose another file")
    if not _writable(path.parent) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{what}: {path} cannot be written here: choose another file")


def write_output_file(path: Path, data: bytes, *, what: str) -> None:
    """Write a file an operator asked for, whole or not at all: into a temporary file beside it,
    then renamed over it."""
    check_output_file(path, what=what)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "xb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{what}: {path} cannot be written ({exc.strerror}): choose another file") from None


def check_output_folder(path: Path, *, what: str) -> None:
    """Refuse, before anything is done, a folder that could not be made or written where asked."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{what}: {path} is a file, not a folder: give a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{what}: {existing} is a file, not a folder: give a folder")
    if not _writable(existing):
        raise InputError(f"{what}: {existing} cannot be written: give another folder")

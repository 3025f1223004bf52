"""Writing files so that nothing is lost or half-written, and refusing targets that hold a user's files.

Every writer in keras-v2v goes through `atomic_path`: it writes to a hidden
temporary sibling of the target (`.NAME.tmp-PID-XXXXXXXX.EXT`), fsyncs it, and
renames it into place only when the write succeeded, so the target is either
the old file or the complete new one. A process killed mid-write leaves its
temporary sibling behind; the next write to the same target removes it (only
when the process that made it is gone, so two writers never trip each other).
Folders are swapped in with one atomic rename exchange where the system has it.
"""

import contextlib
import ctypes
import errno
import glob
import json
import os
import re
import shutil
import stat
import uuid

_TMP = re.compile(r"\.tmp-(\d+)-[0-9a-f]{8}")


def split_ext(name):
    """("clip", ".mp4"); double suffixes that formats need stay whole (".nii.gz")."""
    for ext in (".nii.gz",):
        if name.lower().endswith(ext):
            return name[: -len(ext)], name[-len(ext):]
    return os.path.splitext(name)


def check_output_path(path, what="output"):
    """The absolute target path; refuses an empty path and a folder that contains the working folder."""
    path = os.fspath(path)
    if not str(path).strip():
        raise ValueError(f"the {what} path is empty; name a file (e.g. out.mp4) or a new folder")
    target = os.path.abspath(path)
    cwd = os.path.abspath(os.getcwd())
    if cwd == target or cwd.startswith(target.rstrip(os.sep) + os.sep) or target == os.path.abspath(os.sep):
        raise ValueError(f"the {what} path {path!r} is the current folder or one that holds it; "
                         "name a new file or folder instead")
    check_writable_parent(target, f"the {what} path {path}")
    return target


# What the temporary sibling adds to a name: ".", ".tmp-", up to 10 pid digits, "-", 8 hex digits.
_TMP_EXTRA = 1 + 5 + 10 + 1 + 8


def check_writable_parent(target, what):
    """Refuses, before any work, a target that cannot be written: a name too long for the
    file system, a parent path through a file, or a folder where no file can be created
    (read-only, /proc). The errors name the path and the cause, where the system says only
    "[Errno 36]" or "[Errno 2]" after the work is done.
    """
    ancestor = os.path.dirname(target)
    while not os.path.lexists(ancestor) and os.path.dirname(ancestor) != ancestor:
        ancestor = os.path.dirname(ancestor)
    try:
        name_max = os.pathconf(ancestor if os.path.isdir(ancestor) else os.sep, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for part in os.path.relpath(target, ancestor).split(os.sep):
        if len(os.fsencode(part)) + _TMP_EXTRA > name_max:
            raise ValueError(f"{what}: the name {part[:24]}... is {len(os.fsencode(part))} bytes long; this file "
                             f"system allows {name_max} ({name_max - _TMP_EXTRA} here, as the file is first "
                             "written under a longer temporary name). Choose a shorter name")
    if not os.path.isdir(ancestor):
        raise ValueError(f"{what}: {ancestor} is a file, not a folder, so nothing can be created under it")
    # Named like our temporaries: should a kill leave it, the next write to the target removes it.
    root = split_ext(os.path.relpath(target, ancestor).split(os.sep)[0])[0][:100]  # a long name still fits
    probe = os.path.join(ancestor, f".{root}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.probe")
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as error:
        # /proc answers "No such file or directory" for a folder that exists: say what that means.
        cause = ("it is a system folder that takes no new files, like /proc" if error.errno == errno.ENOENT
                 else error.strerror)
        raise ValueError(f"{what}: no file can be created in {ancestor} ({cause}); choose a folder you "
                         "can write to") from None
    with contextlib.suppress(OSError):
        os.remove(probe)


_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path):
    """'a FIFO (named pipe)', 'a character device', ... when `path` (links followed) is one; else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return next((name for test, name in _SPECIAL if test(mode)), None)


def refuse_special(path, expected, error=ValueError):
    """Raises `error` when `path` is a FIFO, device or socket: reading one blocks, or never ends (/dev/zero)."""
    kind = special_kind(path)
    if kind is not None:
        raise error(f"{os.fspath(path)}: expected {expected}, found {kind}; reading it could block or never end. "
                    "Save the data as a regular file and name that")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours
        return True
    return True


def clean_stale_temps(target):
    """Removes temporary siblings of `target` left by writers that were killed."""
    parent, base = os.path.split(os.path.abspath(target))
    root, ext = split_ext(base)
    for leftover in glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(root)}.tmp-*")):
        found = _TMP.search(os.path.basename(leftover))
        if found is None or _alive(int(found.group(1))):
            continue
        if os.path.isdir(leftover) and not os.path.islink(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(leftover)


def fsync_path(path):
    """Flushes a file, or a folder's entries, to disk."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync folders
        pass
    finally:
        os.close(fd)


def _fsync_tree(path):
    if os.path.isdir(path):
        for name in os.listdir(path):
            _fsync_tree(os.path.join(path, name))
    fsync_path(path)


_RENAME_EXCHANGE = 2


def _exchange(a, b):
    """Atomically swaps two paths (Linux renameat2); False where the system cannot.

    Through ctypes because neither the standard library (os.rename only replaces) nor a
    maintained package exposes RENAME_EXCHANGE.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def replace_folder(new, target):
    """Puts folder `new` at `target`, replacing what is there in one step where possible."""
    if not os.path.lexists(target):
        os.replace(new, target)
        return
    if os.path.isdir(target) and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old folder
        return
    # Two renames: a crash between them leaves the old folder at `old`, never a mix.
    old = f"{new}.old"
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path, is_dir=False):
    """Yields a temporary sibling of `path` to write; renamed into place only if the block succeeds.

    The suffix is kept (FFmpeg and nibabel choose the format from it); missing
    parent folders are created; the written file (or folder) is fsynced before
    the rename and the parent folder after it.
    """
    target = check_output_path(path)
    parent, base = os.path.split(target)
    root, ext = split_ext(base)
    os.makedirs(parent, exist_ok=True)
    clean_stale_temps(target)
    tmp = os.path.join(parent, f".{root}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{ext}")
    try:
        yield tmp
        _fsync_tree(tmp)
        if is_dir:
            replace_folder(tmp, target)
        else:
            os.replace(tmp, target)
        fsync_path(parent)
    finally:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        handle.write(text)
    return os.fspath(path)


def write_json(path, payload, **dump_options):
    """Writes `payload` as JSON to `path` atomically."""
    return write_text(path, json.dumps(payload, indent=2, **dump_options) + "\n")


# Caches that programs recreate (running a Space's app.py leaves both): not a user's files.
DISPOSABLE = ("__pycache__", ".gradio")


def foreign_files(folder, ours):
    """Files under `folder` (relative paths, sorted) that are not in `ours`, a set of relative file paths.

    Empty folders hold nothing a user could lose, so only files and links
    count; nor do the caches in DISPOSABLE.
    """
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in DISPOSABLE]
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            relative = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            if relative not in ours:
                found.append(relative)
    return sorted(found)


def refuse_foreign(folder, ours, writer, flag="--overwrite"):
    """Raises FileExistsError naming the files in `folder` that `writer` did not write (replacing it would delete them)."""
    foreign = foreign_files(folder, ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(
            f"{folder} was written by {writer} but now also holds files it did not write ({shown}); replacing "
            f"the folder would delete them. Move them out, or pass {flag} to replace the folder anyway")

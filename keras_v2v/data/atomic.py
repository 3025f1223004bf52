"""Atomic writes: a temporary sibling of the target, renamed into place only on success."""

import os
import shutil
import uuid


class AtomicPath:
    """Context manager yielding a temp path next to ``path``; renamed into place on success.

    Missing parent folders are created.
    """

    def __init__(self, path, is_dir=False):
        self.path = os.path.abspath(os.fspath(path))
        self.is_dir = is_dir
        parent, base = os.path.split(self.path)
        root, ext = split_ext(base)
        # Keep the suffix: FFmpeg and nibabel choose the format from it.
        self.tmp = os.path.join(parent, f".{root}.tmp-{uuid.uuid4().hex[:8]}{ext}")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            if os.path.isdir(self.tmp):
                shutil.rmtree(self.tmp, ignore_errors=True)
            elif os.path.exists(self.tmp):
                os.remove(self.tmp)
            return False
        if self.is_dir and os.path.isdir(self.path):
            # Swap folders: move the old one aside first so a crash never mixes them.
            old = self.tmp + ".old"
            os.replace(self.path, old)
            os.replace(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.path)
        return False


def split_ext(name):
    for ext in (".nii.gz",):
        if name.lower().endswith(ext):
            return name[: -len(ext)], name[-len(ext) :]
    return os.path.splitext(name)

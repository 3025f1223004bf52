"""The Hugging Face Hub's rules for repo names, shared by recipes, cards and `publish`.

A preset's name becomes its Hub repo name (`keras-v2v/<name>`) and its task
names the model-index entry, so both follow the rules the Hub applies to the
name half of a repo id: letters, digits, '-', '_' and '.', starting with a
letter or digit, not ending in '-' or '.', no '--' or '..', not ending in
'.git', at most 96 characters.
"""

import re

REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?"
MAX_LENGTH = 96
RULES = ("letters, digits, '-', '_' and '.'; starting with a letter or digit, not ending in '-' or '.'; "
         "no '--' or '..'; not ending in '.git'; at most 96 characters")

_PART = re.compile(REPO_PART)


def repo_name_problem(name):
    """None when `name` is a valid Hub repo name, else a short reason."""
    if not isinstance(name, str):
        return f"found {type(name).__name__} {name!r}, not a string"
    if not _PART.fullmatch(name) or "--" in name or ".." in name or name.endswith(".git"):
        return f"found {name!r}"
    if len(name) > MAX_LENGTH:
        return f"found {len(name)} characters"
    return None

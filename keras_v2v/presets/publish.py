"""Publishing a preset folder to a Hugging Face Hub model repo.

`check_preset_folder` decides exactly which files leave the machine (and
refuses an incomplete or tampered preset before any network request);
`push_to_hub` creates the repo and uploads those files in one commit through
`huggingface_hub`; `publish_command` is the `keras-v2v publish` CLI entry.
"""

import json
import os
import re
import stat
import sys
import tempfile

from keras_v2v.presets.names import REPO_PART
from keras_v2v.presets.storage import PRESET_FILE, WEIGHTS_FILE, is_generators_only, sha256_of

REQUIRED_FILES = ("config.json", WEIGHTS_FILE, PRESET_FILE, "README.md")

# The Hub's rules for the two halves of a repo id (huggingface_hub's
# validate_repo_id accepts a bare "name" too, but the CLI must not guess the owner).
_REPO_ID = re.compile(rf"{REPO_PART}/{REPO_PART}")


class PublishError(OSError):
    """The Hub refused or could not be reached; the message is one line."""


def _is_model(obj):
    return hasattr(obj, "save_pretrained") and not isinstance(obj, (str, bytes, os.PathLike))


def check_repo_id(repo_id):
    """Raises ValueError unless `repo_id` looks like `owner/name`."""
    if (
        not isinstance(repo_id, str)
        or not _REPO_ID.fullmatch(repo_id)
        or len(repo_id) > 96
        or ("--" in repo_id or ".." in repo_id or repo_id.endswith(".git"))
    ):
        raise ValueError(
            f"invalid Hub repo id {repo_id!r}: expected 'owner/name' (letters, digits, '-', '_', '.'; "
            "no '--' or '..'; at most 96 characters), e.g. 'my-user/vmnist-3d-cyclegan'"
        )
    return repo_id


def _front_matter(text):
    """The YAML block between the leading `---` lines of a model card, or None."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:end])
    return None


def _upload_list(folder):
    """Every regular file below `folder`, minus hidden files and caches."""
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            path = os.path.join(root, name)
            # Symlinks and sockets are skipped: what is uploaded is what is in the folder.
            if name.startswith(".") or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            paths.append(os.path.relpath(path, folder).replace(os.sep, "/"))
    return sorted(paths)


def check_preset_folder(folder, allow_generators_only=False):
    """Validates a preset folder before upload; returns the sorted relative paths to upload.

    Raises ValueError naming the folder, the file, what was expected and what
    was found when a required file is missing, the model card lacks Hub
    metadata or does not parse, the weights do not match the sha256 in
    keras_v2v.json, or the preset holds no discriminators (it could not be
    fine-tuned) and `allow_generators_only` is False.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"{folder}: expected a preset folder written by save_pretrained, found no such folder")
    missing = [name for name in REQUIRED_FILES if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise ValueError(
            f"{folder}: not a complete preset: expected {', '.join(REQUIRED_FILES)}, "
            f"missing {', '.join(missing)} (write it with model.save_pretrained(folder))"
        )
    for name in ("config.json", PRESET_FILE):
        try:
            with open(os.path.join(folder, name)) as handle:
                json.load(handle)
        except ValueError as error:
            raise ValueError(f"{folder}/{name}: expected JSON, found unreadable content ({error})") from None

    with open(os.path.join(folder, "README.md"), encoding="utf-8") as handle:
        card = handle.read()
    meta = _front_matter(card)
    if meta is None:
        first = card.splitlines()[0] if card.strip() else "an empty file"
        raise ValueError(
            f"{folder}/README.md: expected YAML front matter ('---' ... '---') at the top, found {first!r}"
        )
    if not re.search(r"""^library_name:\s*["']?keras["']?\s*$""", meta, re.MULTILINE):
        line = re.search(r"^library_name:.*$", meta, re.MULTILINE)
        found = repr(line.group(0)) if line else "no library_name"
        raise ValueError(f"{folder}/README.md: expected 'library_name: keras' in the YAML front matter, found {found}")
    _check_card_parses(folder, card)
    if is_generators_only(folder) and not allow_generators_only:
        raise ValueError(
            f"{folder}/config.json: expected a preset with its discriminators, found generators only (saved from "
            "a model loaded with discriminators=False): nobody could fine-tune it. Re-export it from the full "
            "model, or pass allow_generators_only=True (--allow-generators-only) to publish it for inference only."
        )

    with open(os.path.join(folder, PRESET_FILE)) as handle:
        recorded = (json.load(handle).get("sha256") or {}).get(WEIGHTS_FILE)
    if not recorded:
        raise ValueError(f"{folder}/{PRESET_FILE}: expected a sha256 for {WEIGHTS_FILE}, found none")
    found = sha256_of(os.path.join(folder, WEIGHTS_FILE))
    if found != recorded:
        raise ValueError(
            f"{folder}/{WEIGHTS_FILE}: sha256 {found} does not match {recorded} expected by {PRESET_FILE}; "
            "the weights changed after save_pretrained. Re-export the preset before publishing."
        )
    return _upload_list(folder)


def _check_card_parses(folder, card):
    """The Hub reads the card with huggingface_hub's parser: refuse what it cannot read."""
    from huggingface_hub import ModelCard

    try:
        data = ModelCard(card).data.to_dict()
    except Exception as error:  # yaml and huggingface_hub raise several types
        first = " ".join(str(error).split())[:200]
        raise ValueError(f"{folder}/README.md: expected front matter huggingface_hub can parse, "
                         f"found: {first}") from None
    if data.get("library_name") != "keras":
        raise ValueError(f"{folder}/README.md: expected library_name 'keras' once parsed, "
                         f"found {data.get('library_name')!r}")


def _glob_literal(path):
    # upload_folder filters with fnmatch: make each file name match only itself.
    return re.sub(r"([\[\]*?])", r"[\1]", path)


def _hub_error(error, repo_id, endpoint):
    """One line for an HTTP error from huggingface_hub, keyed on the status code."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    server = (getattr(error, "server_message", None) or "").strip().splitlines()
    detail = f" ({server[0]})" if server else ""
    hints = {
        401: "token missing or invalid: run `hf auth login` or pass --token",
        403: f"the token may not write to {repo_id.split('/')[0]!r}: use a token with write access",
        404: "repo or revision not found (or not visible with this token)",
        409: "conflict with the repo's current state; retry",
        412: "the branch moved during the upload; retry",
        413: "a file is too large for a plain upload",
        429: "rate limited by the Hub; retry later",
    }
    hint = hints.get(status) or (
        "the Hub had a server error; retry later" if (status or 0) >= 500 else "upload refused"
    )
    return PublishError(f"{repo_id}: HTTP {status} from {endpoint}: {hint}{detail}")


def push_to_hub(folder_or_model, repo_id, private=False, token=None, revision=None, commit_message=None, endpoint=None,
                allow_generators_only=False):
    """Uploads a preset folder (or a model, saved to a temporary preset first) to a Hub model repo.

    Args:
        folder_or_model: a preset folder, or a model with `save_pretrained`.
        repo_id: "owner/name"; created if missing (private only when created here).
        private: visibility of a repo created by this call; an existing repo is left as it is.
        token: a Hub token; None uses HF_TOKEN or the `hf auth login` token.
        revision: branch to commit to (created from main if missing); None is main.
        commit_message: defaults to "Upload <name> with keras-v2v".
        endpoint: Hub address; None is huggingface_hub's default (env HF_ENDPOINT).
        allow_generators_only: publish a preset without discriminators (it
            translates but nobody can fine-tune it); refused by default.

    Returns:
        huggingface_hub's CommitInfo (a str: the commit URL; `.repo_url`, `.oid`).

    Raises:
        ValueError: bad repo id or invalid preset (before any request).
        PublishError (an OSError): the Hub refused or could not be reached.
    """
    check_repo_id(repo_id)
    if _is_model(folder_or_model):
        with tempfile.TemporaryDirectory(prefix="keras-v2v-publish-") as scratch:
            folder = os.path.join(scratch, "preset")
            # No GeneratorsOnlyWarning here: the folder check below refuses (or allows) such a model.
            folder_or_model.save_pretrained(folder, allow_generators_only=True)
            message = commit_message or f"Upload {getattr(folder_or_model, 'name', 'model')} with keras-v2v"
            return _upload(folder, repo_id, private, token, revision, message, endpoint, allow_generators_only)
    folder = os.path.abspath(os.fspath(folder_or_model))
    message = commit_message or f"Upload {os.path.basename(folder)} with keras-v2v"
    return _upload(folder, repo_id, private, token, revision, message, endpoint, allow_generators_only)


def _upload(folder, repo_id, private, token, revision, message, endpoint, allow_generators_only=False):
    files = check_preset_folder(folder, allow_generators_only)  # refuses a bad preset before any request
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HfHubHTTPError

    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        if revision not in (None, "main"):
            api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
        return api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            repo_type="model",
            revision=revision,
            commit_message=message,
            allow_patterns=[_glob_literal(path) for path in files],
        )
    except HfHubHTTPError as error:
        raise _hub_error(error, repo_id, api.endpoint) from error
    except _transport_errors() as error:
        raise PublishError(f"{repo_id}: could not reach {api.endpoint}: {error}") from error


def _transport_errors():
    """Connection errors of whichever HTTP client this huggingface_hub uses.

    0.x uses requests (its errors are OSErrors already), 1.x httpx, 2.x httpx2;
    only modules huggingface_hub already imported are looked at.
    """
    found = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError")):
        error = getattr(sys.modules.get(module), name, None)
        if isinstance(error, type):
            found.append(error)
    return tuple(found)


def _size(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def publish_command(args):
    """`keras-v2v publish FOLDER REPO [--private] [--token T] [--revision B] [--endpoint URL] [--dry-run]`."""
    check_repo_id(args.repo)
    allow_generators_only = bool(getattr(args, "allow_generators_only", False))
    files = check_preset_folder(args.folder, allow_generators_only)
    private = bool(getattr(args, "private", False))
    revision = getattr(args, "revision", None)
    if getattr(args, "dry_run", False):
        sizes = [os.path.getsize(os.path.join(args.folder, path)) for path in files]
        where = f"{args.repo}" + (f" (branch {revision})" if revision else "")
        print(
            f"dry run: would upload {len(files)} files ({_size(sum(sizes))}) to "
            f"{'private' if private else 'public'} model repo {where}; nothing was sent"
        )
        for path, size in zip(files, sizes):
            print(f"  {_size(size):>10}  {path}")
        return files
    info = push_to_hub(
        args.folder,
        args.repo,
        private=private,
        token=getattr(args, "token", None),
        revision=revision,
        commit_message=getattr(args, "commit_message", None),
        endpoint=getattr(args, "endpoint", None),
        allow_generators_only=allow_generators_only,
    )
    print(f"uploaded {len(files)} files to {info.repo_url}")
    print(info.commit_url)
    return info

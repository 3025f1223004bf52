"""A LOCAL STAND-IN for the Hugging Face Hub HTTP API, for tests only.

This is NOT the real Hub and talks to nothing outside this process: a
`ThreadingHTTPServer` on 127.0.0.1 (random port) that answers the handful of
endpoints `huggingface_hub` 2.4 calls to create a model repo, upload a folder
of small files and download it back. Passing `endpoint=hub.endpoint` to
`HfApi` / `snapshot_download` points the real client at it, so the tests
exercise the client's actual requests rather than a mock of our own code.

Implemented (model repos only):
    GET  /api/whoami-v2
    POST /api/repos/create                           {name, organization, visibility, type}
    POST /api/validate-yaml                          always valid
    GET  /api/models/{id}[/revision/{rev}]           model info, with siblings and sha
    POST /api/models/{id}/branch/{branch}            create a branch
    POST /api/models/{id}/preupload/{rev}            uploadMode "regular" for every file
    POST /api/models/{id}/commit/{rev}               NDJSON: header, file (base64), deletedFile/Folder
    GET  /api/models/{id}/tree/{rev}[/{path}]        file listing (one page)
    HEAD/GET /{id}/resolve/{rev}/{path}              file bytes, X-Repo-Commit and ETag headers

Every file is "regular" (sent inline, base64, in the commit), so neither LFS
nor Xet storage is needed; a commit carrying an `lfsFile` is refused (400).
Not implemented: pull requests, tags, deletions of repos, pagination,
datasets/spaces, real YAML validation, namespace permissions.

Recorded for assertions: `repos` (id -> Repo with `private`, `branches`,
`commits`), `requests` (method, path, Authorization header) and
`files(repo_id)` (path -> bytes at a revision). Any request carrying the
token in `bad_tokens` ("bad-token") gets the Hub's 401; write endpoints
without a token get 401 too.
"""

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USER = "standin-user"


def git_blob_sha1(data):
    """The id git gives a blob; the Hub reports it as `oid` for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    message: str
    files: dict  # path -> bytes: the whole tree at this commit
    parent: str | None = None


@dataclass
class Repo:
    repo_id: str
    private: bool
    repo_type: str = "model"
    branches: dict = field(default_factory=dict)  # name -> commit oid
    commits: dict = field(default_factory=dict)  # oid -> Commit

    def resolve(self, revision):
        """A branch name or a commit oid -> Commit, or None."""
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        return self.commits.get(revision)

    def commit(self, branch, message, files):
        parent = self.branches.get(branch)
        seed = f"{self.repo_id}\0{branch}\0{parent}\0{message}\0{time.time_ns()}\0{len(self.commits)}"
        oid = hashlib.sha1(seed.encode()).hexdigest()
        self.commits[oid] = Commit(oid, message, dict(files), parent)
        self.branches[branch] = oid
        return self.commits[oid]


class HubStandIn:
    """Context manager: `with HubStandIn() as hub: HfApi(endpoint=hub.endpoint)`."""

    bad_tokens = frozenset({"bad-token"})

    def __init__(self):
        self.repos = {}
        self.requests = []  # (method, path, authorization header or None)
        self.lock = threading.Lock()
        self._server = None
        self._thread = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- helpers for tests -------------------------------------------------

    def files(self, repo_id, revision="main"):
        with self.lock:
            return dict(self.repos[repo_id].resolve(revision).files)

    def auth_headers(self):
        return [auth for _, _, auth in self.requests]


class _Reply(Exception):
    """Raised inside a handler to send an error answer the way the Hub does."""

    def __init__(self, status, message, error_code=None, headers=None, extra=None):
        super().__init__(message)
        self.status, self.message, self.error_code = status, message, error_code
        self.headers = headers or {}
        self.extra = extra or {}  # more fields of the JSON body


class _Handler(BaseHTTPRequestHandler):
    hub: HubStandIn  # set by HubStandIn.start
    protocol_version = "HTTP/1.1"  # keep-alive, like the Hub; every answer has a Content-Length

    def log_message(self, *args):  # keep pytest output clean
        pass

    # -- plumbing ----------------------------------------------------------

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status, body=b"", headers=None, content_type="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _token(self):
        auth = self.headers.get("Authorization")
        if auth and auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None

    def _dispatch(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        # Split before unquoting: a revision like "refs%2Fpr%2F1" is one segment.
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        body = self._body() if self.command in ("POST", "PUT") else b""
        with self.hub.lock:
            self.hub.requests.append((self.command, url.path, self.headers.get("Authorization")))
        try:
            token = self._token()
            if token in self.hub.bad_tokens:
                raise _Reply(401, "Invalid credentials in Authorization header")
            status, payload, headers, ctype = self._route(parts, query, body, token)
            self._send(status, payload, headers, ctype)
        except _Reply as reply:
            headers = dict(reply.headers)
            headers["X-Error-Message"] = reply.message
            if reply.error_code:
                headers["X-Error-Code"] = reply.error_code
            self._send(reply.status, {"error": reply.message, **reply.extra}, headers)
        except Exception as error:  # noqa: BLE001 - a stand-in bug: answer 500 rather than drop the connection
            self._send(500, {"error": f"stand-in crashed: {error!r}"})

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch

    # -- routes ------------------------------------------------------------

    def _route(self, parts, query, body, token):
        method = self.command
        if parts[:2] == ["api", "whoami-v2"]:
            self._need_token(token)
            return 200, {"type": "user", "name": USER, "auth": {"type": "access_token"}}, None, "application/json"
        if parts[:3] == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(json.loads(body or b"{}"), token)
        if parts[:2] == ["api", "validate-yaml"] and method == "POST":
            return 200, {"errors": [], "warnings": []}, None, "application/json"
        if len(parts) >= 4 and parts[:2] == ["api", "models"]:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            return self._model_api(repo_id, rest, query, body, token)
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            repo_id, revision, path = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            return self._resolve(repo_id, revision, path, token)
        raise _Reply(404, f"stand-in: no route for {method} /{'/'.join(parts)}")

    def _need_token(self, token):
        if not token:
            raise _Reply(401, "stand-in: this endpoint needs a token (Authorization: Bearer ...)")

    def _repo(self, repo_id, token):
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and not token):
            raise _Reply(404, "Repository not found", error_code="RepoNotFound")
        return repo

    def _commit_of(self, repo, revision):
        commit = repo.resolve(revision)
        if commit is None:
            raise _Reply(404, f"Invalid rev id: {revision}", error_code="RevisionNotFound")
        return commit

    def _create_repo(self, payload, token):
        self._need_token(token)
        if payload.get("type", "model") != "model":
            raise _Reply(400, "stand-in: only model repos are implemented")
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        url = f"{self.hub.endpoint}/{repo_id}"
        with self.hub.lock:
            if repo_id in self.hub.repos:
                # The Hub's 409 names the existing repo; create_repo(exist_ok=True) reads its url.
                raise _Reply(409, "You already created this model repo", extra={"url": url})
            repo = Repo(repo_id, private=payload.get("visibility") == "private")
            # A new Hub repo starts with one commit holding .gitattributes.
            repo.commit("main", "initial commit", {".gitattributes": b"*.h5 filter=lfs diff=lfs merge=lfs -text\n"})
            self.hub.repos[repo_id] = repo
        return 200, {"url": url, "name": repo_id, "id": repo_id}, None, "application/json"

    def _model_api(self, repo_id, rest, query, body, token):
        method = self.command
        with self.hub.lock:
            repo = self._repo(repo_id, token)
            if not rest or (rest[0] == "revision" and len(rest) == 2):
                commit = self._commit_of(repo, rest[1] if rest else "main")
                return 200, self._model_info(repo, commit), None, "application/json"
            action = rest[0]
            if action == "branch" and method == "POST" and len(rest) == 2:
                self._need_token(token)
                if rest[1] in repo.branches:
                    raise _Reply(409, f"Branch {rest[1]} already exists")
                start = json.loads(body or b"{}").get("startingPoint") or "main"
                repo.branches[rest[1]] = self._commit_of(repo, start).oid
                return 200, {}, None, "application/json"
            if action == "preupload" and method == "POST" and len(rest) == 2:
                self._need_token(token)
                tree = repo.resolve(rest[1])
                existing = tree.files if tree else {}
                files = [
                    {
                        "path": f["path"],
                        "uploadMode": "regular",  # inline base64: no LFS/Xet storage needed
                        "shouldIgnore": False,
                        "oid": git_blob_sha1(existing[f["path"]]) if f["path"] in existing else None,
                    }
                    for f in json.loads(body)["files"]
                ]
                return 200, {"files": files, "commitOid": tree.oid if tree else None}, None, "application/json"
            if action == "commit" and method == "POST" and len(rest) == 2:
                self._need_token(token)
                return self._commit(repo, rest[1], query, body)
            if action == "tree" and method == "GET" and len(rest) >= 2:
                commit = self._commit_of(repo, rest[1])
                return 200, self._tree(commit, "/".join(rest[2:]), query), None, "application/json"
        raise _Reply(404, f"stand-in: no route for {method} /api/models/{repo_id}/{'/'.join(rest)}")

    def _model_info(self, repo, commit):
        return {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "tags": [],
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }

    def _commit(self, repo, branch, query, body):
        if query.get("create_pr"):
            raise _Reply(400, "stand-in: pull requests are not implemented")
        if branch not in repo.branches:
            raise _Reply(404, f"Invalid rev id: {branch}", error_code="RevisionNotFound")
        files = dict(repo.resolve(branch).files)
        message = ""
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                message = value.get("summary", "")
                parent = value.get("parentCommit")
                if parent and not repo.branches[branch].startswith(parent):
                    raise _Reply(412, "parentCommit is not the head of the branch")
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise _Reply(400, "stand-in: file content must be base64")
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise _Reply(404, "A file with this name doesn't exist", error_code="EntryNotFound")
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: d for p, d in files.items() if not p.startswith(prefix)}
            else:  # lfsFile: the stand-in answered "regular" to every preupload
                raise _Reply(400, f"stand-in: commit key {key!r} is not implemented")
        if not message:
            raise _Reply(400, "Commit message is required")
        commit = repo.commit(branch, message, files)
        url = f"{self.hub.endpoint}/{repo.repo_id}/commit/{commit.oid}"
        return 200, {"commitUrl": url, "commitOid": commit.oid, "success": True}, None, "application/json"

    def _tree(self, commit, prefix, query):
        recursive = query.get("recursive", "").lower() in ("1", "true")
        prefix = prefix.strip("/") + "/" if prefix else ""
        entries, folders = [], set()
        for path, data in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix) :]
            if "/" in rel:
                top = prefix + rel.split("/")[0]
                folders.add(top)
                if not recursive:
                    continue
                # parents of a nested file are listed too in recursive mode
                for i in range(1, rel.count("/") + 1):
                    folders.add(prefix + "/".join(rel.split("/")[:i]))
            entries.append({"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path})
        folder_entries = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": p} for p in sorted(folders)]
        return folder_entries + entries

    def _resolve(self, repo_id, revision, path, token):
        with self.hub.lock:
            repo = self._repo(repo_id, token)
            commit = self._commit_of(repo, revision)
            data = commit.files.get(path)
        headers = {"X-Repo-Commit": commit.oid}
        if data is None:
            raise _Reply(404, "Entry not found", error_code="EntryNotFound", headers=headers)
        headers["ETag"] = f'"{git_blob_sha1(data)}"'
        return 200, data, headers, "application/octet-stream"

"""A fake of the Hugging Face Hub's HTTP API, enough for huggingface_hub's ``snapshot_download``.

It serves one model repository from a local folder at one commit (and one tag naming it), the way
``HF_ENDPOINT=<url>`` makes huggingface_hub ask:

- ``GET /api/models/{repo}/revision/{rev}``: the repo info, ``sha`` and ``siblings`` (asked when the
  revision is not a commit hash);
- ``GET /api/models/{repo}/tree/{rev}?recursive=...``: the file listing (``type``, ``path``, ``size``, the git
  blob ``oid``, and an ``lfs`` entry with the sha256 for weights);
- ``HEAD`` / ``GET /{repo}/resolve/{rev}/{file}``: the file's metadata in ``X-Repo-Commit``, ``ETag`` (the
  sha256 for an LFS file, the blob id otherwise, quoted) and ``Content-Length``, then its bytes; a
  ``Range: bytes=N-`` request gets the rest from N (206), as a resumed download asks.

An unknown repo answers 401 with ``X-Error-Code: RepoNotFound`` and an unknown revision 404 with
``X-Error-Code: RevisionNotFound``, as the hub does. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".bin", ".safetensors", ".model", ".h5")


@dataclass(frozen=True)
class HubFile:
    path: str
    data: bytes

    @property
    def blob_id(self) -> str:
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def lfs(self) -> bool:
        return self.path.endswith(LFS_SUFFIXES)

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.blob_id


class FakeHub:
    def __init__(self, repo: str, folder: Path, *, commit: str, tag: str = "v1") -> None:
        self.repo, self.commit, self.tag = repo, commit, tag
        self.files = {p.name: HubFile(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fetched(self) -> list[str]:
        """The files whose bytes were asked for (GET on resolve), in order."""
        prefix = f"/{self.repo}/resolve/"
        with self._lock:
            return [path.split("/", 1)[1] for method, path in
                    ((m, p.removeprefix(prefix)) for m, p in self.requests if p.startswith(prefix)) if method == "GET"]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub._serve(self, body=True)

            def do_HEAD(self) -> None:
                hub._serve(self, body=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------------------
    def _resolve(self, revision: str) -> str | None:
        return self.commit if revision in (self.commit, self.tag, "main") else None

    def _serve(self, http: BaseHTTPRequestHandler, *, body: bool) -> None:
        path = unquote(urlsplit(http.path).path)
        with self._lock:
            self.requests.append((http.command, path))
        repo = re.escape(self.repo)
        if m := re.fullmatch(rf"/api/models/{repo}/revision/(?P<rev>[^/]+)", path):
            self._json(http, body, m["rev"], lambda sha: {
                "id": self.repo, "modelId": self.repo, "sha": sha, "private": False,
                "siblings": [{"rfilename": name} for name in self.files]})
        elif m := re.fullmatch(rf"/api/models/{repo}/tree/(?P<rev>[^/]+)", path):
            self._json(http, body, m["rev"], lambda sha: [self._entry(f) for f in self.files.values()])
        elif m := re.fullmatch(rf"/{repo}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path):
            self._file(http, body, m["rev"], m["file"])
        elif path.startswith(("/api/models/", "/")) and not path.startswith(f"/api/models/{self.repo}/") \
                and not path.startswith(f"/{self.repo}/"):
            self._send(http, 401, b'{"error": "Repository not found"}', body,
                       {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"})
        else:
            self._send(http, 404, b'{"error": "not found"}', body, {"Content-Type": "application/json"})

    def _entry(self, file: HubFile) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": file.blob_id, "size": len(file.data), "path": file.path}
        if file.lfs:
            entry["lfs"] = {"oid": file.sha256, "size": len(file.data), "pointerSize": 134}
        return entry

    def _unknown_revision(self, http: BaseHTTPRequestHandler, body: bool, revision: str) -> None:
        self._send(http, 404, json.dumps({"error": f"Invalid rev id: {revision}"}).encode(), body,
                   {"X-Error-Code": "RevisionNotFound", "Content-Type": "application/json"})

    def _json(self, http: BaseHTTPRequestHandler, body: bool, revision: str, make: Any) -> None:
        sha = self._resolve(revision)
        if sha is None:
            self._unknown_revision(http, body, revision)
            return
        self._send(http, 200, json.dumps(make(sha)).encode(), body, {"Content-Type": "application/json"})

    def _file(self, http: BaseHTTPRequestHandler, body: bool, revision: str, name: str) -> None:
        sha = self._resolve(revision)
        if sha is None:
            self._unknown_revision(http, body, revision)
            return
        file = self.files.get(name)
        if file is None:
            self._send(http, 404, b"Entry not found", body, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
            return
        headers = {"X-Repo-Commit": sha, "ETag": f'"{file.etag}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        start = 0
        if body and (m := re.fullmatch(r"bytes=(\d+)-", http.headers.get("Range", ""))):
            start = min(int(m[1]), len(file.data))
            headers["Content-Range"] = f"bytes {start}-{len(file.data) - 1}/{len(file.data)}"
        self._send(http, 206 if start else 200, file.data[start:], body, headers)

    @staticmethod
    def _send(http: BaseHTTPRequestHandler, status: int, payload: bytes, body: bool, headers: dict[str, str]) -> None:
        try:
            http.send_response(status)
            for key, value in headers.items():
                http.send_header(key, value)
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            if body:
                http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

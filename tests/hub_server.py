"""A tiny HTTP server on 127.0.0.1 that answers like the Hugging Face Hub's ``resolve`` endpoint.

``GET|HEAD /{repo_id}/resolve/{revision}/{filename}`` serves registered bytes with the headers
``huggingface_hub`` reads (``X-Repo-Commit``, ``ETag``/``X-Linked-Etag``, ``Content-Length``,
``X-Linked-Size``) and ``X-Error-Code`` on 404s, so the real ``hf_hub_download`` code path runs
against it.  ``/raw/{name}`` serves plain files for upstream-URL entries.  Requests are logged
so tests can tell whether the network was used.

Uploads take the real ``huggingface_hub`` commit path too: ``POST /api/repos/create``,
``/api/models/{repo}/preupload/{revision}`` (every file "regular", so its bytes travel base64 in
the commit) and ``/api/models/{repo}/commit/{revision}`` (NDJSON), after which the files are served
like the others.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubServer:
    def __init__(self):
        self.files = {}  # (repo_id, filename) -> bytes
        self.raw = {}  # name -> bytes
        self.cut = {}  # request path -> bytes actually sent (a connection that drops mid-file)
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, body: bytes, head_only: bool):
                path = unquote(self.path.split("?", 1)[0])
                server.requests.append((self.command, path))
                data = None
                if path.startswith("/raw/"):
                    data = server.raw.get(path[len("/raw/") :])
                elif "/resolve/" in path:
                    repo, rest = path[1:].split("/resolve/", 1)
                    _revision, filename = rest.split("/", 1)
                    data = server.files.get((repo, filename))
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = hashlib.sha256(data).hexdigest()
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if not head_only:
                    self.wfile.write(data[: server.cut.get(path, len(data))])

            def do_HEAD(self):
                self._send(b"", head_only=True)

            def do_GET(self):
                self._send(b"", head_only=False)

            def _json(self, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                path = unquote(self.path.split("?", 1)[0])
                server.requests.append(("POST", path))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == "/api/repos/create":
                    payload = json.loads(body)
                    repo = "/".join(p for p in (payload.get("organization"), payload["name"]) if p)
                    return self._json({"url": f"{server.url}/{repo}", "name": repo})
                if path == "/api/validate-yaml":  # a README's model-card metadata is checked before the commit
                    return self._json({"errors": [], "warnings": []})
                if path.startswith("/api/models/") and "/preupload/" in path:
                    files = json.loads(body)["files"]
                    return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                 for f in files]})
                if path.startswith("/api/models/") and "/commit/" in path:
                    repo = path[len("/api/models/"):].split("/commit/", 1)[0]
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            value = item["value"]
                            server.files[(repo, value["path"])] = base64.b64decode(value["content"])
                    return self._json({"commitUrl": f"{server.url}/{repo}/commit/{COMMIT}", "commitOid": COMMIT})
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, repo_id: str, filename: str, data: bytes) -> None:
        self.files[(repo_id, filename)] = data

    def downloads(self):
        return [r for r in self.requests if r[0] == "GET"]


def write_manifest(server: HubServer, entries: dict) -> None:
    """Replace the temporary manifest served to iqametrics by the ``hub`` fixture."""
    import json

    from iqametrics import weights

    server.manifest.write_text(json.dumps({"schema_version": 1, "weights": entries}))
    weights._manifest_cached.cache_clear()

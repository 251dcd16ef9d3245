"""The example Timebridge add-on: verifies every call Timebridge signs, trades the INSTALLED call
for a scoped access token, and calls the API with it. Standard library plus PyJWT[crypto].

GET /report shows what it saw (for trying it by hand, and for Timebridge's test of it).
"""

import hashlib
import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

PORT = int(os.environ.get("PORT", "8765"))
TIMEBRIDGE_URL = os.environ.get("TIMEBRIDGE_URL", "http://127.0.0.1:8080")
ISSUER = os.environ.get("TIMEBRIDGE_ISSUER", TIMEBRIDGE_URL)
ADDON_KEY = os.environ.get("ADDON_KEY", "example-addon")

# The keys come from the configured Timebridge, never from a body not yet verified. PyJWKClient
# fetches them again when a token names a kid it does not know (keys rotate).
JWKS = jwt.PyJWKClient(f"{TIMEBRIDGE_URL}/.well-known/jwks.json")

installations = {}  # installation id -> (api base URL, access token); kept in memory only
report = {"installed": False, "projects": [], "write_status": None, "required_scope": None,
          "after_uninstall_status": None, "refused": 0, "events": []}


def verify(token, body):
    """The claims of a call Timebridge signed for exactly this body; raises jwt.PyJWTError."""
    key = JWKS.get_signing_key_from_jwt(token).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=ADDON_KEY, issuer=ISSUER,
                        options={"require": ["exp", "iss", "aud", "body_sha256"]})
    if claims["body_sha256"] != hashlib.sha256(body).hexdigest():
        raise jwt.InvalidTokenError("signed for another body")
    return claims


def call(method, url, token=None, payload=None):
    """Calls Timebridge; answers (status, JSON body or None)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def installed(event, assertion):
    """Trades the INSTALLED call's own JWT for an access token, then uses it."""
    status, granted = call("POST", event["token_url"], payload={"assertion": assertion})
    if status != 200:
        return 502  # not acknowledged: Timebridge tries again later
    api, token = event["api_base_url"], granted["access_token"]
    installations[event["installation_id"]] = (api, token)
    _, listed = call("GET", f"{api}/projects", token)
    report["projects"] = [p["name"] for p in listed["projects"]]
    # Outside the manifest's scopes (read:projects only): a 403 naming the scope it lacks.
    report["write_status"], refused = call("POST", f"{api}/projects", token, {"name": "Ours too"})
    report["required_scope"] = refused["required_scope"]
    report["installed"] = True
    return 200


def deleted(event):
    """Uninstalled: the kept token was revoked with the installation (a 401)."""
    if event["installation_id"] not in installations:
        return 200  # installed before this process started: nothing kept
    api, token = installations.pop(event["installation_id"])
    report["after_uninstall_status"], _ = call("GET", f"{api}/projects", token)
    return 200


class Addon(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/report":
            return self.answer(404)
        self.answer(200, report)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        assertion = self.headers.get("X-Timebridge-Signature", "")
        try:
            verify(assertion, body)
        except jwt.PyJWTError:
            report["refused"] += 1
            return self.answer(401)
        event = json.loads(body)
        if self.path == "/lifecycle/installed":
            return self.answer(installed(event, assertion))
        if self.path == "/lifecycle/deleted":
            return self.answer(deleted(event))
        if self.path.startswith("/webhooks/"):
            # A subscribed event, verified like every call (X-Timebridge-Event names it).
            report["events"].append(event)
            return self.answer(200)
        self.answer(404)

    def answer(self, status, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", PORT), Addon).serve_forever()

#!/usr/bin/env python3
"""A minimal PMTP/1 server and client in one process (docs/protocol.md §8–§10): serves its key set
and server information, receives notices, serves pulls and acks as origin, and pulls and acks as
recipient. A loopback control listener lets a test drive it and read what it saw.

Usage: peer.py --domain D --port P --control-port C --peer DOMAIN=ENDPOINT=FINGERPRINT ...
Prints one JSON ready line on stdout: {"ready": true, "endpoint", "control", "key_id"}."""

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pmtp_core as core

MAX_JSON = 1 << 20  # §14: request JSON bodies
MAX_KEYSET = 64 << 10
MAX_MESSAGE = 50 << 20
SKEW = 60
FAILURE_TTL = 60  # how long a failed key fetch is answered from memory (§9.1 step 7)


def now():
    return int(time.time())


class PmtpHttpError(Exception):
    def __init__(self, status, code, message="", retryable=False, retry_after=None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.retryable = status, code, message or code, retryable
        self.retry_after = retry_after


class Peer:
    """The state of one PMTP/1 domain: its key, its peers, its outbox and inbox."""

    def __init__(self, domain, endpoint, peers):
        self.domain, self.endpoint = domain, endpoint
        self.key = core.DomainKey.generate()
        self.peers = peers  # domain -> {"endpoint", "fingerprint"}
        self.keysets = {}  # domain -> (KeySet, fetched_at)
        self.key_failures = {}  # domain -> (PmtpError, remembered until)
        self.nonces = {}  # (origin, nonce) -> keep until
        self.outbox = {}  # id -> {"manifest", "signatures", "parts", "expires", "recipients": {rcpt: state}}
        self.inbox = []  # pulled, verified messages
        self.events = []  # what happened, for the test to read
        self.lock = threading.Lock()

    # keys of other domains (§8) -------------------------------------------------------------------
    def keyset(self, domain, refresh=False):
        """The verified key set of `domain`, or core.PmtpError with the code of §9.1 step 7."""
        with self.lock:
            cached = self.keysets.get(domain)
            failed = self.key_failures.get(domain)
        if cached and not refresh:
            return cached[0]
        if cached and now() - cached[1] < 60:  # refetch at most once a minute (§8.2)
            return cached[0]
        if failed and now() < failed[1]:
            raise failed[0]
        try:
            ks = self._fetch_keyset(domain)
        except core.PmtpError as e:
            with self.lock:
                self.key_failures[domain] = (e, now() + FAILURE_TTL)
            raise
        with self.lock:
            self.keysets[domain] = (ks, now())
        return ks

    def _fetch_keyset(self, domain):
        peer = self.peers.get(domain)
        if peer is None:
            # this peer discovers only through its static directory (§8.5): no entry is no record
            raise core.PmtpError("discovery_record_missing", f"{domain} is not in this peer's directory")
        path = "/.well-known/pmtp/keys?" + core.query_string([("domain", domain)])
        try:
            status, _, body = http_request(peer["endpoint"], "GET", path, b"", {}, MAX_KEYSET)
        except PmtpHttpError as e:  # an answer over the 64 KiB cap
            raise core.PmtpError("keyset_malformed", e.message) from e
        except OSError as e:
            raise core.PmtpError("key_fetch_failed", f"{type(e).__name__}") from e
        if status >= 500:
            raise core.PmtpError("key_fetch_failed", f"key set fetch answered {status}")
        if status != 200:
            raise core.PmtpError("keyset_malformed", f"key set fetch answered {status}")
        try:
            return core.verify_keyset(core.parse_json(body), domain, now(), pin=peer.get("fingerprint"))
        except core.PmtpError as e:
            raise core.PmtpError(e.code if e.code.startswith("keyset_") else "keyset_malformed", e.message) from e

    def key_lookup(self, domain, key_id, created):
        """§9.1 steps 7–8: no key set raises its own code; a set without the key gives None (unknown_key)."""
        ks = self.keyset(domain)
        raw = ks.key_at(key_id, created)
        if raw is None:
            try:
                ks = self.keyset(domain, refresh=True)
            except core.PmtpError:
                return None  # a failed refetch leaves the key unknown, not the origin's keys unobtainable
            raw = ks.key_at(key_id, created)
        if raw is None and ks is not None and key_id in ks.revoked:
            raise core.PmtpError("key_revoked", f"{domain} revoked {key_id}")  # §8.7
        return raw

    # §9.1 verification of an incoming request ------------------------------------------------------
    def verify_request(self, method, path, headers, body):
        parsed = core.parse_signature_fields(headers.get("Signature-Input"), headers.get("Signature"),
                                             core.REQUEST_COMPONENTS)
        u = urllib.parse.urlsplit(self.endpoint)
        origin, destination = headers.get("PMTP-Origin"), headers.get("PMTP-Destination")
        values = {
            "@method": method,
            "@target-uri": self.endpoint + path,
            "@authority": core.authority_of(u.scheme, u.hostname, u.port),
            "content-digest": headers.get("Content-Digest"),
            "pmtp-origin": origin,
            "pmtp-destination": destination,
        }
        core.verify_signed_message(parsed, values, core.REQUEST_COMPONENTS, origin, destination, self.domain, body,
                                   now(), self.key_lookup, SKEW)
        with self.lock:
            t = now()
            for k in [k for k, until in self.nonces.items() if until < t]:
                del self.nonces[k]
            if (origin, parsed["nonce"]) in self.nonces:
                raise core.PmtpError("nonce_replayed", "nonce seen before")
            self.nonces[(origin, parsed["nonce"])] = parsed["expires"] + SKEW
        return origin, _pmtp_member(headers.get("Signature"))

    def sign_response(self, status, body, requester, request_signature):
        values = {
            "@status": str(status),
            "content-digest": core.content_digest(body),
            "pmtp-origin": self.domain,
            "pmtp-destination": requester,
            core.RESPONSE_COMPONENTS[-1]: request_signature,
        }
        fields = core.sign_message_fields(core.RESPONSE_COMPONENTS, values, self.key, now(), nonce())
        return {"Content-Digest": values["content-digest"], "PMTP-Origin": self.domain,
                "PMTP-Destination": requester, **fields}

    # outgoing signed requests (§9.1) and their signed answers (§9.2) ------------------------------
    def signed_request(self, destination, method, path, body=b"", max_bytes=MAX_JSON, expect_signed=True,
                       key=None, origin=None, endpoint=None, nonce_value=None):
        """Send a signed request; returns (status, headers, body). Overrides exist for attack cases."""
        endpoint = endpoint or self.peers[destination]["endpoint"]
        headers = self.request_headers(endpoint, destination, method, path, body, key, origin, nonce_value)
        status, rheaders, rbody = http_request(endpoint, method, path, body, headers, max_bytes)
        if expect_signed and status == 200:
            self.verify_response(status, rheaders, rbody, destination, headers["Signature"][len("pmtp="):])
        return status, rheaders, rbody

    def request_headers(self, endpoint, destination, method, path, body, key=None, origin=None, nonce_value=None):
        u = urllib.parse.urlsplit(endpoint)
        origin = origin or self.domain
        values = {
            "@method": method,
            "@target-uri": endpoint + path,
            "@authority": core.authority_of(u.scheme, u.hostname, u.port),
            "content-digest": core.content_digest(body),
            "pmtp-origin": origin,
            "pmtp-destination": destination,
        }
        fields = core.sign_message_fields(core.REQUEST_COMPONENTS, values, key or self.key, now(),
                                          nonce_value or nonce())
        return {"Content-Digest": values["content-digest"], "PMTP-Origin": origin,
                "PMTP-Destination": destination, **fields}

    def verify_response(self, status, headers, body, responder, request_signature):
        parsed = core.parse_signature_fields(headers.get("signature-input"), headers.get("signature"),
                                             core.RESPONSE_COMPONENTS)
        origin, destination = headers.get("pmtp-origin"), headers.get("pmtp-destination")
        if origin != responder:
            raise core.PmtpError("wrong_origin", f"answer signed by {origin}, asked {responder}")
        values = {
            "@status": str(status),
            "content-digest": headers.get("content-digest"),
            "pmtp-origin": origin,
            "pmtp-destination": destination,
            core.RESPONSE_COMPONENTS[-1]: request_signature,
        }
        core.verify_signed_message(parsed, values, core.RESPONSE_COMPONENTS, origin, destination, self.domain, body,
                                   now(), self.key_lookup, SKEW)

    def event(self, kind, **fields):
        with self.lock:
            self.events.append({"event": kind, "at": now(), **fields})


def nonce():
    return core.b64url(secrets.token_bytes(16))


def _pmtp_member(signature_field):
    """The `pmtp` member of a Signature field, serialised as a byte sequence (`:…:`)."""
    _, item, _ = core.parse_dictionary(signature_field)["pmtp"]
    return ":" + base64.b64encode(item[1]).decode("ascii") + ":"


def http_request(endpoint, method, path, body, headers, max_bytes):
    """One HTTP exchange; the answer body is read up to `max_bytes` and refused beyond."""
    u = urllib.parse.urlsplit(endpoint)
    conn_class = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(u.hostname, u.port, timeout=15)
    # §10: JSON bodies say so (no signature covers the field, and no server depends on it)
    typed = {"Content-Type": "application/json"} if body else {}
    try:
        conn.request(method, path, body=body, headers={**headers, **typed, "Content-Length": str(len(body))})
        resp = conn.getresponse()
        data = resp.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PmtpHttpError(502, "payload_too_large", "answer over the limit")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def error_body(code, message, retryable=False):
    return json.dumps({"error": {"code": code, "message": message, "retryable": retryable}}).encode()


STATUS_OF = {
    "signature_missing": 401, "signature_malformed": 401, "signature_invalid": 401, "signature_expired": 401,
    "signature_not_yet_valid": 401, "nonce_replayed": 401, "wrong_destination": 401, "unknown_key": 401, "key_revoked": 401,
    "digest_mismatch": 400, "wrong_origin": 403, "batch_invalid": 400, "batch_too_large": 413,
    "not_notified": 403, "view_invalid": 400, "version_superseded": 410, "message_expired": 410,
    "payload_too_large": 413, "canonical_json_invalid": 400, "malformed_request": 400, "message_not_found": 404,
    "version_unsupported": 400, "critical_member_unknown": 400,
    # §9.1 step 7: the origin's keys could not be had
    "discovery_record_missing": 502, "discovery_record_invalid": 502, "egress_refused": 502,
    "keyset_malformed": 502, "keyset_wrong_domain": 502, "keyset_invalid": 502, "keyset_expired": 502,
    "keyset_unpinned": 502, "key_fetch_failed": 503,
}


# The PMTP/1 surface (§10) ---------------------------------------------------------------------------

class PmtpHandler(BaseHTTPRequestHandler):
    peer: Peer = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("PEER_LOG"):
            sys.stderr.write("peer: " + fmt % args + "\n")

    def send(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def fail(self, status, code, message, retryable=False, retry_after=None):
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self.send(status, error_body(code, message, retryable), headers=headers)

    def read_body(self, limit=MAX_JSON):
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.close_connection = True
            raise PmtpHttpError(413, "payload_too_large", f"body over {limit} octets")
        return self.rfile.read(length)

    def handle_one(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        try:
            body = self.read_body()
            cache = {"Cache-Control": "max-age=3600"}
            if method == "GET" and url.path == "/.well-known/pmtp/keys":
                # §10: a domain served here, or none named; anything else is not found
                if query.get("domain", [self.peer.domain]) != [self.peer.domain]:
                    raise PmtpHttpError(404, "message_not_found", "not a domain served here")
                keyset = core.make_keyset(self.peer.domain, self.peer.key, now())
                return self.send(200, core.canonical_bytes(keyset), headers=cache)
            if method == "GET" and url.path == "/.well-known/pmtp/server":
                info = {"v": 1, "protocol": "PMTP/1", "max_batch": 50, "max_recipients": 100,
                        "max_message_bytes": MAX_MESSAGE, "max_pow_bits": 0, "views": list(core.VIEWS)}
                return self.send(200, core.canonical_bytes(info), headers=cache)
            if not url.path.startswith("/pmtp/v1/"):
                raise PmtpHttpError(404, "message_not_found", "unknown path")
            try:
                requester, request_sig = self.peer.verify_request(method, self.path, self.headers, body)
            except core.PmtpError as e:
                self.peer.event("request_refused", path=url.path, code=e.code)
                transient = e.code == "key_fetch_failed"
                raise PmtpHttpError(STATUS_OF.get(e.code, 401), e.code, e.message, retryable=transient,
                                    retry_after=FAILURE_TTL if transient else None) from e
            parts = url.path.split("/")
            if method == "POST" and url.path == "/pmtp/v1/notices":
                answer = receive_notices(self.peer, requester, body)
            elif method == "POST" and url.path == "/pmtp/v1/acks":
                answer = receive_acks(self.peer, requester, body)
            elif method == "GET" and len(parts) == 5 and parts[3] == "messages":
                data = serve_pull(self.peer, requester, parts[4], query)
                ctype = "application/json" if query.get("view", ["full"])[0] in ("hash", "signers") else \
                    "application/pmtp-message"
                return self.send(200, data, ctype)
            else:
                raise PmtpHttpError(404, "message_not_found", "not implemented by this peer")
            out = json.dumps(answer).encode()
            return self.send(200, out, headers=self.peer.sign_response(200, out, requester, request_sig))
        except PmtpHttpError as e:
            self.fail(e.status, e.code, e.message, e.retryable, e.retry_after)
        except core.PmtpError as e:
            self.fail(STATUS_OF.get(e.code, 400), e.code, e.message)

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")

    def do_DELETE(self):
        self.handle_one("DELETE")


def receive_notices(peer, requester, body):
    """§10.3 as recipient: whole-batch then per-notice rules; accept, then pull and ack in the background."""
    batch = core.parse_json(body)
    core.check_versioned(batch, ("v", "crit", "origin", "destination", "notices"), "batch_invalid", signed=False)
    if not isinstance(batch.get("notices"), list):
        raise PmtpHttpError(400, "batch_invalid", "not a notice batch")
    if batch.get("origin") != requester:
        raise PmtpHttpError(403, "wrong_origin", "batch origin is not the signer")
    if batch.get("destination") != peer.domain:
        raise PmtpHttpError(403, "wrong_destination", "batch is not for this domain")
    if len(batch["notices"]) > 50:
        raise PmtpHttpError(413, "batch_too_large", "more than max_batch notices")
    results = []
    for n in batch["notices"]:
        try:
            nid, version, recipients = n["id"], n["version"], n["recipients"]
            digest, fetch, expires, size = n["manifest_digest"], n["fetch"], n["expires"], n["size"]
        except (KeyError, TypeError) as e:
            raise PmtpHttpError(400, "batch_invalid", "notice lacks a member") from e
        base = {"id": nid, "version": version}
        if any(r.rsplit("@", 1)[-1].lower() != peer.domain for r in recipients):
            results.append({**base, "error": {"code": "recipient_wrong_domain", "message": "", "retryable": False}})
        elif len(set(recipients)) != len(recipients):
            results.append({**base, "error": {"code": "duplicate_recipient", "message": "", "retryable": False}})
        elif expires < now():
            results.append({**base, "error": {"code": "notice_expired", "message": "", "retryable": False}})
        elif fetch != f"{peer.peers[requester]['endpoint']}/pmtp/v1/messages/{nid}":
            results.append({**base, "error": {"code": "fetch_url_invalid", "message": "", "retryable": False}})
        elif size > MAX_MESSAGE:
            results.append({**base, "recipients": [{"recipient": r, "disposition": "rejected",
                                                    "code": "message_too_large", "text": "too large"} for r in recipients]})
        else:
            results.append({**base, "recipients": [{"recipient": r, "disposition": "accepted"} for r in recipients]})
            peer.event("notice_accepted", origin=requester, id=nid, version=version, recipients=recipients)
            notice = dict(n, origin=requester)
            threading.Thread(target=pull_and_ack, args=(peer, notice), daemon=True).start()
    return {"results": results}


def pull_and_ack(peer, notice):
    """§10.4 then §10.5 as recipient: pull the full view, verify everything, ack per recipient."""
    origin, nid, version = notice["origin"], notice["id"], notice["version"]
    path = f"/pmtp/v1/messages/{nid}?" + core.query_string([("view", "full"), ("version", version)])
    result, code = "delivered", None
    try:
        status, _, data = peer.signed_request(origin, "GET", path, max_bytes=notice["size"] + (2 << 20),
                                              expect_signed=False)
        if status != 200:
            peer.event("pull_failed", id=nid, status=status, body=data.decode("utf-8", "replace"))
            return
        manifest, signatures, parts = core.read_stream(data, notice["manifest_digest"])
        if len(parts) != len(manifest["parts"]):
            raise core.PmtpError("frame_malformed", "full view lacks parts")
        results, serving, origin_sig = core.verify_message_signatures(
            manifest, signatures, {origin: peer.keyset(origin)}, now())
        from_domain = manifest["from"].rsplit("@", 1)[-1].lower()
        gateway = (manifest.get("provenance") or {}).get("gateway")
        if any(r != "valid" for r in results) or not origin_sig or serving != origin:
            raise core.PmtpError("message_invalid", f"signatures {results}, serving {serving}")
        if origin_sig["domain"] not in (from_domain, gateway):
            result, code = "rejected", "origin_unaligned"
        message = {"origin": origin, "id": nid, "version": version, "manifest": manifest, "signatures": signatures,
                   "parts_base64": [base64.b64encode(parts[i]).decode() for i in sorted(parts)],
                   "recipients": notice["recipients"]}
    except core.PmtpError as e:
        result, code, message = "rejected", "message_invalid", None
        peer.event("pull_invalid", id=nid, code=e.code, message=e.message)
    entry = {"recipients": [{"recipient": r, "result": result, **({"code": code, "text": code} if code else {})}
                            for r in notice["recipients"]],
             "id": nid, "version": version, "manifest_digest": notice["manifest_digest"]}
    body = json.dumps({"origin": peer.domain, "destination": origin, "acks": [entry]}).encode()
    for attempt in range(5):
        try:
            status, _, answer = peer.signed_request(origin, "POST", "/pmtp/v1/acks", body)
        except (OSError, core.PmtpError, PmtpHttpError) as e:
            peer.event("ack_error", id=nid, error=str(e))
            time.sleep(1 + attempt)
            continue
        if status == 200:
            statuses = [r.get("status") for r in core.parse_json(answer).get("results", [])]
            if message is not None:
                with peer.lock:
                    peer.inbox.append({**message, "ack": statuses, "result": result})
            peer.event("acked", id=nid, result=result, statuses=statuses)
            return
        peer.event("ack_refused", id=nid, status=status, body=answer.decode("utf-8", "replace"))
        time.sleep(1 + attempt)


def serve_pull(peer, requester, nid, query):
    """§10.4 as origin: only domains notified of this id may pull; views of §7.2."""
    with peer.lock:
        stored = peer.outbox.get(nid)
    if stored is None or not any(r.rsplit("@", 1)[-1].lower() == requester for r in stored["recipients"]):
        raise PmtpHttpError(403, "not_notified", "this domain was not notified of that message")
    # §10.4: no version means the current one; no view means full; access is decided before the view
    current = stored["manifest"]["version"]
    version = query.get("version", [str(current)])[0]
    if not re.fullmatch(r"[1-9][0-9]{0,15}", version) or int(version) > current:
        raise PmtpHttpError(403, "not_notified", f"no version {version} was notified")
    if int(version) < current:
        raise PmtpHttpError(410, "version_superseded", "not the current version")
    if now() > stored["expires"]:
        raise PmtpHttpError(410, "message_expired", "the notice expired")
    view = query.get("view", ["full"])[0]
    if view not in core.VIEWS:
        raise PmtpHttpError(400, "view_invalid", "unknown view")
    m, sigs = stored["manifest"], stored["signatures"]
    digest = core.manifest_digest(m)
    if view == "hash":
        return core.canonical_bytes({"id": m["id"], "version": m["version"], "manifest_digest": digest})
    if view == "signers":
        return core.canonical_bytes({"id": m["id"], "version": m["version"], "manifest_digest": digest,
                                     "signatures": sigs})
    if view == "full":
        with peer.lock:
            for r, state in stored["recipients"].items():
                if r.rsplit("@", 1)[-1].lower() == requester and state == "accepted":
                    stored["recipients"][r] = "fetched"
        peer.event("pulled", id=nid, by=requester)
    return core.build_stream(m, sigs, stored["parts"], view)


def receive_acks(peer, requester, body):
    """§10.5 as origin: record each recipient's final result; idempotent."""
    doc = core.parse_json(body)
    core.check_versioned(doc, ("v", "crit", "origin", "destination", "acks"), "malformed_request", signed=False)
    if not isinstance(doc.get("acks"), list):
        raise PmtpHttpError(400, "malformed_request", "not an ack document")
    if doc.get("origin") != requester:
        raise PmtpHttpError(403, "wrong_origin", "ack origin is not the signer")
    if doc.get("destination") != peer.domain:
        raise PmtpHttpError(403, "wrong_destination", "ack is not for this domain")
    results = []
    for ack in doc["acks"]:
        with peer.lock:
            stored = peer.outbox.get(ack.get("id"))
            known = (stored is not None and stored["manifest"]["version"] == ack.get("version")
                     and core.manifest_digest(stored["manifest"]) == ack.get("manifest_digest"))
            if known:
                for r in ack.get("recipients", []):
                    rcpt = r.get("recipient")
                    if rcpt in stored["recipients"] and rcpt.rsplit("@", 1)[-1].lower() == requester:
                        if stored["recipients"][rcpt] in ("accepted", "fetched"):
                            stored["recipients"][rcpt] = r.get("result")
        results.append({"id": ack.get("id"), "version": ack.get("version"), "status": "recorded" if known else "unknown"})
        peer.event("ack_received", id=ack.get("id"), known=known, recipients=ack.get("recipients"))
    return {"results": results}


# Sending as origin (§5–§7, §10.3) ----------------------------------------------------------------------

def compose(peer, sender, recipients, subject, text, attachment=None):
    """Store a signed message in the outbox (which is the outgoing queue, §1) and return it."""
    parts = [text.encode("utf-8")]
    described = [core.describe_part(parts[0], "text/plain; charset=utf-8", "body")]
    if attachment is not None:
        parts.append(attachment)
        described.append(core.describe_part(attachment, "application/octet-stream", "attachment",
                                            disposition="attachment", filename="data.bin"))
    created = now()
    manifest = {
        "v": 1,
        "id": core.b64url(secrets.token_bytes(16)),
        "version": 1,
        "from": sender,
        "headers": [["From", sender], ["To", ", ".join(recipients)], ["Subject", subject],
                    ["Date", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(created))]],
        "parts": described,
        "created": created,
    }
    signatures = [core.sign_message(manifest, peer.domain, peer.key, created)]
    stored = {"manifest": manifest, "signatures": signatures, "parts": parts, "expires": created + 3600,
              "recipients": {r: "notified" for r in recipients}}
    with peer.lock:
        peer.outbox[manifest["id"]] = stored
    return stored


def notice_batch(peer, stored, destination):
    m = stored["manifest"]
    notice = {
        "id": m["id"],
        "version": m["version"],
        "size": sum(p["length"] for p in m["parts"]),
        "manifest_digest": core.manifest_digest(m),
        "sender": m["from"],
        "recipients": [r for r in stored["recipients"] if r.rsplit("@", 1)[-1].lower() == destination],
        "expires": stored["expires"],
        "fetch": f"{peer.endpoint}/pmtp/v1/messages/{m['id']}",
    }
    return json.dumps({"origin": peer.domain, "destination": destination, "notices": [notice]}).encode()


def send_notices(peer, stored, destination):
    status, _, answer = peer.signed_request(destination, "POST", "/pmtp/v1/notices",
                                            notice_batch(peer, stored, destination))
    doc = core.parse_json(answer)
    if status == 200:
        for result in doc["results"]:
            for r in result.get("recipients", []):
                with peer.lock:
                    if stored["recipients"].get(r["recipient"]) == "notified":
                        stored["recipients"][r["recipient"]] = {"accepted": "accepted", "rejected": "rejected"}.get(
                            r["disposition"], r["disposition"])
    return status, doc


# The control listener a test drives ----------------------------------------------------------------

def exchange(endpoint, method, path, body, headers):
    """Send prepared bytes and read the answer. A server may answer an oversized body before it has
    read it and stop reading: keep what it answered even when the rest of the body cannot be sent."""
    u = urllib.parse.urlsplit(endpoint)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {u.netloc}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock = socket.create_connection((u.hostname, u.port), timeout=15)
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read(MAX_JSON)
    except (ConnectionResetError, http.client.RemoteDisconnected) as e:
        return {"status": None, "error": type(e).__name__}
    finally:
        sock.close()
    try:
        return {"status": resp.status, "body": json.loads(data)}
    except ValueError:
        return {"status": resp.status, "body": data.decode("utf-8", "replace")}


def control(peer, path, args):
    destination = args.get("destination") or next(iter(peer.peers))
    endpoint = peer.peers[destination]["endpoint"]
    if path == "/state":
        with peer.lock:
            return {"inbox": peer.inbox, "events": peer.events,
                    "outbox": {i: dict(s["recipients"]) for i, s in peer.outbox.items()}}
    if path == "/send":
        attachment = base64.b64decode(args["attachment_base64"]) if "attachment_base64" in args else None
        stored = compose(peer, args["from"], args["to"], args["subject"], args["text"], attachment)
        status, doc = send_notices(peer, stored, destination)
        return {"id": stored["manifest"]["id"], "status": status, "answer": doc,
                "parts_base64": [base64.b64encode(p).decode() for p in stored["parts"]]}
    notices = "/pmtp/v1/notices"
    if path == "/attack/forged":
        # signed by a key the gateway never saw, but naming our published key id
        forger = core.DomainKey.generate()
        stored = compose(peer, args["from"], args["to"], "forged", "forged\r\n")
        body = notice_batch(peer, stored, destination)
        headers = peer.request_headers(endpoint, destination, "POST", notices, body, key=forger)
        headers["Signature-Input"] = headers["Signature-Input"].replace(forger.key_id, peer.key.key_id)
        return exchange(endpoint, "POST", notices, body, headers)
    if path == "/attack/replay":
        stored = compose(peer, args["from"], args["to"], "replayed", "sent twice\r\n")
        body = notice_batch(peer, stored, destination)
        headers = peer.request_headers(endpoint, destination, "POST", notices, body)
        return {"first": exchange(endpoint, "POST", notices, body, headers),
                "second": exchange(endpoint, "POST", notices, body, headers)}
    if path == "/attack/oversized":
        filler = {"origin": peer.domain, "destination": destination, "notices": [], "pad": "x" * args["bytes"]}
        body = json.dumps(filler).encode()
        headers = peer.request_headers(endpoint, destination, "POST", notices, body)
        return {"sent": len(body), **exchange(endpoint, "POST", notices, body, headers)}
    if path == "/attack/ssrf":
        # a well-formed signature for an origin the gateway does not know: it may only look it up
        origin = args["origin"]
        stored = compose(peer, f"eve@{origin}", args["to"], "ssrf", "who are you?\r\n")
        body = json.loads(notice_batch(peer, stored, destination))
        body["origin"] = origin
        body["notices"][0]["fetch"] = args["fetch"]
        raw = json.dumps(body).encode()
        headers = peer.request_headers(endpoint, destination, "POST", notices, raw, origin=origin)
        return exchange(endpoint, "POST", notices, raw, headers)
    raise KeyError(path)


class ControlHandler(BaseHTTPRequestHandler):
    peer: Peer = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        args = json.loads(self.rfile.read(length) or b"{}")
        try:
            out, status = control(self.peer, self.path, args), 200
        except Exception as e:  # the test wants to see what went wrong, not a hung request
            out, status = {"error": f"{type(e).__name__}: {e}"}, 500
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--peer", action="append", default=[], help="DOMAIN=ENDPOINT=FINGERPRINT (§8.5 static directory)")
    opts = ap.parse_args()
    peers = {}
    for spec in opts.peer:
        domain, endpoint, fingerprint = spec.split("=", 2)
        peers[domain] = {"endpoint": endpoint, "fingerprint": fingerprint or None}
    server = ThreadingHTTPServer((opts.host, opts.port), PmtpHandler)
    endpoint = f"http://{opts.host}:{server.server_address[1]}"
    peer = Peer(opts.domain, endpoint, peers)
    PmtpHandler.peer = ControlHandler.peer = peer
    ctl = ThreadingHTTPServer(("127.0.0.1", opts.control_port), ControlHandler)
    for s in (server, ctl):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(json.dumps({"ready": True, "endpoint": endpoint, "control": f"http://127.0.0.1:{ctl.server_address[1]}",
                      "key_id": peer.key.key_id, "domain": peer.domain}), flush=True)
    try:
        sys.stdin.read()  # run until the parent closes our stdin (or kills us)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

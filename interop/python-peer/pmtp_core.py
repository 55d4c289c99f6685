"""PMTP/1 protocol core for the Python interop peer: canonical JSON, key ids, signed
statements, key sets, manifests, message signatures, message streams and RFC 9421 request and
response signatures. Pure functions, no I/O; written from docs/protocol.md alone."""

import base64
import hashlib
import json
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAX_SAFE = 2**53 - 1


class PmtpError(Exception):
    """A check failed; `code` is the PMTP/1 error code (§16)."""

    def __init__(self, code, message=""):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message or code


# §3 canonical JSON -----------------------------------------------------------------------------

def _string(s):
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise PmtpError("canonical_json_invalid", "lone surrogate") from e
    # Python's encoder with ensure_ascii=False writes rule 5 exactly: short escapes, lower-case \u00xx
    return json.dumps(s, ensure_ascii=False)


def canonical(value, depth=0):
    """The canonical JSON text of `value` (§3); raises on values §3 does not allow."""
    if depth > 32:
        raise PmtpError("canonical_json_invalid", "nesting deeper than 32")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE:
            raise PmtpError("canonical_json_invalid", "integer out of range")
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-8", "surrogatepass"))
        return "{" + ",".join(_string(k) + ":" + canonical(v, depth + 1) for k, v in items) + "}"
    raise PmtpError("canonical_json_invalid", f"not allowed: {type(value).__name__}")


def canonical_bytes(value):
    return canonical(value).encode("utf-8")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise PmtpError("canonical_json_invalid", "duplicate member")
        out[k] = v
    return out


def _refuse(text):
    raise PmtpError("canonical_json_invalid", f"not an integer: {text}")


def parse_json(data):
    """Parse JSON that need not be canonical, refusing floats and duplicate members."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_refuse, parse_constant=_refuse)
    except (ValueError, UnicodeDecodeError) as e:
        raise PmtpError("canonical_json_invalid", str(e)) from e


def parse_canonical(data):
    """Parse bytes that must be canonical JSON: re-encode and require the same bytes (§3)."""
    value = parse_json(data)
    if canonical_bytes(value) != bytes(data):
        raise PmtpError("canonical_json_invalid", "not canonical")
    return value


# §19 versions and extensions ----------------------------------------------------------------------

def check_versioned(obj, defined, malformed, signed):
    """`v` and `crit` of one top-level object (§19); `malformed` is that object's own code. Members
    not in `defined` are otherwise ignored. This peer implements no extension, so a valid `crit`
    always refuses the object."""
    if not isinstance(obj, dict):
        raise PmtpError(malformed, "not a JSON object")
    if "v" in obj:
        v = obj["v"]
        if not isinstance(v, int) or isinstance(v, bool):
            raise PmtpError(malformed, "v is not an integer")
        if v != 1:
            raise PmtpError("version_unsupported", f"version {v} is not implemented")
    elif signed:
        raise PmtpError(malformed, "a signed document must carry v")
    if "crit" in obj:
        crit = obj["crit"]
        well_formed = (
            isinstance(crit, list)
            and 1 <= len(crit) <= 16
            and all(isinstance(n, str) and n in obj and n not in defined for n in crit)
            and len(set(crit)) == len(crit)
        )
        if not well_formed:
            raise PmtpError(malformed, "crit is not a list of this object's extension members")
        raise PmtpError("critical_member_unknown", f"critical members not understood: {crit}")


# §4 encodings, §8.1 key ids, §6.5 signed statements ----------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise PmtpError("input_invalid", "not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:  # non-zero trailing bits
        raise PmtpError("input_invalid", "non-canonical base64url")
    return raw


def sha256_b64url(data):
    return b64url(hashlib.sha256(data).digest())


def raw_public_key(public_key):
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(raw):
    return "ed25519:" + sha256_b64url(raw)


def signing_input(context, payload):
    return context.encode("utf-8") + b"\x00" + canonical_bytes(payload)


class DomainKey:
    """One Ed25519 key of a domain."""

    def __init__(self, private_key):
        self.private_key = private_key
        self.raw_public = raw_public_key(private_key.public_key())
        self.key_id = key_id_of(self.raw_public)

    @classmethod
    def generate(cls):
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed):
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, data):
        return self.private_key.sign(data)


def verify_ed25519(raw_public, signature, data):
    try:
        Ed25519PublicKey.from_public_bytes(raw_public).verify(signature, data)
        return True
    except (InvalidSignature, ValueError):
        return False


# §8.2 key sets ------------------------------------------------------------------------------------

def make_keyset(domain, key, now, valid_for=7 * 86400):
    doc = {
        "v": 1,
        "domain": domain,
        "published": now,
        "keys": [{"key_id": key.key_id, "public_key": b64url(key.raw_public), "valid_until": now + valid_for}],
        "old_keys": [],
    }
    sig = key.sign(signing_input("pmtp1/keyset", doc))
    return {**doc, "signatures": [{"key_id": key.key_id, "sig": b64url(sig)}]}


class KeySet:
    """A verified key set: which key ids were usable when."""

    def __init__(self, domain, current, old, revoked=()):
        self.domain = domain
        self.current = current  # key_id -> (raw, valid_until)
        self.old = old  # key_id -> (raw, expired_at)
        self.revoked = frozenset(revoked)  # key ids withdrawn (§8.7)

    def key_at(self, key_id, t):
        """Raw key usable for a signature created at t (§8.3), else None; never a revoked key (§8.7)."""
        if key_id in self.revoked:
            return None
        if key_id in self.current and t <= self.current[key_id][1]:
            return self.current[key_id][0]
        if key_id in self.old and t < self.old[key_id][1]:
            return self.old[key_id][0]
        return None


KEYSET_MEMBERS = ("v", "crit", "domain", "published", "keys", "old_keys", "signatures")


def verify_keyset(doc, domain, now, pin=None):
    """§8.2: accept a key set document or raise. Unknown members are ignored unless `crit` names
    them (§19); they stay in the signed body."""
    check_versioned(doc, KEYSET_MEMBERS, "keyset_malformed", signed=True)
    if doc.get("domain") != domain:
        raise PmtpError("keyset_wrong_domain", f"{doc.get('domain')} is not {domain}")
    current, old, seen = {}, {}, set()
    for table, field, into in (("keys", "valid_until", current), ("old_keys", "expired_at", old)):
        entries = doc.get(table, [])
        if not isinstance(entries, list):
            raise PmtpError("keyset_malformed", f"{table} is not a list")
        for entry in entries:
            try:
                raw = b64url_decode(entry["public_key"])
                kid, limit = entry["key_id"], entry[field]
            except (KeyError, TypeError, PmtpError) as e:
                raise PmtpError("keyset_malformed", f"bad entry in {table}") from e
            if len(raw) != 32 or key_id_of(raw) != kid or kid in seen or not isinstance(limit, int):
                raise PmtpError("keyset_malformed", f"bad key {kid}")
            seen.add(kid)
            into[kid] = (raw, limit)
    revoked = doc.get("revoked", [])
    if not isinstance(revoked, list):
        raise PmtpError("keyset_malformed", "revoked is not a list")
    for entry in revoked:
        kid = entry.get("key_id") if isinstance(entry, dict) else None
        if not isinstance(kid, str) or kid in seen or not isinstance(entry.get("revoked_at"), int):
            raise PmtpError("keyset_malformed", f"bad revoked entry {kid}")
        seen.add(kid)
    body = {k: v for k, v in doc.items() if k != "signatures"}
    signed_by = set()
    for s in doc.get("signatures", []):
        kid = s.get("key_id")
        if kid in current and current[kid][1] >= now:
            if verify_ed25519(current[kid][0], b64url_decode(s.get("sig", "")), signing_input("pmtp1/keyset", body)):
                signed_by.add(kid)
    if not any(until >= now for _, until in current.values()):
        raise PmtpError("keyset_expired", "no current key")
    if not signed_by:
        raise PmtpError("keyset_invalid", "no valid signature by a current key")
    if pin and pin not in signed_by:
        raise PmtpError("keyset_unpinned", f"{pin} did not sign the key set")
    return KeySet(domain, current, old, (e["key_id"] for e in revoked))


# §5 manifests, §6 message signatures ------------------------------------------------------------

def describe_part(octets, type_, role=None, **extra):
    part = {"type": type_, "length": len(octets), "sha256": sha256_b64url(octets)}
    if role:
        part["role"] = role
    part.update(extra)
    return part


def manifest_digest(manifest):
    return sha256_b64url(canonical_bytes(manifest))


def sign_message(manifest, domain, key, created, role="origin"):
    payload = {"role": role, "domain": domain, "key_id": key.key_id, "alg": "ed25519", "created": created}
    sig = key.sign(signing_input("pmtp1/message-signature", {**payload, "manifest_digest": manifest_digest(manifest)}))
    return {**payload, "sig": b64url(sig)}


MANIFEST_MEMBERS = ("v", "crit", "id", "version", "from", "headers", "parts", "provenance", "created")


def check_manifest(m):
    """The checks a receiver needs before trusting a manifest's part list (§5); `v` and `crit` by §19."""
    check_versioned(m, MANIFEST_MEMBERS, "manifest_invalid", signed=True)
    ok = (
        isinstance(m.get("id"), str)
        and re.fullmatch(r"[A-Za-z0-9_-]{16,128}", m["id"])
        and isinstance(m.get("version"), int)
        and m["version"] >= 1
        and isinstance(m.get("from"), str)
        and "@" in m["from"]
        and isinstance(m.get("headers"), list)
        and isinstance(m.get("parts"), list)
        and len(m["parts"]) <= 1000
        and isinstance(m.get("created"), int)
    )
    if not ok:
        raise PmtpError("manifest_invalid", "manifest does not match §5.4")
    for h in m["headers"]:
        if not (isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h)):
            raise PmtpError("manifest_invalid", "bad header")
        if h[0].lower() == "bcc" or any(c in h[1] for c in "\r\n\x00"):
            raise PmtpError("manifest_invalid", "bad header")
    for p in m["parts"]:
        if not (isinstance(p, dict) and isinstance(p.get("length"), int) and isinstance(p.get("sha256"), str)):
            raise PmtpError("manifest_invalid", "bad part")
    return m


def verify_message_signatures(manifest, signatures, keysets, now):
    """§6.3: per-signature results and the serving domain. `keysets` maps domain -> KeySet."""
    digest = manifest_digest(manifest)
    results, seen, origins, hop_seen = [], set(), 0, False
    for i, s in enumerate(signatures):
        try:
            role, domain, kid, created = s["role"], s["domain"], s["key_id"], s["created"]
            sig = b64url_decode(s["sig"])
            if s.get("alg") != "ed25519" or role not in ("origin", "author", "hop") or not isinstance(created, int):
                raise KeyError
        except (KeyError, TypeError, PmtpError):
            results.append("malformed")
            continue
        if (role, domain) in seen or (role == "origin" and origins) or (role != "hop" and hop_seen):
            results.append("misplaced")
            continue
        seen.add((role, domain))
        origins += role == "origin"
        hop_seen = hop_seen or role == "hop"
        if created > now + 300:
            results.append("future")
            continue
        ks = keysets.get(domain)
        raw = ks.key_at(kid, created) if ks else None
        if raw is None:
            results.append("unknown_key")
            continue
        payload = {k: v for k, v in s.items() if k != "sig"}
        payload["manifest_digest"] = digest
        if role == "hop":
            payload["chain"] = sha256_b64url(canonical_bytes(signatures[:i]))
        results.append("valid" if verify_ed25519(raw, sig, signing_input("pmtp1/message-signature", payload)) else "invalid")
    hops = [s for s in signatures if isinstance(s, dict) and s.get("role") == "hop"]
    origin = next((s for s in signatures if isinstance(s, dict) and s.get("role") == "origin"), None)
    serving = hops[-1]["domain"] if hops else (origin or {}).get("domain")
    return results, serving, origin


# §7 message streams ---------------------------------------------------------------------------

VIEWS = ("hash", "signers", "headers", "text", "full")


def stream_parts(manifest, view):
    if view == "headers":
        return []
    if view == "text":
        for i, p in enumerate(manifest["parts"]):
            if p.get("role") == "body" and p["type"].split(";")[0].strip().lower() == "text/plain":
                return [i]
        return []
    return list(range(len(manifest["parts"])))


def build_stream(manifest, signatures, parts, view):
    head = canonical_bytes({"manifest": manifest, "signatures": signatures})
    out = [b"PMTP/1\n", b"H %d\n" % len(head), head, b"\n"]
    for i in stream_parts(manifest, view):
        out += [b"P %d %d\n" % (i, len(parts[i])), parts[i], b"\n"]
    out.append(b"E\n")
    return b"".join(out)


def _frame_line(data, pos, max_len=64):
    end = data.find(b"\n", pos, pos + max_len)
    if end < 0:
        raise PmtpError("truncated" if len(data) - pos < max_len else "frame_malformed", "no frame line")
    return data[pos:end].decode("ascii", "replace"), end + 1


def _length(text):
    if not re.fullmatch(r"0|[1-9][0-9]{0,15}", text):
        raise PmtpError("frame_malformed", f"bad length {text!r}")
    return int(text)


def read_stream(data, expected_digest=None, max_head=1 << 20):
    """Parse and check a whole message stream (§7.1): (manifest, signatures, {index: octets})."""
    if not data.startswith(b"PMTP/1\n"):
        raise PmtpError("frame_malformed", "bad magic")
    line, pos = _frame_line(data, 7)
    m = re.fullmatch(r"H (\S+)", line)
    if not m:
        raise PmtpError("frame_malformed", "no head frame")
    n = _length(m.group(1))
    if n > max_head:
        raise PmtpError("head_invalid", "head too large")
    if len(data) < pos + n + 1:
        raise PmtpError("truncated", "head cut short")
    if data[pos + n : pos + n + 1] != b"\n":
        raise PmtpError("frame_malformed", "no LF after head")
    try:
        head = parse_canonical(data[pos : pos + n])
    except PmtpError as e:
        raise PmtpError("head_invalid", e.message) from e
    pos += n + 1
    if not isinstance(head, dict) or not isinstance(head.get("signatures"), list) or not head["signatures"]:
        raise PmtpError("head_invalid", "head lacks signatures")
    manifest = check_manifest(head.get("manifest"))
    if expected_digest is not None and manifest_digest(manifest) != expected_digest:
        raise PmtpError("manifest_digest_mismatch", "head is not the notified manifest")
    parts, last = {}, -1
    while True:
        line, pos = _frame_line(data, pos)
        if line == "E":
            if pos != len(data):
                raise PmtpError("frame_malformed", "data after end frame")
            return manifest, head["signatures"], parts
        m = re.fullmatch(r"P (\S+) (\S+)", line)
        if not m:
            raise PmtpError("frame_malformed", f"bad frame {line!r}")
        i, n = _length(m.group(1)), _length(m.group(2))
        if i <= last or i >= len(manifest["parts"]) or n != manifest["parts"][i]["length"]:
            raise PmtpError("frame_malformed", "part out of order or wrong length")
        if len(data) < pos + n + 1:
            raise PmtpError("truncated", "part cut short")
        octets = data[pos : pos + n]
        if data[pos + n : pos + n + 1] != b"\n":
            raise PmtpError("frame_malformed", "no LF after part")
        if sha256_b64url(octets) != manifest["parts"][i]["sha256"]:
            raise PmtpError("part_digest_mismatch", f"part {i}")
        parts[i], last, pos = octets, i, pos + n + 1


# §9 RFC 9421 request and response signatures ----------------------------------------------------

REQUEST_COMPONENTS = ("@method", "@target-uri", "@authority", "content-digest", "pmtp-origin", "pmtp-destination")
RESPONSE_COMPONENTS = ("@status", "content-digest", "pmtp-origin", "pmtp-destination", 'signature";req;key="pmtp')
PARAM_ORDER = ("created", "expires", "nonce", "keyid", "alg", "tag")


_FORM_KEPT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._")


def form_encode(value):
    """§9.1: a query value as application/x-www-form-urlencoded over its UTF-8 octets, upper-case hex."""
    out = []
    for b in str(value).encode("utf-8"):
        out.append(chr(b) if b in _FORM_KEPT else "+" if b == 0x20 else f"%{b:02X}")
    return "".join(out)


def query_string(pairs):
    """`name=value` pairs joined by `&`, in the order given (§10 lists each endpoint's order)."""
    return "&".join(f"{name}={form_encode(value)}" for name, value in pairs)


def content_digest(body):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def _inner_list(components):
    return "(" + " ".join('"' + c + '"' for c in components) + ")"


def signature_params(components, created, expires, nonce, keyid):
    return (
        f'{_inner_list(components)};created={created};expires={expires};nonce="{nonce}";keyid="{keyid}"'
        ';alg="ed25519";tag="pmtp1"'
    )


def signature_base(components, values, params):
    lines = [f'"{c}": {values[c]}' for c in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("utf-8")


def authority_of(scheme, host, port):
    default = {"http": 80, "https": 443}[scheme]
    return host.lower() if port in (None, default) else f"{host.lower()}:{port}"


def sign_message_fields(components, values, key, created, nonce, lifetime=60):
    """Signature-Input and Signature field values for `values` of `components`."""
    params = signature_params(components, created, created + lifetime, nonce, key.key_id)
    sig = key.sign(signature_base(components, values, params))
    return {
        "Signature-Input": "pmtp=" + params,
        "Signature": "pmtp=:" + base64.b64encode(sig).decode("ascii") + ":",
    }


# A small RFC 8941 dictionary parser: enough for Signature-Input and Signature.
_KEY = r"[a-z*][a-z0-9_.*-]*"


def _parse_bare_item(s, i):
    if s.startswith('"', i):
        out, i = [], i + 1
        while i < len(s):
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '"\\':
                    raise PmtpError("signature_malformed", "bad string escape")
                out.append(s[i + 1])
                i += 2
            elif c == '"':
                return ("string", "".join(out)), i + 1
            elif not (0x20 <= ord(c) < 0x7F):
                raise PmtpError("signature_malformed", "bad string char")
            else:
                out.append(c)
                i += 1
        raise PmtpError("signature_malformed", "unterminated string")
    if s.startswith(":", i):
        end = s.find(":", i + 1)
        if end < 0:
            raise PmtpError("signature_malformed", "unterminated byte sequence")
        text = s[i + 1 : end]
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError as e:
            raise PmtpError("signature_malformed", "bad byte sequence") from e
        # §9.1: one spelling only, padded standard base64 that re-encodes to itself
        if base64.b64encode(raw).decode("ascii") != text:
            raise PmtpError("signature_malformed", "byte sequence is not canonical base64")
        return ("bytes", raw), end + 1
    m = re.compile(r"-?[0-9]{1,15}(?![0-9.])").match(s, i)
    if m:
        return ("integer", int(m.group())), m.end()
    m = re.compile(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]*").match(s, i)
    if m:
        return ("token", m.group()), m.end()
    if s.startswith("?1", i) or s.startswith("?0", i):
        return ("boolean", s[i + 1] == "1"), i + 2
    raise PmtpError("signature_malformed", f"bad item at {i}")


def _parse_params(s, i):
    params = []
    while s.startswith(";", i):
        i += 1
        while s.startswith(" ", i):
            i += 1
        m = re.compile(_KEY).match(s, i)
        if not m:
            raise PmtpError("signature_malformed", "bad parameter name")
        name, i = m.group(), m.end()
        value = ("boolean", True)
        if s.startswith("=", i):
            value, i = _parse_bare_item(s, i + 1)
        params.append((name, value))
    return params, i


def parse_dictionary(s):
    """RFC 8941 §4.2.2, keeping member order; values are ('list', items, params) or ('item', item, params)."""
    out, i = {}, 0
    s = s.strip(" ")
    while i < len(s):
        m = re.compile(_KEY).match(s, i)
        if not m:
            raise PmtpError("signature_malformed", "bad dictionary key")
        key, i = m.group(), m.end()
        if s.startswith("=", i):
            i += 1
            if s.startswith("(", i):
                i += 1
                items = []
                while True:
                    while s.startswith(" ", i):
                        i += 1
                    if s.startswith(")", i):
                        i += 1
                        break
                    item, i = _parse_bare_item(s, i)
                    iparams, i = _parse_params(s, i)
                    items.append((item, iparams))
                    if not (s.startswith(" ", i) or s.startswith(")", i)):
                        raise PmtpError("signature_malformed", "bad inner list")
                params, i = _parse_params(s, i)
                out[key] = ("list", items, params)
            else:
                item, i = _parse_bare_item(s, i)
                params, i = _parse_params(s, i)
                out[key] = ("item", item, params)
        else:
            params, i = _parse_params(s, i)
            out[key] = ("item", ("boolean", True), params)
        while s.startswith(" ", i) or s.startswith("\t", i):
            i += 1
        if i >= len(s):
            break
        if not s.startswith(",", i):
            raise PmtpError("signature_malformed", "expected ','")
        i += 1
        while s.startswith(" ", i) or s.startswith("\t", i):
            i += 1
        if i >= len(s):
            raise PmtpError("signature_malformed", "trailing comma")
    return out


DOMAIN_RE = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+")


def parse_signature_fields(signature_input, signature, components):
    """Steps 1–2 of §9.1: the `pmtp` members, their exact components and parameters."""
    if not signature_input or not signature:
        raise PmtpError("signature_missing", "no Signature-Input or Signature")
    inputs, sigs = parse_dictionary(signature_input), parse_dictionary(signature)
    if "pmtp" not in inputs or "pmtp" not in sigs:
        raise PmtpError("signature_missing", "no pmtp member")
    kind, items, params = inputs["pmtp"]
    if kind != "list":
        raise PmtpError("signature_malformed", "pmtp input is not an inner list")
    got = []
    for (t, name), iparams in items:
        if t != "string":
            raise PmtpError("signature_malformed", "component is not a string")
        suffix = "".join(f";{k}" + (f'="{v[1]}"' if v[0] == "string" else "") for k, v in iparams)
        got.append('"' + name + '"' + suffix)
    if got != ['"' + c + '"' for c in components]:
        raise PmtpError("signature_malformed", f"components {got}")
    if tuple(k for k, _ in params) != PARAM_ORDER:
        raise PmtpError("signature_malformed", "parameters not exactly created, expires, nonce, keyid, alg, tag")
    p = dict(params)
    types = {"created": "integer", "expires": "integer", "nonce": "string", "keyid": "string", "alg": "string", "tag": "string"}
    if any(p[k][0] != t for k, t in types.items()):
        raise PmtpError("signature_malformed", "parameter types")
    if p["alg"][1] != "ed25519" or p["tag"][1] != "pmtp1":
        raise PmtpError("signature_malformed", "alg or tag")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", p["nonce"][1]):
        raise PmtpError("signature_malformed", "nonce")
    if not re.fullmatch(r"ed25519:[A-Za-z0-9_-]{43}", p["keyid"][1]):
        raise PmtpError("signature_malformed", "keyid")
    skind, sitem, _ = sigs["pmtp"]
    if skind != "item" or sitem[0] != "bytes" or len(sitem[1]) != 64:
        raise PmtpError("signature_malformed", "signature is not 64 bytes")
    return {
        "created": p["created"][1],
        "expires": p["expires"][1],
        "nonce": p["nonce"][1],
        "keyid": p["keyid"][1],
        "signature": sitem[1],
        # components and parameters were checked to be exactly the spec's, so their serialisation is too
        "params": signature_params(components, p["created"][1], p["expires"][1], p["nonce"][1], p["keyid"][1]),
    }


def verify_signed_message(parsed, values, components, origin, destination, me, body, now, key_lookup, skew=60):
    """Steps 3–8 of §9.1 (step 9, the nonce, is the caller's: it needs state)."""
    if not DOMAIN_RE.fullmatch(origin or "") or not DOMAIN_RE.fullmatch(destination or ""):
        raise PmtpError("signature_malformed", "origin or destination is not a domain")
    if destination != me:
        raise PmtpError("wrong_destination", f"{destination} is not {me}")
    if not 1 <= parsed["expires"] - parsed["created"] <= 300:
        raise PmtpError("signature_malformed", "lifetime")
    if parsed["created"] > now + skew:
        raise PmtpError("signature_not_yet_valid", "created in the future")
    if parsed["expires"] < now - skew:
        raise PmtpError("signature_expired", "expired")
    if values.get("content-digest") != content_digest(body):
        raise PmtpError("digest_mismatch", "Content-Digest does not match the body")
    raw = key_lookup(origin, parsed["keyid"], parsed["created"])
    if raw is None:
        raise PmtpError("unknown_key", f"{origin} has no key {parsed['keyid']}")
    if not verify_ed25519(raw, parsed["signature"], signature_base(components, values, parsed["params"])):
        raise PmtpError("signature_invalid", "signature does not verify")

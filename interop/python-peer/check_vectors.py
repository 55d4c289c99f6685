#!/usr/bin/env python3
"""Checks the Python peer's protocol core against the normative vectors in test/vectors/ (§17):
canonical JSON, key ids, key set, manifest, message signatures, streams, request and response
signature bases, and a delegation proof with a pull its delegate signs. Exits non-zero on the first disagreement."""

import base64
import json
import pathlib
import sys

import pmtp_core as core

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "test" / "vectors"
checks = 0


def load(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def expect(ok, what):
    global checks
    checks += 1
    if not ok:
        sys.exit(f"FAIL: {what}")


def refuses(fn, what):
    try:
        fn()
    except core.PmtpError:
        expect(True, what)
        return
    expect(False, what)


def _code(fn):
    try:
        fn()
    except core.PmtpError as e:
        return e.code
    return None


def main():
    cj = load("canonical-json.json")
    for case in cj["valid"]:
        text = core.canonical(case["input"])
        expect(text == case["canonical"], f"canonical {case['canonical']}")
        expect(core.canonical_bytes(case["input"]).hex() == case["canonical_hex"], f"canonical hex {case['canonical']}")
        expect(core.parse_canonical(text.encode("utf-8")) == case["input"], f"round trip {case['canonical']}")
    for spelling in ["1.5", "-0", "9007199254740992", "1e400", '"\\ud800"', '{"b":1,"a":2}', '{"a": 1}',
                     '{"a":1,"a":1}', "1.0", '"\\u0041"', '"\\u001F"', '"\\/"', " 1"]:
        refuses(lambda s=spelling: core.parse_canonical(s.encode()), f"refuses {spelling}")
    for key in ("invalid_values", "non_canonical"):
        for text in cj[key]:
            refuses(lambda s=text: core.parse_canonical(s.encode("utf-8", "surrogatepass")), f"refuses {text!r}")

    keys = {k["name"]: k for k in load("keys.json")}
    domain_keys = {}
    for name, k in keys.items():
        dk = core.DomainKey.from_seed(bytes.fromhex(k["seed_hex"]))
        expect(dk.raw_public.hex() == k["public_key_hex"], f"public key {name}")
        expect(dk.key_id == k["key_id"], f"key id {name}")
        domain_keys[name] = dk

    ks = load("keyset.json")
    body = {k: v for k, v in ks["keyset"].items() if k != "signatures"}
    expect(core.signing_input("pmtp1/keyset", body).hex() == ks["signing_input_hex"], "key set signing input")
    sig = domain_keys["a.example"].sign(core.signing_input("pmtp1/keyset", body))
    expect(core.b64url(sig) == ks["keyset"]["signatures"][0]["sig"], "key set signature")
    verified = core.verify_keyset(ks["keyset"], "a.example", ks["now"], pin=keys["a.example"]["key_id"])
    expect(verified.key_at(keys["a.example"]["key_id"], ks["now"]) is not None, "key set verifies")
    refuses(lambda: core.verify_keyset(ks["keyset"], "b.example", ks["now"]), "key set for another domain")
    refuses(lambda: core.verify_keyset(ks["keyset"], "a.example", ks["now"], pin=keys["b.example"]["key_id"]), "unpinned")
    revoking = core.verify_keyset(ks["revoking_keyset"], "a.example", ks["now"])
    old_id = keys["a.example (old)"]["key_id"]
    expect(revoking.key_at(old_id, ks["now"] - 2 * 86400) is None, "a revoked key verifies nothing")
    expect(revoking.key_at(keys["a.example"]["key_id"], ks["now"]) is not None, "the other key still does")

    msg = load("message.json")
    manifest = msg["manifest"]
    parts = [base64.b64decode(p) for p in msg["parts_base64"]]
    expect(core.canonical(manifest) == msg["manifest_canonical"], "manifest canonical")
    expect(core.manifest_digest(manifest) == msg["manifest_digest"], "manifest digest")
    for p, octets in zip(manifest["parts"], parts):
        expect(core.sha256_b64url(octets) == p["sha256"] and len(octets) == p["length"], "part digest")
    signer_of = {"origin": "a.example", "author": "c.example", "hop": "g.example"}
    built = []
    for s in msg["signatures"]:
        mine = core.sign_message(manifest, s["domain"], domain_keys[signer_of[s["role"]]], s["created"], s["role"])
        if s["role"] == "hop":
            payload = {k: v for k, v in mine.items() if k != "sig"}
            payload["manifest_digest"] = msg["manifest_digest"]
            payload["chain"] = core.sha256_b64url(core.canonical_bytes(built))
            data = core.signing_input("pmtp1/message-signature", payload)
            expect(data.hex() == msg["hop_signing_input_hex"], "hop signing input")
            mine["sig"] = core.b64url(domain_keys["g.example"].sign(data))
        expect(mine == s, f"{s['role']} signature")
        built.append(mine)
    keysets = {
        d: core.KeySet(d, {domain_keys[d].key_id: (domain_keys[d].raw_public, 2**40)}, {})
        for d in ("a.example", "c.example", "g.example")
    }
    results, serving, _ = core.verify_message_signatures(manifest, msg["signatures"], keysets, 1767225600)
    expect(results == ["valid"] * 3 and serving == "g.example", f"message signatures verify {results}")
    tampered = [dict(msg["signatures"][0], created=1767225601)] + msg["signatures"][1:]
    results, _, _ = core.verify_message_signatures(manifest, tampered, keysets, 1767225600)
    expect(results[0] == "invalid" and results[2] == "invalid", "tampered origin breaks itself and the hop")

    full = base64.b64decode(msg["stream_full_base64"])
    text = base64.b64decode(msg["stream_text_base64"])
    # the vector streams carry the origin signature only (§17.3)
    expect(core.build_stream(manifest, msg["signatures"][:1], parts, "full") == full, "full stream bytes")
    m, sigs, got = core.read_stream(full, msg["manifest_digest"])
    expect(got == dict(enumerate(parts)) and sigs == msg["signatures"][:1], "full stream parses")
    m, sigs, got = core.read_stream(text, msg["manifest_digest"])
    expect(core.build_stream(manifest, sigs, parts, "text") == text and list(got) == [0], "text stream")
    refuses(lambda: core.read_stream(full[:-2], msg["manifest_digest"]), "truncated stream")
    refuses(lambda: core.read_stream(full + b"x", msg["manifest_digest"]), "trailing data")
    refuses(lambda: core.read_stream(full, "x" * 43), "wrong notified digest")
    flipped = bytearray(full)
    flipped[-5] ^= 1
    refuses(lambda: core.read_stream(bytes(flipped), msg["manifest_digest"]), "flipped part octet")
    n = msg["notice"]
    expect(n["size"] == sum(len(p) for p in parts) and n["manifest_digest"] == msg["manifest_digest"], "notice")

    rs = load("request-signature.json")
    req, sign, hdr = rs["request"], rs["sign"], rs["headers"]
    body = req["body"].encode()
    values = {
        "@method": req["method"],
        "@target-uri": req["url"],
        "@authority": "mx.b.example",
        "content-digest": core.content_digest(body),
        "pmtp-origin": sign["origin"],
        "pmtp-destination": sign["destination"],
    }
    expect(values["content-digest"] == hdr["content-digest"], "content digest")
    fields = core.sign_message_fields(core.REQUEST_COMPONENTS, values, domain_keys["a.example"], sign["created"],
                                      sign["nonce"], sign["expires"] - sign["created"])
    params = core.signature_params(core.REQUEST_COMPONENTS, sign["created"], sign["expires"], sign["nonce"],
                                   keys["a.example"]["key_id"])
    expect(core.signature_base(core.REQUEST_COMPONENTS, values, params).decode() == rs["signature_base"], "request base")
    expect(fields["Signature-Input"] == hdr["signature-input"], "Signature-Input")
    expect(fields["Signature"] == hdr["signature"], "Signature")
    parsed = core.parse_signature_fields(hdr["signature-input"], hdr["signature"], core.REQUEST_COMPONENTS)
    lookup = lambda origin, kid, t: domain_keys[origin].raw_public if domain_keys[origin].key_id == kid else None
    core.verify_signed_message(parsed, values, core.REQUEST_COMPONENTS, "a.example", "b.example", "b.example", body,
                               sign["created"], lookup)
    expect(True, "request verifies")
    refuses(lambda: core.verify_signed_message(parsed, values, core.REQUEST_COMPONENTS, "a.example", "b.example",
                                               "b.example", body + b" ", sign["created"], lookup), "digest mismatch")
    refuses(lambda: core.verify_signed_message(parsed, values, core.REQUEST_COMPONENTS, "a.example", "b.example",
                                               "c.example", body, sign["created"], lookup), "wrong destination")
    refuses(lambda: core.verify_signed_message(parsed, values, core.REQUEST_COMPONENTS, "a.example", "b.example",
                                               "b.example", body, sign["created"] + 400, lookup), "expired")

    resp, rhdr = rs["response"], rs["response_headers"]
    rbody = resp["body"].encode()
    rvalues = {
        "@status": str(resp["status"]),
        "content-digest": core.content_digest(rbody),
        "pmtp-origin": "b.example",
        "pmtp-destination": "a.example",
        core.RESPONSE_COMPONENTS[-1]: hdr["signature"][len("pmtp="):],
    }
    expect(rvalues["content-digest"] == rhdr["content-digest"], "response content digest")
    rparsed = core.parse_signature_fields(rhdr["signature-input"], rhdr["signature"], core.RESPONSE_COMPONENTS)
    expect(core.signature_base(core.RESPONSE_COMPONENTS, rvalues, rparsed["params"]).decode() == rs["response_signature_base"],
           "response base")
    rsig = core.sign_message_fields(core.RESPONSE_COMPONENTS, rvalues, domain_keys["b.example"], rparsed["created"],
                                    rparsed["nonce"], rparsed["expires"] - rparsed["created"])
    expect(rsig == {"Signature-Input": rhdr["signature-input"], "Signature": rhdr["signature"]}, "response signature")
    rparsed = core.parse_signature_fields(rsig["Signature-Input"], rsig["Signature"], core.RESPONSE_COMPONENTS)
    core.verify_signed_message(rparsed, rvalues, core.RESPONSE_COMPONENTS, "b.example", "a.example", "a.example", rbody,
                               sign["created"], lookup)
    expect(True, "response verifies")
    # §9.1 byte sequences have one spelling: padded standard base64 that re-encodes to itself
    unpadded = hdr["signature"].rstrip(":").rstrip("=") + ":"
    refuses(lambda: core.parse_signature_fields(hdr["signature-input"], unpadded, core.REQUEST_COMPONENTS),
            "unpadded signature byte sequence")

    # §9.1 query encoding, checked on the full exchange's withdraw (a UTF-8 recipient with + and @)
    ex = load("exchange.json")
    wd = ex["withdraw"]["request"]
    path = "/pmtp/v1/notices/ZXhjaGFuZ2UtdmVjdG9yLTE?" + core.query_string(
        [("version", 1), ("reason", "retracted"), ("recipient", "bj\u00f6rn+news@b.example")])
    expect(ex["endpoints"]["b.example"] + path == wd["url"], "withdraw target URI")
    expect(core.form_encode("a b~*") == "a+b%7E*", "form encoding of space, ~ and *")
    wvalues = {
        "@method": wd["method"],
        "@target-uri": ex["endpoints"]["b.example"] + path,
        "@authority": "mx.b.example",
        "content-digest": wd["headers"]["content-digest"],
        "pmtp-origin": "a.example",
        "pmtp-destination": "b.example",
    }
    wparsed = core.parse_signature_fields(wd["headers"]["signature-input"], wd["headers"]["signature"],
                                          core.REQUEST_COMPONENTS)
    expect(core.signature_base(core.REQUEST_COMPONENTS, wvalues, wparsed["params"]).decode() == wd["signature_base"],
           "withdraw signature base")
    core.verify_signed_message(wparsed, wvalues, core.REQUEST_COMPONENTS, "a.example", "b.example", "b.example",
                               wd["body"].encode(), wparsed["created"], lookup)
    expect(True, "withdraw verifies")

    # §19: unknown members are ignored, `crit` and other versions refuse, signed documents need `v`
    expect(core.check_manifest(dict(manifest, later=1)) is not None, "manifest with an unknown member")
    expect(_code(lambda: core.check_manifest(dict(manifest, v=2))) == "version_unsupported", "manifest v 2")
    expect(_code(lambda: core.check_manifest(dict(manifest, later=1, crit=["later"]))) == "critical_member_unknown",
           "manifest crit")
    expect(_code(lambda: core.check_manifest(dict(manifest, crit=["from"]))) == "manifest_invalid", "crit naming a defined member")
    expect(_code(lambda: core.check_manifest({k: v for k, v in manifest.items() if k != "v"})) == "manifest_invalid",
           "manifest without v")
    expect(_code(lambda: core.verify_keyset(dict(ks["keyset"], v=2), "a.example", ks["now"])) == "version_unsupported",
           "key set v 2")

    # §13.5: a delegation proof names one recipient and the delegate's own key, which signs its pulls
    dv = load("delegation.json")
    proof = dv["proof"]
    delegate = core.DomainKey.from_seed(bytes.fromhex(dv["delegate_seed_hex"]))
    expect(delegate.raw_public.hex() == dv["input"]["delegate_key_hex"], "delegate public key")
    expect(core.b64url(delegate.raw_public) == proof["delegate_key"], "delegate_key member")
    expect(delegate.key_id == dv["delegate_key_id"], "delegate key id")
    unsigned = {k: v for k, v in proof.items() if k != "sig"}
    expect(sorted(unsigned) == ["delegate_key", "domain", "endpoint", "expires", "key_id", "recipient", "v"],
           "proof members")
    data = core.signing_input("pmtp1/delegation", unsigned)
    expect(data.hex() == dv["signing_input_hex"], "delegation signing input")
    expect(core.b64url(domain_keys["b.example"].sign(data)) == proof["sig"], "delegation signature")
    pull, phdr = dv["delegate_pull"]["request"], dv["delegate_pull"]["headers"]
    pvalues = {
        "@method": pull["method"],
        "@target-uri": pull["url"],
        "@authority": "mx.a.example",
        "content-digest": core.content_digest(b""),
        "pmtp-origin": "b.example",
        "pmtp-destination": "a.example",
    }
    pparsed = core.parse_signature_fields(phdr["signature-input"], phdr["signature"], core.REQUEST_COMPONENTS)
    expect(core.signature_base(core.REQUEST_COMPONENTS, pvalues, pparsed["params"]).decode()
           == dv["delegate_pull"]["signature_base"], "delegate pull base")
    grant = lambda origin, kid, t: delegate.raw_public if (origin, kid) == ("b.example", delegate.key_id) else None
    core.verify_signed_message(pparsed, pvalues, core.REQUEST_COMPONENTS, "b.example", "a.example", "a.example", b"",
                               dv["now"], grant)
    expect(True, "delegate pull verifies under the grant")
    refuses(lambda: core.verify_signed_message(pparsed, pvalues, core.REQUEST_COMPONENTS, "b.example", "a.example",
                                               "a.example", b"", dv["now"], lookup), "delegate key is no domain key")
    print(f"ok: {checks} checks against {VECTORS}")


if __name__ == "__main__":
    main()

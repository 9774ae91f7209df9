#!/usr/bin/env python3
"""A second, independent verifier for Vouch ledgers, audit bundles, checkpoints and proofs.

Written from the documents in `schemas/` (README.md, record-form.md, decision-record.md,
audit-bundle.md, vectors/README.md) and the transparency brief (RFC 6962 trees, C2SP signed
notes, tlog-checkpoint, tlog-cosignature, tlog-proof), not from vouch's Rust source.

Python 3.11 standard library plus PyNaCl (libsodium's strict Ed25519). BLAKE3 is
implemented here (the standard library has none).

Exit codes: 0 verified, 1 verification failed, 65 bad input or usage.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import struct
import sys
import tomllib

try:
    import nacl.bindings  # PyNaCl
    import nacl.exceptions
except ImportError:  # pragma: no cover - reported by main()
    nacl = None

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 65


class InputError(Exception):
    """The input is not what the command reads (exit 65)."""


class DecodeError(Exception):
    """A record that does not decode (record-form.md)."""


# ---------------------------------------------------------------------------------------
# BLAKE3 (unkeyed, 256-bit output), from the BLAKE3 specification.
# ---------------------------------------------------------------------------------------

_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
       0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
_PERM = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
_CHUNK_START, _CHUNK_END, _PARENT, _ROOT = 1, 2, 4, 8
_M32 = 0xFFFFFFFF
# The message word order of each of the 7 rounds (permutation applied cumulatively).
_SCHEDULE = []
_order = list(range(16))
for _ in range(7):
    _SCHEDULE.append(tuple(_order))
    _order = [_order[p] for p in _PERM]
del _order


def _compress_source():
    """Straight-line source of the compression function (7 rounds of 8 G calls), generated
    once: Python runs it several times faster than the loop form."""
    g = ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
         (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))
    out = ["def _compress(cv, m, counter, block_len, flags):",
           "    s0, s1, s2, s3, s4, s5, s6, s7 = cv",
           "    s8, s9, s10, s11 = 0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A",
           "    s12, s13, s14, s15 = counter & 0xFFFFFFFF, (counter >> 32) & 0xFFFFFFFF, "
           "block_len, flags",
           "    m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 = m"]
    for sched in _SCHEDULE:
        for n, (a, b, c, d) in enumerate(g):
            x, y = sched[2 * n], sched[2 * n + 1]
            a, b, c, d = f"s{a}", f"s{b}", f"s{c}", f"s{d}"
            out += [
                f"    {a} = ({a} + {b} + m{x}) & 0xFFFFFFFF",
                f"    {d} ^= {a}; {d} = (({d} >> 16) | ({d} << 16)) & 0xFFFFFFFF",
                f"    {c} = ({c} + {d}) & 0xFFFFFFFF",
                f"    {b} ^= {c}; {b} = (({b} >> 12) | ({b} << 20)) & 0xFFFFFFFF",
                f"    {a} = ({a} + {b} + m{y}) & 0xFFFFFFFF",
                f"    {d} ^= {a}; {d} = (({d} >> 8) | ({d} << 24)) & 0xFFFFFFFF",
                f"    {c} = ({c} + {d}) & 0xFFFFFFFF",
                f"    {b} ^= {c}; {b} = (({b} >> 7) | ({b} << 25)) & 0xFFFFFFFF",
            ]
    out.append("    return [s0 ^ s8, s1 ^ s9, s2 ^ s10, s3 ^ s11, s4 ^ s12, s5 ^ s13, s6 ^ s14, "
               "s7 ^ s15, s8 ^ cv[0], s9 ^ cv[1], s10 ^ cv[2], s11 ^ cv[3], s12 ^ cv[4], "
               "s13 ^ cv[5], s14 ^ cv[6], s15 ^ cv[7]]")
    return "\n".join(out) + "\n"


exec(compile(_compress_source(), "<blake3 compress>", "exec"))  # defines _compress


def _words(block):
    block = block + bytes(64 - len(block))
    return struct.unpack("<16I", block)


def _chunk(data, counter, root):
    """The chaining value of one chunk (<= 1024 bytes), or the root output if `root`."""
    cv = _IV
    blocks = [data[i:i + 64] for i in range(0, len(data), 64)] or [b""]
    for n, block in enumerate(blocks):
        flags = 0
        if n == 0:
            flags |= _CHUNK_START
        if n == len(blocks) - 1:
            flags |= _CHUNK_END
            if root:
                flags |= _ROOT
        cv = _compress(cv, _words(block), counter, len(block), flags)[:8]
    return cv


def _subtree(data, counter, root):
    if len(data) <= 1024:
        return _chunk(data, counter, root)
    chunks = (len(data) + 1023) // 1024
    left = 1
    while left * 2 < chunks:
        left *= 2
    split = left * 1024
    lcv = _subtree(data[:split], counter, False)
    rcv = _subtree(data[split:], counter + left, False)
    return _compress(_IV, tuple(lcv) + tuple(rcv), 0, 64, _PARENT | (_ROOT if root else 0))[:8]


_BLAKE3_CACHE: dict[bytes, bytes] = {}


def blake3(data: bytes) -> bytes:
    data = bytes(data)
    hit = _BLAKE3_CACHE.get(data)
    if hit is not None:
        return hit
    out = struct.pack("<8I", *_subtree(data, 0, True))
    if len(_BLAKE3_CACHE) > 200000:
        _BLAKE3_CACHE.clear()
    _BLAKE3_CACHE[data] = out
    return out


# ---------------------------------------------------------------------------------------
# Ed25519 as vouch verifies it (record-form.md, "Ed25519: what vouch refuses").
# ---------------------------------------------------------------------------------------

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decompress(b: bytes):
    """The point of a 32-byte encoding (y taken mod p, as vouch does), or None."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    y %= _P
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    if x2 == 0:
        if sign:
            # x = 0 with the sign bit set: -0 = 0 (these points are of small order anyway)
            return (0, y, 1, 0)
        return (0, y, 1, 0)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(k, p):
    q = (0, 1, 1, 0)
    while k:
        if k & 1:
            q = _add(q, p)
        p = _add(p, p)
        k >>= 1
    return q


def _encode(p):
    x, y, z, _ = p
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _is_small_order(p):
    return _encode(_mul(8, p)) == _encode((0, 1, 1, 0))


_BY = 4 * pow(5, _P - 2, _P) % _P
_B = _decompress(_BY.to_bytes(32, "little"))


def _verify_python(key: bytes, msg: bytes, sig: bytes) -> bool:
    a = _decompress(key)
    if a is None or _is_small_order(a):
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _L:
        return False
    r = _decompress(sig[:32])
    if r is None or _is_small_order(r):
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + key + msg).digest(), "little") % _L
    neg_a = (_P - a[0], a[1], a[2], _P - a[3])
    check = _add(_mul(s, _B), _mul(k, neg_a))
    return _encode(check) == sig[:32]


_SIG_CACHE: dict[tuple, bool] = {}


def ed25519_verify(key: bytes, msg: bytes, sig: bytes) -> bool:
    """vouch's verdict (verify_strict) on one signature."""
    if len(key) != 32 or len(sig) != 64:
        return False
    ck = (key, msg, sig)
    hit = _SIG_CACHE.get(ck)
    if hit is not None:
        return hit
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= _P:
        # libsodium refuses a non-canonical key encoding that vouch accepts when the point
        # is not of small order: decide these in Python.
        ok = _verify_python(key, msg, sig)
    else:
        try:
            nacl.bindings.crypto_sign_open(sig + msg, key)
            ok = True
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            ok = False
        except Exception:  # noqa: BLE001 - any other refusal by the library
            ok = False
    if len(_SIG_CACHE) > 200000:
        _SIG_CACHE.clear()
    _SIG_CACHE[ck] = ok
    return ok


# ---------------------------------------------------------------------------------------
# bincode 2.0.1 standard configuration (record-form.md)
# ---------------------------------------------------------------------------------------


class Reader:
    def __init__(self, data: bytes, at: int = 0):
        self.data = data
        self.at = at

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise DecodeError("unexpected end of bytes")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def varint(self, limit_marker: int = 0xFD) -> int:
        b = self.u8()
        if b < 251:
            return b
        if b == 0xFB:
            return int.from_bytes(self.take(2), "little")
        if b == 0xFC:
            return int.from_bytes(self.take(4), "little")
        if b == 0xFD and limit_marker >= 0xFD:
            return int.from_bytes(self.take(8), "little")
        raise DecodeError(f"varint marker {b:#x} does not decode here")

    def u64(self) -> int:
        return self.varint()

    def u32(self) -> int:
        return self.varint(0xFC)

    def i64(self) -> int:
        z = self.u64()
        return (z >> 1) ^ -(z & 1)

    def boolean(self) -> bool:
        b = self.u8()
        if b > 1:
            raise DecodeError("bool byte is neither 00 nor 01")
        return b == 1

    def f64(self) -> float:
        return struct.unpack("<d", self.take(8))[0]

    def string(self) -> str:
        n = self.u64()
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError("invalid UTF-8") from e

    def option(self, inner):
        b = self.u8()
        if b == 0:
            return None
        if b == 1:
            return inner()
        raise DecodeError("option byte is neither 00 nor 01")

    def seq(self, inner):
        n = self.u64()
        out = []
        for _ in range(n):
            out.append(inner())
        return out

    def map(self, key, value):
        n = self.u64()
        out = {}
        for _ in range(n):
            k = key()
            out[k] = value()
        return out

    def digest(self) -> bytes:
        return self.take(32)

    def enum(self, names):
        i = self.u32()
        if i >= len(names):
            raise DecodeError(f"enum variant {i} out of range")
        return names[i]


# ---------------------------------------------------------------------------------------
# Validation rules (README.md "Envelope", "Kinds", "Files"; record-form.md)
# ---------------------------------------------------------------------------------------

_RUN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
_NAME_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,250}\Z")
_ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,255}\Z")
_HEX_RE = re.compile(r"[0-9a-fA-F]+\Z")


def _ctl(ch: str) -> bool:
    o = ord(ch)
    return o <= 0x1F or 0x7F <= o <= 0x9F


def _no_ctl(s: str) -> bool:
    return not any(_ctl(c) for c in s)


def _no_ctl_text(s: str) -> bool:
    return not any(_ctl(c) and c not in "\n\t\r" for c in s)


def _need(cond: bool, what: str):
    if not cond:
        raise DecodeError(what)


def check_event_id(s):
    _need(1 <= len(s.encode()) <= 256 and all(0x21 <= ord(c) <= 0x7E for c in s),
          "event id: 1..=256 bytes of printable ASCII without space")


def check_producer(s):
    _need(1 <= len(s.encode()) <= 256 and all(0x20 <= ord(c) <= 0x7E for c in s),
          "producer: 1..=256 bytes of printable ASCII or space")


def check_run(s):
    _need(bool(_RUN_RE.match(s)), f"run/model id {s!r} is not valid")


def check_experiment(s):
    _need(1 <= len(s) <= 200 and _no_ctl(s), "experiment: 1..=200 characters, no control")


def check_name(s):
    _need(bool(_NAME_RE.match(s)), f"name {s!r} is not valid")


def check_segment(s):
    _need(len(s) > 0, "empty segment")
    for pair in s.split(","):
        _need(pair.count("=") == 1, f"segment pair {pair!r}")
        dim, value = pair.split("=")
        check_name(dim)
        _need(1 <= len(value) <= 100 and _no_ctl(value), f"segment value {value!r}")


def check_text(s, lo, hi, what, ctl=_no_ctl):
    _need(lo <= len(s) <= hi and ctl(s), f"{what}: {lo}..={hi} characters without control")


def check_tags(tags):
    for k, v in tags.items():
        check_text(k, 1, 250, "tag key")
        check_text(v, 0, 100000, "tag value", _no_ctl_text)


def check_model_id(s):
    _need(1 <= len(s) <= 128 and all(0x21 <= ord(c) <= 0x7E and c not in "/@" for c in s),
          "model id: 1..=128 printable ASCII without / or @")


def check_alias(s):
    _need(bool(_ALIAS_RE.match(s)), "alias characters")
    low = s.lower()
    _need(low != "latest" and not re.fullmatch(r"v[0-9]+", low), "alias names a version")


def _finite(x):
    return x == x and x not in (float("inf"), float("-inf"))


KINDS = ["run_started", "params_logged", "metrics_logged", "artifact_logged", "dataset_bound",
         "run_finished", "policy_published", "decision_recorded", "review_recorded",
         "deployment_recorded", "live_metrics_observed", "deployment_signed",
         "experiment_created", "tags_set", "run_updated", "metric_points", "inputs_logged",
         "logged_model_created", "logged_model_updated", "model_registered",
         "model_version_created", "alias_moved", "decision_recorded", "artifact_logged"]
# Body variant 22 is a decision of layout 2 (kind decision_recorded, with a log pin);
# variant 23 an artifact_logged with a sha256 (variant 3's fields, then 32 raw bytes).
SUBJECTS = ["run", "model", "experiment"]
KIND_SUBJECT = {
    "run_started": "run", "params_logged": "run", "metrics_logged": "run",
    "artifact_logged": "run", "dataset_bound": "run", "run_finished": "run",
    "policy_published": "model", "decision_recorded": "model", "review_recorded": "model",
    "deployment_recorded": "model", "live_metrics_observed": "model",
    "deployment_signed": "model", "experiment_created": "experiment", "tags_set": None,
    "run_updated": "run", "metric_points": "run", "inputs_logged": "run",
    "logged_model_created": "run", "logged_model_updated": "run", "model_registered": "model",
    "model_version_created": "model", "alias_moved": "model",
}
RELEASE_KINDS = {"policy_published", "decision_recorded", "review_recorded",
                 "deployment_signed", "deployment_recorded"}


def _decode_body(r: Reader, idx: int) -> dict:
    s, o, d = r.string, r.option, r.digest
    if idx == 0:
        b = {"experiment": s(), "name": o(s),
             "git": o(lambda: {"commit": s(), "dirty": r.boolean()}),
             "env": o(lambda: {"os": s(), "cpu": s(), "host": s(), "tools": r.map(s, s)})}
    elif idx == 1:
        b = {"params": r.map(s, s)}
    elif idx == 2:
        b = {"metrics": r.map(s, r.f64), "step": o(r.u64), "segment": o(s)}
    elif idx in (3, 23):
        b = {"name": s(), "digest": d(), "size": r.u64(), "uri": s(),
             "sha256": d() if idx == 23 else None}
    elif idx == 4:
        b = {"role": r.enum(["train", "validation", "test"]), "name": s(), "digest": d(),
             "rows": r.u64(), "snapshot_at": o(r.i64), "labels_through": o(r.i64),
             "uri": o(s)}
    elif idx == 5:
        b = {"status": r.enum(["ok", "failed", "killed"])}
    elif idx == 6:
        b = {"version": s(), "digest": d(), "text": s()}
    elif idx in (7, 22):
        b = {"index": r.u64(), "prev": o(d), "run": s(), "baseline": o(s),
             "artifacts": r.seq(d), "policy": d(), "policy_version": s(),
             "policy_position": r.u64(), "evaluated_at": r.u64(), "evidence": r.seq(r.u64),
             "evidence_digest": d(),
             "gates": r.seq(lambda: {"gate": s(), "metric": o(s), "candidate": o(r.f64),
                                     "baseline": o(r.f64), "threshold": s(),
                                     "verdict": r.enum(["pass", "fail", "review"]),
                                     "reason": s()}),
             "outcome": r.enum(["promoted", "rejected", "needs_review"]),
             "review": o(lambda: {"decision": d(), "review": d(), "review_position": r.u64()}),
             "decided_at": r.i64(), "signer": r.take(32), "signature": r.take(64)}
        if idx == 22:
            b["pin"] = (r.u64(), r.take(32))
        else:
            b["pin"] = None
    elif idx == 8:
        b = {"decision": d(), "verdict": r.enum(["approve", "reject"]), "reviewer": s(),
             "reason": s(), "reviewed_at": r.i64(), "signer": r.take(32),
             "signature": r.take(64)}
    elif idx == 9:
        b = {"env": s(), "artifact": d(), "decision": o(d), "forced": r.boolean(),
             "reason": o(s)}
    elif idx == 10:
        b = {"env": s(), "artifact": d(), "metrics": r.map(s, r.f64), "segment": o(s),
             "window_start": r.i64(), "window_end": r.i64(), "labels_through": r.i64(),
             "count": o(r.u64)}
    elif idx == 11:
        b = {"env": s(), "artifact": d(), "decision": o(d), "forced": r.boolean(),
             "reason": o(s), "deployed_at": r.i64(), "signer": r.take(32),
             "signature": r.take(64)}
    elif idx == 12:
        b = {"tags": r.map(s, s)}
    elif idx == 13:
        b = {"set": r.map(s, s), "deleted": r.seq(s), "version": o(r.u64)}
    elif idx == 14:
        b = {"name": o(s), "lifecycle": o(lambda: r.enum(["active", "deleted"])),
             "reopened": r.boolean()}
    elif idx == 15:
        b = {"points": r.seq(lambda: {
            "key": s(), "value": r.f64(), "step": r.u64(), "time": r.i64(),
            "dataset": o(lambda: {"name": s(), "digest": s()}), "model_id": o(s)})}
    elif idx == 16:
        b = {"datasets": r.seq(lambda: {
            "name": s(), "digest": s(), "source_type": o(s), "source": o(s), "schema": o(s),
            "profile": o(s), "tags": r.map(s, s)}), "models": r.seq(s)}
    elif idx == 17:
        b = {"model_id": s(), "name": s(), "model_type": o(s), "params": r.map(s, s),
             "tags": r.map(s, s)}
    elif idx == 18:
        b = {"model_id": s(),
             "status": o(lambda: r.enum(["pending", "ready", "upload_failed"])),
             "params": r.map(s, s), "tags": r.map(s, s), "output_step": o(r.u64)}
    elif idx == 19:
        b = {"description": o(s), "tags": r.map(s, s)}
    elif idx == 20:
        b = {"version": r.u64(), "source": s(), "run": o(s), "model_id": o(s),
             "description": o(s), "tags": r.map(s, s)}
    elif idx == 21:
        b = {"alias": s(), "version": o(r.u64), "decision": o(d)}
    else:
        raise DecodeError(f"body variant {idx} is not a kind")
    return b


def check_event(ev: dict):
    """The rules checked after decoding (record-form.md), for both forms."""
    check_event_id(ev["id"])
    check_producer(ev["producer"])
    sv, subj = ev["subject"]
    if sv == "experiment":
        check_experiment(subj)
    else:
        check_run(subj)
    kind, b = ev["kind"], ev["body"]
    want = KIND_SUBJECT[kind]
    _need(want is None or want == sv, f"{kind} does not concern a {sv}")
    if kind == "run_started":
        check_text(b["experiment"], 1, 200, "experiment")
        if b["name"] is not None:
            check_text(b["name"], 1, 200, "name")
        if b["git"] is not None:
            c = b["git"]["commit"]
            _need(7 <= len(c) <= 64 and bool(_HEX_RE.match(c)), "git commit")
        if b["env"] is not None:
            e = b["env"]
            check_text(e["os"], 1, 200, "os")
            check_text(e["cpu"], 1, 200, "cpu")
            check_text(e["host"], 1, 256, "host")
            for k, v in e["tools"].items():
                check_text(k, 1, 200, "tool")
                check_text(v, 1, 200, "tool version")
    elif kind == "params_logged":
        _need(len(b["params"]) > 0, "no params")
        for k in b["params"]:
            check_name(k)
    elif kind in ("metrics_logged", "live_metrics_observed"):
        _need(len(b["metrics"]) > 0, "no metrics")
        for k, v in b["metrics"].items():
            check_name(k)
            _need(_finite(v), "metric value not finite")
        if b["segment"] is not None:
            check_segment(b["segment"])
        if kind == "live_metrics_observed":
            check_text(b["env"], 1, 64, "env")
            _need(b["window_start"] <= b["window_end"], "window starts after it ends")
    elif kind == "artifact_logged":
        check_text(b["name"], 1, 250, "name")
        check_text(b["uri"], 1, 2048, "uri")
    elif kind == "dataset_bound":
        check_text(b["name"], 1, 250, "name")
        if b["uri"] is not None:
            check_text(b["uri"], 1, 2048, "uri")
    elif kind == "policy_published":
        check_text(b["version"], 1, 64, "policy version")
        _need(len(b["text"].encode()) <= 262144, "policy text over 262144 bytes")
        _need(b["digest"] == blake3(b["text"].encode()), "policy digest")
    elif kind == "decision_recorded":
        check_text(b["policy_version"], 1, 64, "policy version")
        _need((b["prev"] is not None) == (b["index"] > 0), "prev present exactly when index > 0")
        ev_ = b["evidence"]
        _need(all(ev_[i] < ev_[i + 1] for i in range(len(ev_) - 1)), "evidence not ascending")
        for g in b["gates"]:
            check_text(g["gate"], 1, 200, "gate name")
            for f in ("candidate", "baseline"):
                _need(g[f] is None or _finite(g[f]), "gate value not finite")
    elif kind == "review_recorded":
        check_text(b["reviewer"], 1, 200, "reviewer")
        check_text(b["reason"], 1, 4096, "reason")
    elif kind in ("deployment_recorded", "deployment_signed"):
        check_text(b["env"], 1, 64, "env")
        if b["forced"]:
            _need(b["reason"] is not None and len(b["reason"]) > 0, "forced without a reason")
        if kind == "deployment_signed" and b["reason"] is not None:
            check_text(b["reason"], 1, 4096, "reason")
    elif kind == "experiment_created":
        check_tags(b["tags"])
    elif kind == "tags_set":
        check_tags(b["set"])
        for k in b["deleted"]:
            check_text(k, 1, 250, "deleted tag key")
        _need(len(b["set"]) + len(b["deleted"]) > 0, "nothing set or deleted")
        _need(not (set(b["set"]) & set(b["deleted"])), "a key both set and deleted")
        if b["version"] is not None:
            _need(sv == "model", "tags_set.version without a model")
            _need(b["version"] >= 1, "version 0")
    elif kind == "run_updated":
        if b["name"] is not None:
            check_text(b["name"], 1, 250, "name")
        _need(b["name"] is not None or b["lifecycle"] is not None or b["reopened"],
              "run_updated changes nothing")
    elif kind == "metric_points":
        _need(len(b["points"]) > 0, "no points")
        for p in b["points"]:
            check_name(p["key"])
            if p["dataset"] is not None:
                check_text(p["dataset"]["name"], 1, 500, "dataset name")
                check_text(p["dataset"]["digest"], 1, 64, "dataset digest")
            if p["model_id"] is not None:
                check_model_id(p["model_id"])
    elif kind == "inputs_logged":
        _need(len(b["datasets"]) + len(b["models"]) > 0, "no inputs")
        for ds in b["datasets"]:
            check_text(ds["name"], 1, 500, "dataset name")
            check_text(ds["digest"], 1, 64, "dataset digest")
            for f in ("source_type", "source", "schema", "profile"):
                if ds[f] is not None:
                    check_text(ds[f], 0, 100000, f, _no_ctl_text)
            check_tags(ds["tags"])
        for m in b["models"]:
            check_model_id(m)
    elif kind == "logged_model_created":
        check_model_id(b["model_id"])
        check_text(b["name"], 1, 250, "name")
        if b["model_type"] is not None:
            check_text(b["model_type"], 1, 250, "model type")
        check_tags(b["params"])
        check_tags(b["tags"])
    elif kind == "logged_model_updated":
        check_model_id(b["model_id"])
        check_tags(b["params"])
        check_tags(b["tags"])
        _need(b["status"] is not None or b["params"] or b["tags"] or
              b["output_step"] is not None, "logged_model_updated changes nothing")
    elif kind == "model_registered":
        if b["description"] is not None:
            check_text(b["description"], 0, 100000, "description", _no_ctl_text)
        check_tags(b["tags"])
    elif kind == "model_version_created":
        _need(b["version"] >= 1, "version 0")
        check_text(b["source"], 1, 2048, "source")
        if b["run"] is not None:
            check_run(b["run"])
        if b["model_id"] is not None:
            check_model_id(b["model_id"])
        if b["description"] is not None:
            check_text(b["description"], 0, 100000, "description", _no_ctl_text)
        check_tags(b["tags"])
    elif kind == "alias_moved":
        check_alias(b["alias"])
        if b["version"] is not None:
            _need(b["version"] >= 1, "version 0")
        else:
            _need(b["decision"] is None, "decision without version")


_DECODE_CACHE: dict[bytes, object] = {}


def decode_record(data: bytes) -> dict:
    """Decodes one log record (binary or JSON form) and checks its rules. The result is
    shared through a cache: never mutate it."""
    data = bytes(data)
    hit = _DECODE_CACHE.get(data)
    if hit is not None:
        if isinstance(hit, DecodeError):
            raise hit
        return hit
    try:
        ev = _decode_record(data)
    except DecodeError as e:
        out = e
    except (RecursionError, ValueError, OverflowError, KeyError, TypeError) as e:
        out = DecodeError(f"does not decode: {e}")
    else:
        out = ev
    if len(_DECODE_CACHE) > 100000:
        _DECODE_CACHE.clear()
    _DECODE_CACHE[data] = out
    if isinstance(out, DecodeError):
        raise out
    return out


def _decode_record(data: bytes) -> dict:
    if not data:
        raise DecodeError("an empty record")
    if data[0] == 0x01:
        r = Reader(data, 1)
        ev = {"id": r.string(), "time": r.i64(), "producer": r.string()}
        sv = r.enum(SUBJECTS)
        ev["subject"] = (sv, r.string())
        idx = r.u32()
        ev["kind_index"] = idx
        if idx >= len(KINDS):
            raise DecodeError(f"body variant {idx} is not a kind")
        ev["kind"] = KINDS[idx]
        ev["body"] = _decode_body(r, idx)
        if r.at != len(data):
            raise DecodeError("bytes left over after the event")
        ev["form"] = "binary"
        check_event(ev)
        return ev
    if data[0] in b"{ \t\n\r":
        ev = decode_json_event(data)
        ev["form"] = "json"
        return ev
    raise DecodeError("first byte is neither 0x01 nor JSON")


def log_key(ev: dict) -> str:
    if ev["kind"] == "decision_recorded":
        return "chain"
    sv, val = ev["subject"]
    if sv == "run":
        return "run." + val
    if sv == "model":
        return "model." + val
    return "experiment." + blake3(val.encode()).hex()[:32]


# ---------------------------------------------------------------------------------------
# The JSON wire form (README.md)
# ---------------------------------------------------------------------------------------

_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time(s) -> int:
    """RFC 3339 text to nanoseconds since the epoch, UTC."""
    if not isinstance(s, str):
        raise DecodeError("time is not a string")
    m = _TIME_RE.match(s)
    if not m:
        raise DecodeError(f"time {s!r} is not RFC 3339")
    y, mo, d, hh, mi, ss = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    if frac and len(frac) - 1 > 9:
        raise DecodeError("more than nanosecond precision")
    mdays = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30,
             31, 31, 30, 31, 30, 31]
    _need(1 <= mo <= 12 and 1 <= d <= mdays[mo - 1] and hh <= 23 and mi <= 59 and ss <= 59,
          f"time {s!r} does not exist")
    _need(1678 <= y <= 2261, "year out of range")
    ns = int((frac[1:] + "000000000")[:9]) if frac else 0
    off = 0
    if m.group(8) != "Z":
        oh, om = int(m.group(8)[1:3]), int(m.group(8)[4:6])
        _need(oh <= 23 and om <= 59, "offset out of range")
        off = (oh * 3600 + om * 60) * (1 if m.group(8)[0] == "+" else -1)
    secs = _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off
    t = secs * 10 ** 9 + ns
    _need(-(2 ** 63) <= t < 2 ** 63, "time out of range")
    return t


def _obj(v, allowed, required=(), what="object"):
    _need(isinstance(v, dict), f"{what} is not an object")
    for k in v:
        _need(k in allowed, f"unknown field {k!r} in {what}")
    for k in required:
        _need(k in v, f"missing field {k!r} in {what}")
    return v


def _str(v, what="string"):
    _need(isinstance(v, str), f"{what} is not a string")
    return v


def _int(v, what="integer", lo=0):
    _need(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= 2 ** 64 - 1,
          f"{what} is not an integer in range")
    return v


def _num(v, what="number"):
    _need(isinstance(v, (int, float)) and not isinstance(v, bool), f"{what} is not a number")
    return float(v)


def _any_num(v):
    if isinstance(v, str):
        _need(v in ("NaN", "Infinity", "-Infinity"), "not a number")
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[v]
    return _num(v)


def _digest(v):
    _str(v, "digest")
    _need(bool(re.fullmatch(r"blake3:[0-9a-f]{64}", v)), f"digest {v!r}")
    return bytes.fromhex(v[7:])


def _strmap(v, what="map"):
    _need(isinstance(v, dict), f"{what} is not an object")
    for k, x in v.items():
        _str(x, what)
    return dict(v)


def _opt(v, k, f):
    return f(v[k]) if k in v else None


def _bool(v):
    _need(isinstance(v, bool), "not a bool")
    return v


def _no_dup_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DecodeError(f"duplicate field {k!r}")
        out[k] = v
    return out


def _bad_constant(c):
    raise DecodeError(f"{c} is not JSON")


def strict_json(text):
    return json.loads(text, object_pairs_hook=_no_dup_pairs, parse_constant=_bad_constant)


def decode_json_event(data: bytes) -> dict:
    _need(len(data) <= 1048576, "a JSON event over 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError("not UTF-8") from e
    try:
        v = strict_json(text)
    except json.JSONDecodeError as e:
        raise DecodeError(f"bad JSON: {e}") from e
    _obj(v, {"id", "kind", "schema", "time", "producer", "run", "model", "experiment", "data"},
         ("id", "kind", "schema", "time", "producer", "data"), "event")
    kind = _str(v["kind"], "kind")
    _need(kind in KIND_SUBJECT, f"unknown kind {kind!r}")
    _need(kind not in RELEASE_KINDS, "release kinds have no JSON form")
    _need(_int(v["schema"], "schema") == 1, "schema is not 1")
    subjects = [k for k in ("run", "model", "experiment") if k in v]
    _need(len(subjects) == 1, "exactly one of run, model, experiment")
    sv = subjects[0]
    ev = {"id": _str(v["id"]), "time": parse_time(v["time"]), "producer": _str(v["producer"]),
          "subject": (sv, _str(v[sv])), "kind": kind,
          "kind_index": KINDS.index(kind)}
    ev["body"] = _json_body(kind, v["data"])
    if kind == "artifact_logged" and ev["body"]["sha256"] is not None:
        ev["kind_index"] = 23
    check_event(ev)
    return ev


def _json_body(kind, d):
    o = _opt
    if kind == "run_started":
        _obj(d, {"experiment", "name", "git", "env"}, ("experiment",), "data")

        def git(g):
            _obj(g, {"commit", "dirty"}, ("commit", "dirty"), "git")
            return {"commit": _str(g["commit"]), "dirty": _bool(g["dirty"])}

        def env(e):
            _obj(e, {"os", "cpu", "host", "tools"}, ("os", "cpu", "host", "tools"), "env")
            return {"os": _str(e["os"]), "cpu": _str(e["cpu"]), "host": _str(e["host"]),
                    "tools": _strmap(e["tools"])}
        return {"experiment": _str(d["experiment"]), "name": o(d, "name", _str),
                "git": o(d, "git", git), "env": o(d, "env", env)}
    if kind == "params_logged":
        _obj(d, {"params"}, ("params",), "data")
        return {"params": _strmap(d["params"])}
    if kind == "metrics_logged":
        _obj(d, {"metrics", "step", "segment"}, ("metrics",), "data")
        _need(isinstance(d["metrics"], dict), "metrics")
        return {"metrics": {k: _num(x) for k, x in d["metrics"].items()},
                "step": o(d, "step", _int), "segment": o(d, "segment", _str)}
    if kind == "artifact_logged":
        _obj(d, {"name", "digest", "size", "uri", "sha256"}, ("name", "digest", "size", "uri"),
             "data")

        def sha(x):
            _need(isinstance(x, str) and bool(re.fullmatch(r"sha256:[0-9a-f]{64}", x)),
                  "sha256 is sha256:<64 lowercase hex>")
            return bytes.fromhex(x[7:])
        return {"name": _str(d["name"]), "digest": _digest(d["digest"]),
                "size": _int(d["size"]), "uri": _str(d["uri"]), "sha256": _opt(d, "sha256", sha)}
    if kind == "dataset_bound":
        _obj(d, {"role", "name", "digest", "rows", "snapshot_at", "labels_through", "uri"},
             ("role", "name", "digest", "rows"), "data")
        _need(d["role"] in ("train", "validation", "test"), "role")
        return {"role": d["role"], "name": _str(d["name"]), "digest": _digest(d["digest"]),
                "rows": _int(d["rows"]), "snapshot_at": o(d, "snapshot_at", parse_time),
                "labels_through": o(d, "labels_through", parse_time),
                "uri": o(d, "uri", _str)}
    if kind == "run_finished":
        _obj(d, {"status"}, ("status",), "data")
        _need(d["status"] in ("ok", "failed", "killed"), "status")
        return {"status": d["status"]}
    if kind == "live_metrics_observed":
        _obj(d, {"env", "artifact", "metrics", "segment", "window_start", "window_end",
                 "labels_through", "count"},
             ("env", "artifact", "metrics", "window_start", "window_end", "labels_through"),
             "data")
        _need(isinstance(d["metrics"], dict), "metrics")
        return {"env": _str(d["env"]), "artifact": _digest(d["artifact"]),
                "metrics": {k: _num(x) for k, x in d["metrics"].items()},
                "segment": o(d, "segment", _str), "window_start": parse_time(d["window_start"]),
                "window_end": parse_time(d["window_end"]),
                "labels_through": parse_time(d["labels_through"]),
                "count": o(d, "count", _int)}
    if kind == "experiment_created":
        _obj(d, {"tags"}, (), "data")
        return {"tags": _strmap(d.get("tags", {}))}
    if kind == "tags_set":
        _obj(d, {"set", "deleted", "version"}, (), "data")
        dl = d.get("deleted", [])
        _need(isinstance(dl, list), "deleted")
        return {"set": _strmap(d.get("set", {})), "deleted": [_str(x) for x in dl],
                "version": o(d, "version", _int)}
    if kind == "run_updated":
        _obj(d, {"name", "lifecycle", "reopened"}, (), "data")
        if "lifecycle" in d:
            _need(d["lifecycle"] in ("active", "deleted"), "lifecycle")
        return {"name": o(d, "name", _str), "lifecycle": d.get("lifecycle"),
                "reopened": _bool(d.get("reopened", False))}
    if kind == "metric_points":
        _obj(d, {"points"}, ("points",), "data")
        _need(isinstance(d["points"], list), "points")

        def ds(x):
            _obj(x, {"name", "digest"}, ("name", "digest"), "dataset")
            return {"name": _str(x["name"]), "digest": _str(x["digest"])}

        def pt(p):
            _obj(p, {"key", "value", "step", "time", "dataset", "model_id"},
                 ("key", "value", "step", "time"), "point")
            return {"key": _str(p["key"]), "value": _any_num(p["value"]),
                    "step": _int(p["step"]), "time": parse_time(p["time"]),
                    "dataset": o(p, "dataset", ds), "model_id": o(p, "model_id", _str)}
        return {"points": [pt(p) for p in d["points"]]}
    if kind == "inputs_logged":
        _obj(d, {"datasets", "models"}, (), "data")

        def dsi(x):
            _obj(x, {"name", "digest", "source_type", "source", "schema", "profile", "tags"},
                 ("name", "digest"), "dataset")
            return {"name": _str(x["name"]), "digest": _str(x["digest"]),
                    "source_type": o(x, "source_type", _str), "source": o(x, "source", _str),
                    "schema": o(x, "schema", _str), "profile": o(x, "profile", _str),
                    "tags": _strmap(x.get("tags", {}))}
        dss, ms = d.get("datasets", []), d.get("models", [])
        _need(isinstance(dss, list) and isinstance(ms, list), "datasets/models")
        return {"datasets": [dsi(x) for x in dss], "models": [_str(m) for m in ms]}
    if kind == "logged_model_created":
        _obj(d, {"model_id", "name", "model_type", "params", "tags"}, ("model_id", "name"),
             "data")
        return {"model_id": _str(d["model_id"]), "name": _str(d["name"]),
                "model_type": o(d, "model_type", _str), "params": _strmap(d.get("params", {})),
                "tags": _strmap(d.get("tags", {}))}
    if kind == "logged_model_updated":
        _obj(d, {"model_id", "status", "params", "tags", "output_step"}, ("model_id",), "data")
        if "status" in d:
            _need(d["status"] in ("pending", "ready", "upload_failed"), "status")
        return {"model_id": _str(d["model_id"]), "status": d.get("status"),
                "params": _strmap(d.get("params", {})), "tags": _strmap(d.get("tags", {})),
                "output_step": o(d, "output_step", _int)}
    if kind == "model_registered":
        _obj(d, {"description", "tags"}, (), "data")
        return {"description": o(d, "description", _str), "tags": _strmap(d.get("tags", {}))}
    if kind == "model_version_created":
        _obj(d, {"version", "source", "run", "model_id", "description", "tags"},
             ("version", "source"), "data")
        return {"version": _int(d["version"]), "source": _str(d["source"]),
                "run": o(d, "run", _str), "model_id": o(d, "model_id", _str),
                "description": o(d, "description", _str), "tags": _strmap(d.get("tags", {}))}
    if kind == "alias_moved":
        _obj(d, {"alias", "version", "decision"}, ("alias",), "data")
        return {"alias": _str(d["alias"]), "version": o(d, "version", _int),
                "decision": o(d, "decision", _digest)}
    raise DecodeError(f"kind {kind} has no JSON form")


# ---------------------------------------------------------------------------------------
# Canonical bytes, hashes and signatures (decision-record.md)
# ---------------------------------------------------------------------------------------


def _be_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">I", len(b)) + b


def _be_opt(v, f) -> bytes:
    return b"\x00" if v is None else b"\x01" + f(v)


_OUTCOME = {"promoted": 0, "rejected": 1, "needs_review": 2}
_VERDICT = {"pass": 0, "fail": 1, "review": 2}


def canonical_decision(model: str, b: dict) -> bytes:
    out = [b"VOUCHDR2" if b["pin"] is not None else b"VOUCHDR1",
           struct.pack(">Q", b["index"]), _be_opt(b["prev"], bytes), _be_str(model),
           _be_str(b["run"]), _be_opt(b["baseline"], _be_str),
           struct.pack(">I", len(b["artifacts"])), *b["artifacts"], b["policy"],
           _be_str(b["policy_version"]), struct.pack(">QQ", b["policy_position"],
                                                     b["evaluated_at"]),
           struct.pack(">I", len(b["evidence"])),
           *[struct.pack(">Q", p) for p in b["evidence"]], b["evidence_digest"],
           struct.pack(">I", len(b["gates"]))]
    for g in b["gates"]:
        out += [_be_str(g["gate"]), _be_opt(g["metric"], _be_str),
                _be_opt(g["candidate"], lambda x: struct.pack(">d", x)),
                _be_opt(g["baseline"], lambda x: struct.pack(">d", x)),
                _be_str(g["threshold"]), bytes([_VERDICT[g["verdict"]]]), _be_str(g["reason"])]
    out.append(bytes([_OUTCOME[b["outcome"]]]))
    out.append(_be_opt(b["review"], lambda r: r["decision"] + r["review"] +
                       struct.pack(">Q", r["review_position"])))
    out.append(struct.pack(">q", b["decided_at"]))
    out.append(b["signer"])
    if b["pin"] is not None:
        out.append(struct.pack(">Q", b["pin"][0]) + b["pin"][1])
    return b"".join(out)


def canonical_review(model: str, b: dict) -> bytes:
    return b"".join([b"VOUCHRV1", _be_str(model), b["decision"],
                     bytes([0 if b["verdict"] == "approve" else 1]), _be_str(b["reviewer"]),
                     _be_str(b["reason"]), struct.pack(">q", b["reviewed_at"]), b["signer"]])


def canonical_deployment(model: str, b: dict) -> bytes:
    return b"".join([b"VOUCHDP1", _be_str(model), _be_str(b["env"]), b["artifact"],
                     _be_opt(b["decision"], bytes), bytes([1 if b["forced"] else 0]),
                     _be_opt(b["reason"], _be_str), struct.pack(">q", b["deployed_at"]),
                     b["signer"]])


def canonical(ev: dict) -> bytes:
    model = ev["subject"][1]
    k = ev["kind"]
    if k == "decision_recorded":
        return canonical_decision(model, ev["body"])
    if k == "review_recorded":
        return canonical_review(model, ev["body"])
    if k == "deployment_signed":
        return canonical_deployment(model, ev["body"])
    raise ValueError(f"{k} is not signed")


def record_hash(ev: dict) -> bytes:
    # Memoised on the (cached, otherwise immutable) decoded event.
    h = ev.get("_record_hash")
    if h is None:
        h = ev["_record_hash"] = blake3(canonical(ev) + ev["body"]["signature"])
    return h


_ID_PREFIX = {"decision_recorded": "decision:", "review_recorded": "review:",
              "deployment_signed": "deployment:"}
_SIGNED_AT = {"decision_recorded": "decided_at", "review_recorded": "reviewed_at",
              "deployment_signed": "deployed_at"}


def envelope_ok(ev: dict) -> bool:
    k = ev["kind"]
    return (ev["subject"][0] == "model"
            and ev["id"] == _ID_PREFIX[k] + record_hash(ev).hex()
            and ev["time"] == ev["body"][_SIGNED_AT[k]]
            and ev["producer"] == "vouch-release")


def signature_ok(ev: dict) -> bool:
    ok = ev.get("_signature_ok")
    if ok is None:
        ok = ev["_signature_ok"] = ed25519_verify(ev["body"]["signer"], canonical(ev),
                                                  ev["body"]["signature"])
    return ok


def evidence_digest(positions, bytes_at) -> bytes:
    """`bytes_at(p)` gives the stored bytes at position p, or None."""
    parts = [b"VOUCHEV1"]
    for p in positions:
        parts.append(struct.pack(">Q", p) + blake3(bytes_at(p)))
    return blake3(b"".join(parts))


# ---------------------------------------------------------------------------------------
# Trust list (decision-record.md, "Trust list")
# ---------------------------------------------------------------------------------------


def parse_key_text(s) -> bytes:
    if not isinstance(s, str) or not re.fullmatch(r"ed25519:[0-9a-f]{64}", s):
        raise InputError(f"key {s!r} is not ed25519:<64 hex>")
    return bytes.fromhex(s[8:])


def parse_trust(v) -> list[dict]:
    if not isinstance(v, dict) or set(v) != {"keys"} or not isinstance(v["keys"], list):
        raise InputError("a trust list is an object with one field, keys (an array)")
    entries = []
    names = {}
    for e in v["keys"]:
        if not isinstance(e, dict):
            raise InputError("a trust entry is an object")
        allowed = {"name", "role", "key", "key_id", "valid_from", "revoked"}
        for k in e:
            if k not in allowed:
                raise InputError(f"unknown field {k!r} in a trust entry")
        for k in ("name", "role", "key", "key_id"):
            if k not in e:
                raise InputError(f"trust entry without {k}")
        if not isinstance(e["name"], str) or e["role"] not in ("signer", "reviewer", "deployer"):
            raise InputError("trust entry name or role")
        key = parse_key_text(e["key"])
        if e["key_id"] != blake3(key)[:8].hex():
            raise InputError(f"key_id {e['key_id']!r} does not match its key (damaged)")
        entry = {"name": e["name"], "role": e["role"], "key": key, "valid_from": None,
                 "revoked_from": None}
        try:
            if e.get("valid_from") is not None:
                entry["valid_from"] = parse_time(e["valid_from"])
            if e.get("revoked") is not None:
                r = e["revoked"]
                if not isinstance(r, dict) or set(r) - {"from", "reason", "recorded_at"} \
                        or "from" not in r:
                    raise InputError("revoked")
                entry["revoked_from"] = parse_time(r["from"])
                if "recorded_at" in r:
                    parse_time(r["recorded_at"])
                if "reason" in r and not isinstance(r["reason"], str):
                    raise InputError("revoked reason")
        except DecodeError as err:
            raise InputError(f"trust entry time: {err}") from err
        if names.setdefault(key, e["name"]) != e["name"]:
            raise InputError("one key has two names")
        entries.append(entry)
    for key in names:
        roles = {x["role"] for x in entries if x["key"] == key}
        if "reviewer" in roles and len(roles) > 1:
            raise InputError("a reviewer key holds another role")
    return entries


class Trust:
    def __init__(self, entries):
        self.entries = entries

    def check(self, key: bytes, roles, at: int):
        """None when `key` is trusted in the first of `roles` it holds at `at`, else the rule."""
        mine = [e for e in self.entries if e["key"] == key]
        if not mine:
            return "untrusted_key"
        for role in roles:
            es = [e for e in mine if e["role"] == role]
            if not es:
                continue
            e = es[0]
            if e["valid_from"] is not None and at < e["valid_from"]:
                return "key_not_yet_valid"
            if e["revoked_from"] is not None and at >= e["revoked_from"]:
                return "key_revoked"
            return None
        return "wrong_role"

    def name(self, key: bytes):
        for e in self.entries:
            if e["key"] == key:
                return e["name"]
        return None


# ---------------------------------------------------------------------------------------
# The rule book (decision-record.md, "Verifying a ledger")
# ---------------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, rule, detail=""):
        super().__init__(f"{rule}{': ' + detail if detail else ''}")
        self.rule = rule


FIVE_MINUTES = 5 * 60 * 10 ** 9


def gate_outcome(gates):
    verdicts = [g["verdict"] for g in gates]
    if "fail" in verdicts:
        return "rejected"
    if "review" in verdicts:
        return "needs_review"
    return "promoted"


def policy_reviewers(text: str) -> int:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise Refused("policy", f"the policy text does not parse: {e}") from e
    ap = doc.get("approval", {})
    if not isinstance(ap, dict):
        raise Refused("policy", "[approval] is not a table")
    n = ap.get("reviewers", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise Refused("policy", "[approval] reviewers is not a positive integer")
    return n


class Book:
    """The state of the rule book: chain head, accepted decisions, reviews."""

    def __init__(self, trust: Trust):
        self.trust = trust
        self.head = None  # (index, hash, decided_at)
        self.decisions = {}  # hash -> dict(ev, model, resolved, reviews=[(signer, verdict, pos, hash)])

    def accept_decision(self, ev, h):
        self.decisions[h] = {"ev": ev, "model": ev["subject"][1], "resolved": False,
                             "reviews": []}

    # -- a decision ---------------------------------------------------------------------
    def judge_decision(self, ev, key, position, bytes_at, policy_at, root_at=None,
                       links_only=False):
        """Raises Refused with the first rule broken. `bytes_at(p)` gives stored bytes or
        None; `policy_at(p)` the decoded policy event at p or None; `root_at(n)` the tree
        root over the first n records, or None when the log is not held."""
        b = ev["body"]
        if key != "chain":
            raise Refused("wrong_key")
        if not envelope_ok(ev):
            raise Refused("envelope")
        if not signature_ok(ev):
            raise Refused("signature")
        why = self.trust.check(b["signer"], ["signer"], b["decided_at"])
        if why:
            raise Refused(why)
        if self.head is None:
            if b["index"] != 0:
                raise Refused("chain_index")
            if b["prev"] is not None:
                raise Refused("chain_link")
        else:
            if b["index"] != self.head[0] + 1:
                raise Refused("chain_index")
            if b["prev"] != self.head[1]:
                raise Refused("chain_link")
            if b["decided_at"] < self.head[2] - FIVE_MINUTES:
                raise Refused("chain_time")
        if links_only:
            return
        if not b["evaluated_at"] < position:
            raise Refused("evidence_positions", "evaluated_at is not below the position")
        for p in b["evidence"]:
            if not 1 <= p <= b["evaluated_at"] or bytes_at(p) is None:
                raise Refused("evidence_positions", f"position {p}")
        if evidence_digest(b["evidence"], bytes_at) != b["evidence_digest"]:
            raise Refused("evidence_digest")
        if b["pin"] is not None:
            size, root = b["pin"]
            if size != b["evaluated_at"]:
                raise Refused("log_pin", "size is not evaluated_at")
            if root_at is not None:
                want = root_at(size)
                if want is None or want != root:
                    raise Refused("log_pin", "root is not the log's tree root")
        model = ev["subject"][1]
        pp = b["policy_position"]
        pol = policy_at(pp) if pp < position else None
        if (pol is None or pol["kind"] != "policy_published" or pol["subject"] != ("model", model)
                or pol["body"]["digest"] != b["policy"]
                or blake3(pol["body"]["text"].encode()) != b["policy"]
                or pol["body"]["version"] != b["policy_version"]):
            raise Refused("policy")
        if b["review"] is None:
            if b["outcome"] != gate_outcome(b["gates"]):
                raise Refused("outcome")
            return
        link = b["review"]
        target = self.decisions.get(link["decision"])
        if target is None:
            raise Refused("unknown_decision")
        tb = target["ev"]["body"]
        if tb["outcome"] != "needs_review" or tb["review"] is not None:
            raise Refused("not_pending")
        if target["resolved"]:
            raise Refused("already_resolved")
        if target["model"] != model:
            raise Refused("resolution_mismatch")
        for f in ("run", "baseline", "artifacts", "policy", "policy_version", "policy_position",
                  "evaluated_at", "evidence", "evidence_digest", "pin"):
            if tb[f] != b[f]:
                raise Refused("resolution_mismatch", f)
        if _gates_key(tb["gates"]) != _gates_key(b["gates"]):
            raise Refused("resolution_mismatch", "gates")
        cited = [r for r in target["reviews"]
                 if r[3] == link["review"] and r[2] == link["review_position"]]
        if not cited:
            raise Refused("review_outcome", "the cited review is not an accepted review")
        upto = [r for r in target["reviews"] if r[2] <= link["review_position"]]
        need = policy_reviewers(pol["body"]["text"])
        if any(r[1] == "reject" for r in upto):
            want = "rejected"
        elif len({r[0] for r in upto if r[1] == "approve"}) >= need:
            want = "promoted"
        else:
            want = None
        if b["outcome"] != want:
            raise Refused("review_outcome")

    def after_decision(self, ev, h):
        b = ev["body"]
        self.head = (b["index"], h, b["decided_at"])
        self.accept_decision(ev, h)
        if b["review"] is not None:
            self.decisions[b["review"]["decision"]]["resolved"] = True

    # -- a review -----------------------------------------------------------------------
    def judge_review(self, ev, key):
        b = ev["body"]
        model = ev["subject"][1]
        if key != "model." + model:
            raise Refused("wrong_key")
        if not envelope_ok(ev):
            raise Refused("envelope")
        if not signature_ok(ev):
            raise Refused("signature")
        why = self.trust.check(b["signer"], ["reviewer"], b["reviewed_at"])
        if why:
            raise Refused(why)
        if self.trust.name(b["signer"]) != b["reviewer"]:
            raise Refused("reviewer_name")
        target = self.decisions.get(b["decision"])
        if target is None or target["model"] != model:
            raise Refused("unknown_decision")
        tb = target["ev"]["body"]
        if tb["outcome"] != "needs_review" or tb["review"] is not None:
            raise Refused("not_pending")
        if target["resolved"]:
            raise Refused("already_resolved")
        if b["signer"] == tb["signer"] or any(r[0] == b["signer"] for r in target["reviews"]):
            raise Refused("separation_of_duties")

    def after_review(self, ev, position):
        b = ev["body"]
        self.decisions[b["decision"]]["reviews"].append(
            (b["signer"], b["verdict"], position, record_hash(ev)))

    # -- a deployment -------------------------------------------------------------------
    def judge_deployment(self, ev, key, allowed=None):
        if ev["kind"] == "deployment_recorded":
            raise Refused("unsigned")
        b = ev["body"]
        model = ev["subject"][1]
        if key != "model." + model:
            raise Refused("wrong_key")
        if not envelope_ok(ev):
            raise Refused("envelope")
        if not signature_ok(ev):
            raise Refused("signature")
        why = self.trust.check(b["signer"], ["deployer", "signer"], b["deployed_at"])
        if why:
            raise Refused(why)
        if b["forced"]:
            return
        d = self.decisions.get(b["decision"]) if b["decision"] is not None else None
        if (d is None or (allowed is not None and b["decision"] not in allowed)
                or d["model"] != model or d["ev"]["body"]["outcome"] != "promoted"
                or b["artifact"] not in d["ev"]["body"]["artifacts"]):
            raise Refused("deployment_unpromoted")


def _gates_key(gates):
    return [tuple((k, struct.pack("<d", v) if isinstance(v, float) else v)
                  for k, v in sorted(g.items())) for g in gates]


# ---------------------------------------------------------------------------------------
# RFC 6962 / 9162 Merkle trees (SHA-256)
# ---------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(leaves) -> bytes:
    """Root over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    # Level by level, an odd last node moving up unchanged: the same root as RFC 9162's
    # recursive definition (largest power of two strictly below n on the left).
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def verify_inclusion(index, size, leaf, proof, root) -> bool:
    if index >= size or any(len(h) != 32 for h in proof) or len(leaf) != 32 \
            or len(root) != 32:
        return False
    fn, sn, r = index, size - 1, leaf
    for c in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(c, r)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, root1, root2, proof) -> bool:
    if m > n or m == 0:
        return False
    if m == n:
        return not proof and root1 == root2
    if m == 0 or any(len(h) != 32 for h in proof) or len(root1) != 32 or len(root2) != 32:
        return False
    if not proof:
        return False
    p = list(proof)
    if m & (m - 1) == 0:
        p.insert(0, root1)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = p[0]
    for c in p[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


# ---------------------------------------------------------------------------------------
# C2SP signed notes, vkeys, checkpoints, cosignatures, tlog-proof
# ---------------------------------------------------------------------------------------


def b64decode_strict(s: str) -> bytes:
    if not isinstance(s, str) or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4:
        raise ValueError(f"not standard base64: {s!r}")
    out = base64.b64decode(s, validate=True)
    if base64.b64encode(out).decode() != s:
        raise ValueError("non-canonical base64")
    return out


_B64_CACHE: dict[str, bytes] = {}


def b64hash(s: str) -> bytes:
    h = _B64_CACHE.get(s) if isinstance(s, str) else None
    if h is not None:
        return h
    h = b64decode_strict(s)
    if len(h) != 32:
        raise ValueError("a hash is 32 bytes")
    if len(_B64_CACHE) > 100000:
        _B64_CACHE.clear()
    _B64_CACHE[s] = h
    return h


def note_key_id(name: str, typ: int, key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + key).digest()[:4]


def valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(
        c.isspace() or _ctl(c) for c in name)


_VKEY_CACHE: dict[tuple, object] = {}


def parse_vkey(text: str, typ: int) -> dict:
    """`name+hexid+base64(type ‖ key)` (schemas/transparency.md, "verifier keys")."""
    if not isinstance(text, str):
        raise InputError("a vkey is text")
    hit = _VKEY_CACHE.get((text, typ))
    if hit is None:
        try:
            hit = _parse_vkey(text, typ)
        except InputError as e:
            hit = e
        if len(_VKEY_CACHE) < 10000:
            _VKEY_CACHE[(text, typ)] = hit
    if isinstance(hit, InputError):
        raise hit
    return hit


def _parse_vkey(text: str, typ: int) -> dict:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise InputError(f"vkey {text!r} is not name+id+key")
    name, hid, b64 = parts
    if not valid_key_name(name) or not re.fullmatch(r"[0-9a-f]{8}", hid):
        raise InputError(f"vkey {text!r}: bad name or key id")
    try:
        raw = b64decode_strict(b64)
    except ValueError as e:
        raise InputError(f"vkey {text!r}: {e}") from e
    if len(raw) != 33 or raw[0] != typ:
        raise InputError(f"vkey {text!r}: want type {typ:#04x} and a 32-byte Ed25519 key")
    key = raw[1:]
    point = _decompress(key)
    if point is None or _is_small_order(point):
        raise InputError(f"vkey {text!r}: not a usable Ed25519 key")
    kid = note_key_id(name, typ, key)
    if kid.hex() != hid:
        raise InputError(f"vkey {text!r}: key id does not match the key")
    return {"name": name, "id": kid, "key": key, "type": typ}


def parse_note(text: str):
    """(signed text, [(name, raw signature bytes)])."""
    if not isinstance(text, str):
        raise ValueError("a note is text")
    if len(text.encode("utf-8", "surrogatepass")) > 1048576:
        raise ValueError("a note over 1 MiB")
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise ValueError("a control character in the note")
    i = text.rfind("\n\n")
    if i < 0:
        raise ValueError("a signed note has a blank line before its signatures")
    body, sigs = text[:i + 1], text[i + 2:]
    if not sigs.endswith("\n"):
        raise ValueError("the signature lines end with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > 100:
        raise ValueError("more than 100 signature lines")
    out = []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise ValueError(f"not a signature line: {line!r}")
        rest = line[2:].split(" ")
        if len(rest) != 2 or not valid_key_name(rest[0]):
            raise ValueError(f"bad signature line: {line!r}")
        raw = b64decode_strict(rest[1])
        if len(raw) < 5:
            raise ValueError("a signature is a key id and bytes")
        out.append((rest[0], raw))
    if not out:
        raise ValueError("a note without signatures")
    return body, out


def parse_checkpoint_body(body: str):
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise ValueError("a checkpoint is origin, size and root, one per line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin:
        raise ValueError("an empty origin")
    if len(root) != 44:
        raise ValueError("a root is 44 characters of base64")
    if len(lines) - 4 > 64:
        raise ValueError("more than 64 extension lines")
    if not re.fullmatch(r"0|[1-9][0-9]*", size) or int(size) >= 2 ** 64:
        raise ValueError(f"size {size!r}")
    for ext in lines[3:-1]:
        if not ext:
            raise ValueError("an empty extension line")
    return origin, int(size), b64hash(root)


def verify_checkpoint(text: str, log_vkey: dict, witnesses=(), quorum=0) -> dict:
    """Verifies a checkpoint note; returns {origin, size, root} or raises ValueError."""
    body, sigs = parse_note(text)
    origin, size, root = parse_checkpoint_body(body)
    if log_vkey["name"] != origin:
        raise ValueError(f"the log key's name {log_vkey['name']!r} is not the origin {origin!r}")
    known = {}
    for k in [log_vkey, *witnesses]:
        other = known.setdefault((k["name"], k["id"]), k)
        if other is not k and (other["key"], other["type"]) != (k["key"], k["type"]):
            raise ValueError("two known keys with one name and key id (ambiguous)")
    log_ok = False
    cosigned = set()
    for name, raw in sigs:
        kid, rest = raw[:4], raw[4:]
        if name == log_vkey["name"] and kid == log_vkey["id"]:
            if len(rest) != 64 or not ed25519_verify(log_vkey["key"], body.encode(), rest):
                raise ValueError("the log's signature does not verify")
            log_ok = True
            continue
        for w in witnesses:
            if name == w["name"] and kid == w["id"]:
                if len(rest) != 72:
                    raise ValueError(f"cosignature of {name} is not 8 + 64 bytes")
                ts = int.from_bytes(rest[:8], "big")
                if ts >= 2 ** 63:
                    raise ValueError("cosignature timestamp out of range")
                msg = f"cosignature/v1\ntime {ts}\n".encode() + body.encode()
                if not ed25519_verify(w["key"], msg, rest[8:]):
                    raise ValueError(f"the cosignature of {name} does not verify")
                cosigned.add(w["key"])
    if not log_ok:
        raise ValueError("no signature by the log's key")
    if len(cosigned) < quorum:
        raise ValueError(f"{len(cosigned)} witness cosignatures, quorum {quorum}")
    return {"origin": origin, "size": size, "root": root}


def parse_tlog_proof(text: str):
    """(index, [hashes], checkpoint note text)."""
    lines = text.split("\n")
    if not lines or lines[0] != "c2sp.org/tlog-proof@v1":
        raise ValueError("not a c2sp.org/tlog-proof@v1")
    i = 1
    if i < len(lines) and lines[i].startswith("extra "):
        b64decode_strict(lines[i][6:])
        i += 1
    if i >= len(lines) or not re.fullmatch(r"index (0|[1-9][0-9]*)", lines[i]):
        raise ValueError("no index line")
    index = int(lines[i][6:])
    i += 1
    hashes = []
    while i < len(lines) and lines[i] != "":
        hashes.append(b64hash(lines[i]))
        i += 1
    if len(hashes) > 64:
        raise ValueError("more than 64 hashes")
    if i >= len(lines):
        raise ValueError("no blank line before the checkpoint")
    note = "\n".join(lines[i + 1:])
    return index, hashes, note


def parse_consistency_file(text: str):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not re.fullmatch(r"old (0|[1-9][0-9]*)", lines[0]):
        raise ValueError("a consistency proof starts with old <size>")
    return int(lines[0][4:]), [b64hash(x) for x in lines[1:]]


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


class Result:
    def __init__(self):
        self.problems = []
        self.failure_position = None
        self.checks = 0

    def fail(self, msg, position=None):
        self.problems.append(msg if position is None else f"position {position}: {msg}")
        if self.failure_position is None and position is not None:
            self.failure_position = position

    @property
    def ok(self):
        return not self.problems

    def as_json(self, **extra):
        return {"ok": self.ok, "failure_position": self.failure_position,
                "problems": self.problems, **extra}


class Stop(Exception):
    pass


def parse_hex(s) -> bytes:
    """Hex as vouch reads it in a bundle: upper or lower case, and a pair `+X` is X."""
    if not isinstance(s, str) or len(s) % 2:
        raise ValueError("hex of odd length")
    if _HEX_RE.match(s) or not s:
        return bytes.fromhex(s)
    out = bytearray()
    for i in range(0, len(s), 2):
        pair = s[i:i + 2]
        if pair[0] == "+":
            pair = pair[1]
        if not re.fullmatch(r"[0-9a-fA-F]{1,2}", pair):
            raise ValueError(f"not hex: {s[i:i + 2]!r}")
        out.append(int(pair, 16))
    return bytes(out)


# ---------------------------------------------------------------------------------------
# Audit bundles (audit-bundle.md; v3 from the spec of the lead)
# ---------------------------------------------------------------------------------------


def _u64(v, what):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2 ** 64:
        raise InputError(f"{what} is not an integer in 0..2^64")
    return v


def parse_bundle(text):
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        v = strict_json(text)
    except (UnicodeDecodeError, json.JSONDecodeError, DecodeError, RecursionError) as e:
        raise InputError(f"not a bundle: {e}") from e
    if not isinstance(v, dict):
        raise InputError("not a bundle: not an object")
    fmt = v.get("format")
    allowed = {"format", "artifact", "decision", "records", "keys", "log"}
    for k in v:
        if k not in allowed:
            raise InputError(f"not a bundle: unknown field {k!r}")
    for k in ("format", "artifact", "decision", "records", "keys"):
        if k not in v:
            raise InputError(f"not a bundle: missing field {k!r}")
    if not isinstance(fmt, str) or not isinstance(v["artifact"], str):
        raise InputError("not a bundle: format and artifact are strings")
    _u64(v["decision"], "decision")
    if not isinstance(v["records"], list) or not isinstance(v["keys"], list):
        raise InputError("not a bundle: records and keys are arrays")
    has_log = "log" in v and v["log"] is not None
    rfields = {"position", "key", "event_id", "bytes", "inclusion"}
    for r in v["records"]:
        if not isinstance(r, dict):
            raise InputError("not a bundle: a record is an object")
        for k in r:
            if k not in rfields:
                raise InputError(f"not a bundle: unknown field {k!r} in a record")
        for k in ("position", "key", "event_id", "bytes"):
            if k not in r:
                raise InputError(f"not a bundle: a record without {k!r}")
        _u64(r["position"], "position")
        for k in ("key", "event_id", "bytes"):
            if not isinstance(r[k], str):
                raise InputError(f"not a bundle: record {k} is not a string")
        if "inclusion" in r and not (isinstance(r["inclusion"], list) and
                                     all(isinstance(x, str) for x in r["inclusion"])):
            raise InputError("not a bundle: inclusion is an array of strings")
    for e in v["keys"]:
        # Names only, never trusted; vouch reads them as trust entries (role, times) but
        # checks neither key nor key_id (found by running it: audit-bundle.md is silent).
        if not isinstance(e, dict):
            raise InputError("not a bundle: a key entry is an object")
        for k in e:
            if k not in ("name", "role", "key", "key_id", "valid_from", "revoked"):
                raise InputError(f"not a bundle: unknown field {k!r} in keys")
        for k in ("name", "role", "key", "key_id"):
            if not isinstance(e.get(k), str):
                raise InputError(f"not a bundle: keys entry without {k}")
        if e["role"] not in ("signer", "reviewer", "deployer"):
            raise InputError(f"not a bundle: role {e['role']!r}")
        try:
            if e.get("valid_from") is not None:
                parse_time(e["valid_from"])
            if e.get("revoked") is not None:
                r = e["revoked"]
                if not isinstance(r, dict) or set(r) - {"from", "reason", "recorded_at"} \
                        or "from" not in r:
                    raise InputError("not a bundle: revoked")
                for k in ("from", "recorded_at"):
                    if k in r:
                        parse_time(r[k])
                if not isinstance(r.get("reason", ""), str):
                    raise InputError("not a bundle: revoked reason")
        except DecodeError as err:
            raise InputError(f"not a bundle: keys: {err}") from err
    if has_log:
        lg = v["log"]
        pinned = lg.get("pinned", []) if isinstance(lg, dict) else None
        if not isinstance(lg, dict) or set(lg) - {"checkpoint", "pinned"} or \
                not isinstance(lg.get("checkpoint"), str) or \
                not isinstance(pinned if pinned is not None else [], list) or \
                not all(isinstance(x, str) for x in pinned or []):
            raise InputError("not a bundle: log is {checkpoint, pinned}")
    return v


def verify_bundle(v: dict, trust: Trust, log_vkey=None, witnesses=(), quorum=0) -> Result:
    res = Result()
    try:
        _verify_bundle(v, trust, res, log_vkey, witnesses, quorum)
    except Stop:
        pass
    if not hasattr(res, "without_log"):
        res.without_log = (res.ok, res.failure_position)
    return res


def _verify_bundle(v, trust, res, log_vkey, witnesses, quorum):
    # 1. format
    if v["format"] not in ("vouch-audit-bundle-v2", "vouch-audit-bundle-v3"):
        res.fail(f"format {v['format']!r}")
        raise Stop
    if v["format"] == "vouch-audit-bundle-v2" and (
            v.get("log") is not None or any(r.get("inclusion") is not None
                                            for r in v["records"])):
        res.fail("a v2 bundle carries log or inclusion")
        raise Stop
    # 2. artifact: a BLAKE3 digest, or a sha256 an artifact_logged record carries
    # (resolved once the records are decoded)
    art = v["artifact"]
    by_sha256 = None
    if art.startswith("sha256:"):
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", art):
            res.fail("artifact is not a digest")
            raise Stop
        by_sha256 = bytes.fromhex(art[7:])
        artifact = None
    else:
        if art.startswith("blake3:"):
            art = art[7:]
        if not re.fullmatch(r"[0-9a-f]{64}", art):
            res.fail("artifact is not a digest")
            raise Stop
        artifact = bytes.fromhex(art)
    # 3. records
    recs = []
    seen = set()
    for r in v["records"]:
        pos = r["position"]
        try:
            data = parse_hex(r["bytes"])
        except ValueError as e:
            res.fail(f"bytes: {e}", pos)
            raise Stop from None
        try:
            ev = decode_record(data)
        except DecodeError as e:
            res.fail(f"does not decode: {e}", pos)
            raise Stop from None
        if r["event_id"] != ev["id"]:
            res.fail("event_id is not the event's id", pos)
            raise Stop
        if r["key"] != log_key(ev):
            res.fail("key is not the event's log key", pos)
            raise Stop
        if pos in seen or pos == 0:
            res.fail("position appears twice (or is 0)", pos)
            raise Stop
        seen.add(pos)
        recs.append({"position": pos, "key": r["key"], "bytes": data, "ev": ev,
                     "inclusion": r.get("inclusion")})
    by_pos = {x["position"]: x for x in recs}
    recs_sorted = sorted(recs, key=lambda x: x["position"])
    if by_sha256 is not None:
        named = [x["ev"]["body"]["digest"] for x in recs_sorted
                 if x["ev"]["kind"] == "artifact_logged"
                 and x["ev"]["body"]["sha256"] == by_sha256]
        if not named:
            res.fail("no artifact_logged record in the bundle carries the artifact's sha256")
            raise Stop
        artifact = named[0]
    used = set()

    def chain_decisions(pred):
        return [x for x in recs_sorted if x["key"] == "chain"
                and x["ev"]["kind"] == "decision_recorded" and pred(x["ev"]["body"])]

    # 4. the audited decision
    want = v["decision"]
    found = chain_decisions(lambda b: b["index"] == want)
    if not found:
        res.fail(f"no decision with index {want}")
        raise Stop
    aud = found[0]
    aev, apos = aud["ev"], aud["position"]
    used.add(apos)
    ab = aev["body"]
    book = Book(trust)
    # 5. previous link
    if ab["index"] > 0:
        prevs = chain_decisions(lambda b: b["index"] == ab["index"] - 1)
        if not prevs:
            res.fail("the previous decision is not in the bundle")
            raise Stop
        p = prevs[0]
        if not envelope_ok(p["ev"]):
            res.fail("the previous decision's envelope (envelope)", p["position"])
            raise Stop
        used.add(p["position"])
        pb = p["ev"]["body"]
        book.head = (pb["index"], record_hash(p["ev"]), pb["decided_at"])
    # 6. reviewed decision and its reviews
    if ab["review"] is not None:
        target_hash = ab["review"]["decision"]
        tds = [x for x in chain_decisions(lambda b: b["index"] < ab["index"])
               if record_hash(x["ev"]) == target_hash]
        if tds:
            t = tds[0]
            if not envelope_ok(t["ev"]):
                res.fail("the reviewed decision's envelope (envelope)", t["position"])
                raise Stop
            used.add(t["position"])
            book.accept_decision(t["ev"], target_hash)
            for x in recs_sorted:
                if (x["ev"]["kind"] == "review_recorded" and
                        x["ev"]["body"]["decision"] == target_hash and x["position"] <= apos):
                    used.add(x["position"])
                    try:
                        book.judge_review(x["ev"], x["key"])
                    except Refused as e:
                        res.fail(f"review refused ({e})", x["position"])
                        continue
                    book.after_review(x["ev"], x["position"])

    # 7. the decision
    def bytes_at(p):
        x = by_pos.get(p)
        if x is None:
            return None
        used.add(p)
        return x["bytes"]

    def policy_at(p):
        x = by_pos.get(p)
        if x is None:
            return None
        used.add(p)
        return x["ev"]

    try:
        book.judge_decision(aev, aud["key"], apos, bytes_at, policy_at)
    except Refused as e:
        res.fail(f"the audited decision is refused ({e})", apos)
        raise Stop from None
    ahash = record_hash(aev)
    book.after_decision(aev, ahash)
    # 8. promotion
    if ab["outcome"] != "promoted" or artifact not in ab["artifacts"]:
        res.fail("the audited decision does not promote the artifact", apos)
    # 9. chain links
    allowed = {ahash}
    idx = ab["index"] + 1
    while True:
        links = chain_decisions(lambda b, i=idx: b["index"] == i)
        if not links:
            break
        link = links[0]
        used.add(link["position"])
        try:
            book.judge_decision(link["ev"], link["key"], link["position"], None, None,
                                links_only=True)
        except Refused as e:
            res.fail(f"chain link {idx} refused ({e})", link["position"])
            break
        lh = record_hash(link["ev"])
        book.head = (idx, lh, link["ev"]["body"]["decided_at"])
        book.accept_decision(link["ev"], lh)
        allowed.add(lh)
        idx += 1
    # 10. deployments
    deployed = False
    for x in recs_sorted:
        if x["ev"]["kind"] not in ("deployment_signed", "deployment_recorded"):
            continue
        used.add(x["position"])
        try:
            book.judge_deployment(x["ev"], x["key"], allowed)
        except Refused as e:
            res.fail(f"deployment refused ({e})", x["position"])
            continue
        b = x["ev"]["body"]
        if not b["forced"] and b["artifact"] == artifact and b["decision"] == ahash:
            deployed = True
    # 11.
    if not deployed:
        res.fail("no accepted unforced deployment of the artifact cites the audited decision")
    # 12.
    for x in recs_sorted:
        if x["position"] not in used:
            res.fail("a record no check uses", x["position"])
    # v3: the log section
    res.without_log = (res.ok, res.failure_position)
    if log_vkey is not None:
        _verify_bundle_log(v, recs_sorted, aev, log_vkey, witnesses, quorum, res)


def _verify_bundle_log(v, recs, aev, log_vkey, witnesses, quorum, res):
    lg = v.get("log")
    if lg is None:
        res.fail("the bundle carries no log section (a checkpoint was required)")
        return
    try:
        cp = verify_checkpoint(lg["checkpoint"], log_vkey, witnesses, quorum)
    except ValueError as e:
        res.fail(f"checkpoint: {e}")
        return
    for x in recs:
        inc = x["inclusion"]
        try:
            proof = [b64hash(h) for h in (inc if inc is not None else [])]
            if len(proof) > 64:
                raise ValueError("more than 64 hashes")
        except ValueError as e:
            res.fail(f"inclusion proof: {e}", x["position"])
            continue
        if inc is None or not verify_inclusion(x["position"] - 1, cp["size"],
                                               leaf_hash(x["bytes"]), proof, cp["root"]):
            res.fail("the record's inclusion proof does not verify", x["position"])
    pin = aev["body"]["pin"]
    pinned = lg.get("pinned")
    if pin is None:
        if pinned is not None:
            res.fail("pinned is present but the audited decision has no pin")
        return
    if pinned is None:
        res.fail("the audited decision pins the log but the bundle has no pinned proof")
        return
    try:
        pinned_h = [b64hash(h) for h in pinned]
    except ValueError as e:
        res.fail(f"pinned: {e}")
        return
    size, root = pin
    if size == 0:
        if pinned_h or root != hashlib.sha256(b"").digest():
            res.fail("a pin of size 0 must carry the empty root and no proof")
    elif size == cp["size"]:
        if pinned_h or root != cp["root"]:
            res.fail("the pin has the checkpoint's size but not its root")
    elif not verify_consistency(size, cp["size"], root, cp["root"], pinned_h):
        res.fail("the pin is not consistent with the checkpoint")


# ---------------------------------------------------------------------------------------
# Exported logs (vouch export)
# ---------------------------------------------------------------------------------------


def parse_log(text):
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not a log: {e}") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError("not a log: no header")
    try:
        head = strict_json(lines[0])
    except (json.JSONDecodeError, DecodeError) as e:
        raise InputError(f"not a log: header: {e}") from e
    if not isinstance(head, dict) or set(head) != {"format", "ids_unique"} or \
            head["format"] != "vouch-log-v1" or not isinstance(head["ids_unique"], bool):
        raise InputError("not a log: header is {format: vouch-log-v1, ids_unique}")
    records = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            r = strict_json(line)
        except (json.JSONDecodeError, DecodeError) as e:
            raise InputError(f"not a log: line {n}: {e}") from e
        if not isinstance(r, dict) or set(r) != {"position", "key", "event_id", "bytes"}:
            raise InputError(f"not a log: line {n} is not {{position, key, event_id, bytes}}")
        _u64(r["position"], "position")
        for k in ("key", "event_id", "bytes"):
            if not isinstance(r[k], str):
                raise InputError(f"not a log: line {n}: {k} is not a string")
        try:
            raw = bytes.fromhex(r["bytes"])
        except ValueError:
            raw = None
        if raw is None or raw.hex() != r["bytes"]:
            raise InputError(f"not a log: line {n}: bytes is not lowercase hex")
        if records and r["position"] <= records[-1]["position"]:
            raise InputError(f"not a log: line {n}: position {r['position']} does not follow "
                             f"{records[-1]['position']}")
        records.append({"position": r["position"], "key": r["key"], "event_id": r["event_id"],
                        "bytes": raw})
    return head, records


def verify_log(head, records, trust: Trust, checkpoint=None) -> Result:
    res = Result()
    # positions without gaps, from 1
    for i, r in enumerate(records):
        if r["position"] != i + 1:
            res.fail(f"position {r['position']} where {i + 1} was expected", i + 1)
            res.without_log = (res.ok, res.failure_position)
            return res
    leaves = [leaf_hash(r["bytes"]) for r in records]
    roots = {}

    def root_at(n):
        if n > len(leaves):
            return None
        if n not in roots:
            roots[n] = tree_root(leaves[:n])
        return roots[n]

    def bytes_at(p):
        return records[p - 1]["bytes"] if 1 <= p <= len(records) else None

    policies = {}

    def policy_at(p):
        return policies.get(p)

    book = Book(trust)
    seen_ids = set()
    for r in records:
        pos, key = r["position"], r["key"]
        if r["event_id"] in seen_ids:
            if head["ids_unique"]:
                res.fail("an event id repeated in a log whose ids are unique", pos)
            continue
        seen_ids.add(r["event_id"])
        if key != "chain" and not key.startswith("model."):
            continue
        try:
            ev = decode_record(r["bytes"])
        except DecodeError as e:
            res.fail(f"not_a_record: {e}", pos)
            continue
        kind = ev["kind"]
        if key == "chain" and kind != "decision_recorded":
            res.fail("wrong_key", pos)
            continue
        if kind == "policy_published":
            # Remembered under any model.* key (vouch does not compare the key with the
            # policy's model here; the decision's policy rule checks the subject).
            policies[pos] = ev
            continue
        if kind not in ("decision_recorded", "review_recorded", "deployment_signed",
                        "deployment_recorded"):
            continue
        if r["event_id"] != ev["id"]:
            res.fail("envelope: the log record's event id is not the event's id", pos)
            continue
        try:
            if kind == "decision_recorded":
                book.judge_decision(ev, key, pos, bytes_at, policy_at, root_at)
                book.after_decision(ev, record_hash(ev))
            elif kind == "review_recorded":
                book.judge_review(ev, key)
                book.after_review(ev, pos)
            else:
                book.judge_deployment(ev, key)
        except Refused as e:
            res.fail(f"{kind} refused: {e}", pos)
    res.without_log = (res.ok, res.failure_position)
    if checkpoint is not None:
        size = checkpoint["size"]
        if len(records) < size:
            res.fail(f"the log holds {len(records)} records, the checkpoint {size}", size)
        elif root_at(size) != checkpoint["root"]:
            res.fail("the tree root over the checkpoint's size is not the checkpoint's root",
                     size)
    return res


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def _read(path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e}") from e


def _load_trust(path):
    try:
        return Trust(parse_trust(strict_json(_read(path).decode("utf-8"))))
    except (UnicodeDecodeError, json.JSONDecodeError, DecodeError) as e:
        raise InputError(f"trust file {path}: {e}") from e


def _log_keys(args):
    log_vkey = parse_vkey(args.log, 0x01) if getattr(args, "log", None) else None
    witnesses = [parse_vkey(w, 0x04) for w in (getattr(args, "witness", None) or [])]
    quorum = getattr(args, "quorum", None)
    if quorum is None:
        quorum = 0
    if quorum < 0:
        raise InputError("quorum below 0")
    if quorum > len(witnesses):
        raise InputError(f"quorum {quorum} with {len(witnesses)} witness keys")
    return log_vkey, witnesses, quorum


def cmd_bundle(args) -> Result:
    if not args.trust:
        raise InputError("no trust given (--trust)")
    trust = _load_trust(args.trust)
    if not trust.entries:
        raise InputError("the trust list trusts no key")
    v = parse_bundle(_read(args.file))
    log_vkey, witnesses, quorum = _log_keys(args)
    return verify_bundle(v, trust, log_vkey, witnesses, quorum)


def cmd_log(args) -> Result:
    if not args.trust:
        raise InputError("no trust given (--trust)")
    trust = _load_trust(args.trust)
    head, records = parse_log(_read(args.file))
    cp = None
    if args.checkpoint:
        log_vkey, witnesses, quorum = _log_keys(args)
        if log_vkey is None:
            raise InputError("--checkpoint needs --log")
        try:
            text = _read(args.checkpoint).decode("utf-8")
            cp = verify_checkpoint(text, log_vkey, witnesses, quorum)
        except (ValueError, UnicodeDecodeError) as e:
            res = Result()
            res.fail(f"checkpoint: {e}")
            return res
    return verify_log(head, records, trust, cp)


def cmd_checkpoint(args) -> Result:
    log_vkey, witnesses, quorum = _log_keys(args)
    res = Result()
    try:
        cp = verify_checkpoint(_read(args.file).decode("utf-8"), log_vkey, witnesses, quorum)
        res.info = cp
    except (ValueError, UnicodeDecodeError) as e:
        res.fail(f"checkpoint: {e}")
    return res


def cmd_inclusion(args) -> Result:
    log_vkey, witnesses, quorum = _log_keys(args)
    res = Result()
    record = _read(args.record)
    try:
        index, hashes, note = parse_tlog_proof(_read(args.proof_file).decode("utf-8"))
        cp = verify_checkpoint(note, log_vkey, witnesses, quorum)
    except (ValueError, UnicodeDecodeError) as e:
        res.fail(f"proof: {e}")
        return res
    if not verify_inclusion(index, cp["size"], leaf_hash(record), hashes, cp["root"]):
        res.fail("the inclusion proof does not verify", index + 1)
    return res


def cmd_consistency(args) -> Result:
    log_vkey, witnesses, quorum = _log_keys(args)
    res = Result()
    try:
        a = verify_checkpoint(_read(args.from_).decode("utf-8"), log_vkey, witnesses, quorum)
        b = verify_checkpoint(_read(args.to).decode("utf-8"), log_vkey, witnesses, quorum)
        old, proof = parse_consistency_file(_read(args.proof).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        res.fail(f"{e}")
        return res
    if old != a["size"]:
        res.fail(f"the proof is from size {old}, the first checkpoint has {a['size']}")
    elif not verify_consistency(a["size"], b["size"], a["root"], b["root"], proof):
        res.fail("the consistency proof does not verify")
    return res


def run_case(case: dict) -> dict:
    """One batch case; any exception refuses the case."""
    cid = case.get("id") if isinstance(case, dict) else None
    try:
        trust = Trust(parse_trust(case["trust"]))
        log_vkey = parse_vkey(case["log"], 0x01) if case.get("log") else None
        witnesses = [parse_vkey(w, 0x04) for w in case.get("witnesses") or []]
        quorum = case.get("quorum") or 0
        if case.get("text_b64") is not None:
            text = base64.b64decode(case["text_b64"], validate=True)
        elif case.get("text_hex") is not None:
            text = bytes.fromhex(case["text_hex"])
        else:
            text = case["text"]
        if case["kind"] == "bundle":
            res = verify_bundle(parse_bundle(text), trust, log_vkey, witnesses, quorum)
        elif case["kind"] == "log":
            head, records = parse_log(text)
            cp = None
            cp_problem = None
            if case.get("checkpoint") is not None:
                if log_vkey is None:
                    raise InputError("a checkpoint needs the log key")
                try:
                    cp = verify_checkpoint(case["checkpoint"], log_vkey, witnesses, quorum)
                except (ValueError, TypeError, KeyError) as e:
                    cp_problem = f"checkpoint: {e}"
            res = verify_log(head, records, trust, cp)
            if cp_problem is not None:
                res.problems.append(cp_problem)
        else:
            raise InputError(f"unknown case kind {case['kind']!r}")
        out = {"id": cid, **res.as_json()}
        # The verdict without the transparency part (no --log / no --checkpoint), so one case
        # gives both.
        out["ok_without_log"], out["failure_position_without_log"] = res.without_log
        return out
    except InputError as e:
        return {"id": cid, "ok": False, "failure_position": None, "problems": [str(e)],
                "input_error": True}
    except Exception as e:  # noqa: BLE001 - a hostile case must never crash the batch
        return {"id": cid, "ok": False, "failure_position": None,
                "problems": [f"exception: {type(e).__name__}: {e}"], "exception": True}


def cmd_batch(args):
    src = sys.stdin if args.cases == "-" else open(args.cases, encoding="utf-8")
    out = sys.stdout
    with src:
        for line in src:
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as e:
                row = {"id": None, "ok": False, "failure_position": None,
                       "problems": [f"case is not JSON: {e}"]}
            else:
                row = run_case(case)
            if not args.verbose:
                row = {"id": row["id"], "ok": row["ok"],
                       "failure_position": row["failure_position"],
                       **({"ok_without_log": row["ok_without_log"],
                           "failure_position_without_log": row["failure_position_without_log"]}
                          if "ok_without_log" in row else {}),
                       **({"error": row["problems"][0]}
                          if row.get("exception") or row.get("input_error") else {})}
            out.write(json.dumps(row) + "\n")
            out.flush()
    return None


def build_parser():
    p = argparse.ArgumentParser(prog="vouch_verify.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, trust=False):
        sp.add_argument("--json", action="store_true", help="print the result as JSON")
        if trust:
            sp.add_argument("--trust", help="trust list (trust.json format)")

    def logkeys(sp):
        sp.add_argument("--log", help="the log's verifier key (C2SP vkey, type 0x01)")
        sp.add_argument("--witness", action="append", default=[],
                        help="a witness's cosigner vkey (type 0x04); repeatable")
        sp.add_argument("--quorum", type=int, help="cosignatures required (default 0)")

    b = sub.add_parser("bundle", help="verify an audit bundle")
    b.add_argument("file")
    common(b, trust=True)
    logkeys(b)
    lg = sub.add_parser("log", help="verify a log exported by vouch export")
    lg.add_argument("file")
    common(lg, trust=True)
    lg.add_argument("--checkpoint")
    logkeys(lg)
    c = sub.add_parser("checkpoint", help="verify a signed checkpoint")
    c.add_argument("file")
    common(c)
    logkeys(c)
    i = sub.add_parser("inclusion", help="verify a C2SP tlog-proof for a record")
    i.add_argument("proof_file")
    i.add_argument("--record", required=True, help="the record's raw stored bytes")
    common(i)
    logkeys(i)
    k = sub.add_parser("consistency", help="verify a consistency proof between checkpoints")
    k.add_argument("--from", dest="from_", required=True)
    k.add_argument("--to", required=True)
    k.add_argument("--proof", required=True)
    common(k)
    logkeys(k)
    bt = sub.add_parser("batch", help="run JSON Lines cases (- for stdin)")
    bt.add_argument("cases")
    bt.add_argument("--verbose", action="store_true", help="print every problem")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return EXIT_OK if e.code == 0 else EXIT_INPUT
    if nacl is None:
        print("vouch_verify.py: PyNaCl is not installed", file=sys.stderr)
        return EXIT_INPUT
    want_json = getattr(args, "json", False)
    try:
        if args.command == "batch":
            cmd_batch(args)
            return EXIT_OK
        if args.command in ("checkpoint", "inclusion", "consistency") and not args.log:
            raise InputError("--log VKEY is required")
        res = {"bundle": cmd_bundle, "log": cmd_log, "checkpoint": cmd_checkpoint,
               "inclusion": cmd_inclusion, "consistency": cmd_consistency}[args.command](args)
    except InputError as e:
        if want_json:
            print(json.dumps({"ok": False, "failure_position": None, "problems": [str(e)],
                              "exit": EXIT_INPUT}))
        else:
            print(f"vouch_verify.py: {e}", file=sys.stderr)
        return EXIT_INPUT
    if want_json:
        print(json.dumps(res.as_json()))
    else:
        if res.ok:
            print("ok")
        for p in res.problems:
            print(p)
    return EXIT_OK if res.ok else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())

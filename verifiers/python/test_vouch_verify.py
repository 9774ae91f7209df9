#!/usr/bin/env python3
"""Checks vouch_verify.py against every known-answer vector in schemas/vectors/ and the
RFC 6962 inclusion and consistency vectors in ../shared/testdata/rfc6962 beside the
repository (or $VOUCH_RFC6962_VECTORS). Run: python3 verifiers/python/test_vouch_verify.py"""

import copy
import glob
import json
import os
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vouch_verify as v  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
VECTORS = os.path.join(ROOT, "schemas", "vectors")
# Where crates/vouch-tlog/tests/rfc6962.rs reads them too: beside the repository.
RFC6962 = os.environ.get("VOUCH_RFC6962_VECTORS",
                         os.path.join(ROOT, "..", "shared", "testdata", "rfc6962"))


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def norm(ev):
    def fix(x):
        if isinstance(x, float):
            return struct.pack("<d", x)
        if isinstance(x, dict):
            return sorted((k, fix(y)) for k, y in x.items())
        if isinstance(x, (list, tuple)):
            return [fix(y) for y in x]
        return x
    return fix({k: y for k, y in ev.items() if k != "form"})


class Blake3(unittest.TestCase):
    def test_official_vectors(self):
        # From the BLAKE3 test vectors (input byte i is i mod 251).
        cases = {0: "af1349b9f5f9a1a6", 1: "2d3adedff11b61f1", 1024: "42214739f095a406",
                 1025: "d00278ae47eb27b3"}
        for n, want in cases.items():
            got = v.blake3(bytes(i % 251 for i in range(n))).hex()
            self.assertTrue(got.startswith(want), (n, got))


class Primitives(unittest.TestCase):
    def test_every_case_decodes(self):
        for c in load("primitives.json")["cases"]:
            r = v.Reader(bytes.fromhex(c["hex"]))
            t = c["type"]
            if t == "u64":
                got = str(r.u64())
            elif t in ("i64", "time (i64 nanoseconds)"):
                got = str(r.i64())
            elif t == "u8":
                got = str(r.u8())
            elif t == "bool":
                got = r.boolean()
            elif t == "f64":
                got = r.take(8)[::-1].hex()
            elif t == "string":
                got = r.string()
            elif t == "option<u64>":
                x = r.option(r.u64)
                got = None if x is None else str(x)
            elif t == "vec<u64>":
                got = [str(x) for x in r.seq(r.u64)]
            elif t == "map<string,string>":
                got = r.map(r.string, r.string)
            elif t.startswith("digest"):
                got = r.digest().hex()
            else:
                self.fail(f"unknown type {t}")
            self.assertEqual(r.at, len(r.data), c)
            want = c["value"]
            if t == "f64":
                self.assertTrue(got == want.lower().removeprefix("0x") or
                                struct.unpack(">d", bytes.fromhex(got))[0] == float(want), c)
            elif t == "time (i64 nanoseconds)":
                self.assertTrue(want.endswith(f"= {got} ns"), c)
            elif t == "u8" or t == "u64":
                self.assertEqual(got, str(want), c)
            else:
                self.assertEqual(got, want, c)

    def test_refusals(self):
        for bad in ("fe" + "00" * 16, "ff"):
            with self.assertRaises(v.DecodeError):
                v.Reader(bytes.fromhex(bad)).u64()
        with self.assertRaises(v.DecodeError):
            v.Reader(bytes.fromhex("fd0000000000000000")).u32()
        self.assertEqual(v.Reader(bytes.fromhex("fb0500")).u64(), 5)
        with self.assertRaises(v.DecodeError):
            v.Reader(b"\x02").boolean()


class Events(unittest.TestCase):
    def test_every_kind(self):
        d = load("events.json")
        self.assertGreaterEqual(len(d["events"]), 19)
        for e in d["events"]:
            stored = bytes.fromhex(e["stored"])
            ev = v.decode_record(stored)
            self.assertEqual(ev["kind"], e["kind"])
            self.assertEqual(ev["kind_index"], e["kind_index"])
            self.assertEqual(ev["time"], int(e["time_unix_nanos"]))
            self.assertEqual(v.log_key(ev), e["log_key"])
            self.assertEqual("blake3:" + v.blake3(stored).hex(), e["event_digest"])
            self.assertEqual(ev["subject"], (v.SUBJECTS[e["subject"]["variant"]],
                                             e["subject"]["value"]))
            if e["kind"] in v.RELEASE_KINDS:
                with self.assertRaises(v.DecodeError):
                    v.decode_record(e["json"].encode())
            else:
                self.assertEqual(norm(v.decode_record(e["json"].encode())), norm(ev), e["kind"])
            # Bytes left over, and a cut record, do not decode.
            with self.assertRaises(v.DecodeError):
                v.decode_record(stored + b"\x00")
            with self.assertRaises(v.DecodeError):
                v.decode_record(stored[:-1])

    def test_examples(self):
        ex = os.path.join(ROOT, "schemas", "examples")
        n = 0
        for path in sorted(glob.glob(os.path.join(ex, "valid", "*.json"))):
            with open(path, "rb") as f:
                v.decode_record(f.read().strip())
            n += 1
        self.assertGreater(n, 0)
        for path in sorted(glob.glob(os.path.join(ex, "invalid", "*.json"))):
            with open(path, "rb") as f:
                with self.assertRaises(v.DecodeError, msg=path):
                    v.decode_record(f.read().strip())


class Signed(unittest.TestCase):
    def test_signed_log(self):
        d = load("signed.json")
        by_pos = {}
        for r in d["records"]:
            stored = bytes.fromhex(r["stored"])
            ev = v.decode_record(stored)
            self.assertEqual(ev["id"], r["event_id"])
            self.assertEqual(v.log_key(ev), r["key"])
            self.assertEqual("blake3:" + v.blake3(stored).hex(), r["event_digest"])
            by_pos[r["position"]] = (stored, ev)
        for s in d["signed"]:
            stored, ev = by_pos[s["position"]]
            self.assertEqual(v.canonical(ev).hex(), s["canonical_bytes"], s["kind"])
            self.assertEqual(ev["body"]["signature"].hex(), s["signature"])
            self.assertEqual("blake3:" + v.record_hash(ev).hex(), s["record_hash"])
            self.assertEqual(ev["id"], s["event_id"])
            self.assertTrue(v.signature_ok(ev))
            self.assertTrue(v.envelope_ok(ev))
        e = d["evidence"]
        got = v.evidence_digest(e["positions"], lambda p: by_pos[p][0])
        self.assertEqual("blake3:" + got.hex(), e["digest"])
        if "log_pin" in d:
            pin = d["log_pin"]
            leaves = [v.leaf_hash(by_pos[p][0]) for p in range(1, pin["size"] + 1)]
            self.assertEqual([h.hex() for h in leaves], pin["leaf_hashes"])
            self.assertEqual(v.tree_root(leaves).hex(), pin["root"])
            for s in d["signed"]:
                ev = by_pos[s["position"]][1]
                if ev["kind"] == "decision_recorded" and ev["body"]["pin"] is not None:
                    self.assertEqual(ev["body"]["pin"], (pin["size"], bytes.fromhex(pin["root"])))
        for k in d["keys"]:
            key = v.parse_key_text(k["public_key"])
            self.assertEqual(v.blake3(key)[:8].hex(), k["key_id"])

    def test_the_signed_log_verifies_as_a_ledger(self):
        d = load("signed.json")
        trust = v.Trust(v.parse_trust(load("bundle-trust.json")))
        records = [{"position": r["position"], "key": r["key"], "event_id": r["event_id"],
                    "bytes": bytes.fromhex(r["stored"])} for r in d["records"]]
        res = v.verify_log({"ids_unique": True}, records, trust)
        self.assertTrue(res.ok, res.problems)
        # Any one byte flipped in a signed record is refused at that position.
        for s in d["signed"]:
            p = s["position"]
            for i in range(1, len(records[p - 1]["bytes"]), 7):
                bad = copy.deepcopy(records)
                b = bytearray(bad[p - 1]["bytes"])
                b[i] ^= 1
                bad[p - 1]["bytes"] = bytes(b)
                res = v.verify_log({"ids_unique": True}, bad, trust)
                self.assertFalse(res.ok, (p, i))
                self.assertEqual(res.failure_position, p, (p, i, res.problems))


class Ed25519(unittest.TestCase):
    def test_vouch_verdicts(self):
        for c in load("ed25519.json")["cases"]:
            got = v.ed25519_verify(bytes.fromhex(c["public_key"]), bytes.fromhex(c["message"]),
                                   bytes.fromhex(c["signature"]))
            self.assertEqual(got, c["vouch"] == "accept", c["name"])
            # The pure-Python path agrees with vouch on every case too.
            self.assertEqual(v._verify_python(bytes.fromhex(c["public_key"]),
                                              bytes.fromhex(c["message"]),
                                              bytes.fromhex(c["signature"])),
                             c["vouch"] == "accept", c["name"])


class Bundle(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(VECTORS, "bundle.json"), encoding="utf-8") as f:
            self.text = f.read()
        self.trust = v.Trust(v.parse_trust(load("bundle-trust.json")))

    def test_verifies(self):
        res = v.verify_bundle(v.parse_bundle(self.text), self.trust)
        self.assertTrue(res.ok, res.problems)

    def test_leaving_out_a_record(self):
        b = json.loads(self.text)
        for i, r in enumerate(b["records"]):
            c = copy.deepcopy(b)
            del c["records"][i]
            res = v.verify_bundle(c, self.trust)
            forced = r["event_id"] == b["records"][-1]["event_id"] and r["position"] == 12
            self.assertEqual(res.ok, forced, (r["position"], res.problems))

    def test_the_proven_bundle(self):
        path = os.path.join(VECTORS, "bundle-proven.json")
        if not os.path.exists(path):
            self.skipTest("no bundle-proven.json")
        with open(path, encoding="utf-8") as f:
            b = v.parse_bundle(f.read())
        keys = load("bundle-proven-keys.json")
        lv = v.parse_vkey(keys["log"], 1)
        ws = [v.parse_vkey(w, 4) for w in keys["witnesses"]]
        res = v.verify_bundle(b, self.trust, lv, ws, keys["quorum"])
        self.assertTrue(res.ok, res.problems)
        self.assertTrue(v.verify_bundle(b, self.trust).ok)
        # Any record's inclusion proof or bytes changed: refused with the log key only.
        for i, r in enumerate(b["records"]):
            c = copy.deepcopy(b)
            c["records"][i]["position"] += 100
            self.assertFalse(v.verify_bundle(c, self.trust, lv, ws, keys["quorum"]).ok)
            if r["inclusion"]:
                c = copy.deepcopy(b)
                c["records"][i]["inclusion"] = c["records"][i]["inclusion"][1:]
                self.assertFalse(v.verify_bundle(c, self.trust, lv, ws, keys["quorum"]).ok)
        c = copy.deepcopy(b)
        c["format"] = "vouch-audit-bundle-v2"
        self.assertFalse(v.verify_bundle(c, self.trust).ok)

    def test_without_trust_nothing_verifies(self):
        res = v.verify_bundle(v.parse_bundle(self.text), v.Trust([]))
        self.assertFalse(res.ok)

    def test_every_byte_flip_is_decided(self):
        raw = self.text.encode()
        ok = 0
        for i in range(len(raw)):
            b = bytearray(raw)
            b[i] ^= 1
            row = v.run_case({"id": str(i), "kind": "bundle", "text": b.decode("utf-8", "replace"),
                              "trust": load("bundle-trust.json")})
            self.assertNotIn("exception", row, row)
            ok += row["ok"]
        # Flips that change nothing checked: names in keys, the forced deployment's place...
        self.assertLess(ok, len(raw) // 10)

    def test_not_a_bundle(self):
        for text in ("", "[]", "{", '{"format":"vouch-audit-bundle-v2"}',
                     self.text.replace('"decision"', '"decisionx"', 1)):
            with self.assertRaises(v.InputError):
                v.parse_bundle(text)


def b64(h):
    import base64
    return base64.b64decode(h) if h is not None else None


class Rfc6962(unittest.TestCase):
    def files(self, kind):
        paths = sorted(glob.glob(os.path.join(RFC6962, kind, "**", "*.json"), recursive=True))
        if not paths:
            self.skipTest(f"no vectors under {RFC6962}")
        return paths

    def test_inclusion(self):
        n = 0
        for path in self.files("inclusion"):
            with open(path) as f:
                c = json.load(f)
            try:
                ok = v.verify_inclusion(c["leafIdx"], c["treeSize"], b64(c["leafHash"]),
                                        [b64(h) for h in c["proof"] or []], b64(c["root"]))
            except (TypeError, ValueError):
                ok = False
            self.assertEqual(ok, not c["wantErr"], path)
            n += 1
        self.assertEqual(n, 98)

    def test_consistency(self):
        n = 0
        for path in self.files("consistency"):
            with open(path) as f:
                c = json.load(f)
            try:
                ok = v.verify_consistency(c["size1"], c["size2"], b64(c["root1"]),
                                          b64(c["root2"]), [b64(h) for h in c["proof"] or []])
            except (TypeError, ValueError):
                ok = False
            self.assertEqual(ok, not c["wantErr"], path)
            n += 1
        self.assertEqual(n, 98)

    def test_roots(self):
        leaves = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243",
                                              "5051525354555657",
                                              "606162636465666768696a6b6c6d6e6f")]
        want = ["6e340b9c", "fac54203", "aeb6bcfe", "d37ee418", "4e3bbb1f", "76e67dad",
                "ddb89be4", "5dc9da79"]
        for n in range(1, 9):
            root = v.tree_root([v.leaf_hash(x) for x in leaves[:n]])
            self.assertTrue(root.hex().startswith(want[n - 1]), n)


class Tlog(unittest.TestCase):
    """schemas/vectors/tlog.json (schemas/transparency.md)."""

    def setUp(self):
        path = os.path.join(VECTORS, "tlog.json")
        if not os.path.exists(path):
            self.skipTest("no tlog.json")
        self.d = load("tlog.json")
        self.lv = v.parse_vkey(self.d["keys"]["log"]["vkey"], 1)
        self.wv = v.parse_vkey(self.d["keys"]["witness"]["vkey"], 4)

    def test_tree(self):
        d = self.d
        leaves = [bytes.fromhex(x["bytes"]) for x in d["leaves"]]
        for x in d["leaves"]:
            self.assertEqual(v.leaf_hash(leaves[x["index"]]).hex(), x["leaf_hash"])
        hashes = [v.leaf_hash(x) for x in leaves]
        for r in d["roots"]:
            self.assertEqual(v.tree_root(hashes[:r["size"]]).hex(), r["root"])
        h = bytes.fromhex
        for c in d["inclusion"]:
            self.assertTrue(v.verify_inclusion(c["index"], c["size"], h(c["leaf_hash"]),
                                               [h(x) for x in c["proof"]], h(c["root"])), c)
        for c in d["consistency"]:
            self.assertTrue(v.verify_consistency(c["old_size"], c["new_size"], h(c["old_root"]),
                                                 h(c["new_root"]), [h(x) for x in c["proof"]]))
        for c in d["invalid_proofs"]:
            if c["kind"] == "inclusion":
                ok = v.verify_inclusion(c["index"], c["size"], h(c["leaf_hash"]),
                                        [h(x) for x in c["proof"]], h(c["root"]))
            else:
                ok = v.verify_consistency(c["old_size"], c["new_size"], h(c["old_root"]),
                                          h(c["new_root"]), [h(x) for x in c["proof"]])
            self.assertFalse(ok, c)

    def test_notes(self):
        d = self.d
        for c in d["checkpoints"]:
            cp = v.verify_checkpoint(c["signed_note"], self.lv)
            self.assertEqual((cp["size"], cp["root"].hex()), (c["size"], c["root"]))
        note = d["cosignature"]["cosigned_note"]
        v.verify_checkpoint(note, self.lv, [self.wv], 1)
        with self.assertRaises(ValueError):
            v.verify_checkpoint(d["checkpoints"][1]["signed_note"], self.lv, [self.wv], 1)
        index, hashes, cpnote = v.parse_tlog_proof(d["tlog_proof"]["file"])
        cp = v.verify_checkpoint(cpnote, self.lv, [self.wv], 1)
        leaf = bytes.fromhex(d["leaves"][index]["bytes"])
        self.assertTrue(v.verify_inclusion(index, cp["size"], v.leaf_hash(leaf), hashes,
                                           cp["root"]))
        pc = d["prove_consistency"]
        old, proof = v.parse_consistency_file(pc["output"])
        a = v.verify_checkpoint(d["checkpoints"][0]["signed_note"], self.lv)
        b = v.verify_checkpoint(d["checkpoints"][1]["signed_note"], self.lv)
        self.assertEqual(old, a["size"])
        self.assertTrue(v.verify_consistency(a["size"], b["size"], a["root"], b["root"], proof))
        other = v.verify_checkpoint(d["split_view"]["signed_note"], self.lv)
        self.assertFalse(v.verify_consistency(other["size"], b["size"], other["root"],
                                              b["root"], proof))


class Notes(unittest.TestCase):
    """Checkpoints and cosignatures signed here with PyNaCl."""

    def setUp(self):
        import nacl.signing
        self.log = nacl.signing.SigningKey(bytes([1]) * 32)
        self.wit = nacl.signing.SigningKey(bytes([2]) * 32)
        import base64
        lk = bytes(self.log.verify_key)
        wk = bytes(self.wit.verify_key)
        self.origin = "example.test/log"
        self.log_vkey = "%s+%s+%s" % (self.origin, v.note_key_id(self.origin, 1, lk).hex(),
                                      base64.b64encode(b"\x01" + lk).decode())
        self.wit_vkey = "w.test+%s+%s" % (v.note_key_id("w.test", 4, wk).hex(),
                                          base64.b64encode(b"\x04" + wk).decode())

    def note(self, size, root, cosign=True):
        import base64
        body = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        lk = bytes(self.log.verify_key)
        sig = self.log.sign(body.encode()).signature
        lines = [f"\u2014 {self.origin} " + base64.b64encode(
            v.note_key_id(self.origin, 1, lk) + sig).decode()]
        if cosign:
            ts = 1700000000
            msg = f"cosignature/v1\ntime {ts}\n".encode() + body.encode()
            wk = bytes(self.wit.verify_key)
            cs = self.wit.sign(msg).signature
            lines.append("\u2014 w.test " + base64.b64encode(
                v.note_key_id("w.test", 4, wk) + ts.to_bytes(8, "big") + cs).decode())
        return body + "\n" + "\n".join(lines) + "\n"

    def test_checkpoint_and_quorum(self):
        leaves = [v.leaf_hash(bytes([i])) for i in range(13)]
        note = self.note(13, v.tree_root(leaves))
        lv, wv = v.parse_vkey(self.log_vkey, 1), v.parse_vkey(self.wit_vkey, 4)
        cp = v.verify_checkpoint(note, lv, [wv], 1)
        self.assertEqual(cp["size"], 13)
        with self.assertRaises(ValueError):
            v.verify_checkpoint(self.note(13, v.tree_root(leaves), cosign=False), lv, [wv], 1)
        for i in range(len(note.encode())):
            b = bytearray(note.encode())
            b[i] ^= 1
            try:
                v.verify_checkpoint(b.decode("utf-8"), lv, [wv], 1)
                flipped_ok = True
            except (ValueError, UnicodeDecodeError):
                flipped_ok = False
            self.assertFalse(flipped_ok, i)


if __name__ == "__main__":
    unittest.main(verbosity=1)

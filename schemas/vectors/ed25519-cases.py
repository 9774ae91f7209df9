# Makes ed25519.json: Ed25519 edge cases with the verdict vouch (ed25519-dalek verify_strict)
# gives each, and what the Python packages `cryptography` and PyNaCl decide (informative).
# Run: python3 ed25519-cases.py ed25519.json  (needs cryptography and pynacl installed).
# crates/vouch-chain/tests/vectors.rs checks the `vouch` verdicts.
import hashlib, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization
p = 2**255-19; L = 2**252 + 27742317777372353535851937790883648493
d = (-121665 * pow(121666, p-2, p)) % p
seed = bytes([0x11])*32
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
msg = b"vouch ed25519 vector"
sig = sk.sign(msg)
def crypt(pkb, sigb, m):
    try:
        Ed25519PublicKey.from_public_bytes(pkb).verify(sigb, m); return "accept"
    except Exception as e: return "refuse"
cases = []
import nacl.signing, nacl.exceptions
def nacl_v(pkb, sigb, m):
    try:
        nacl.signing.VerifyKey(pkb).verify(m, sigb); return "accept"
    except Exception: return "refuse"
def add(name, pkb, m, sigb, vouch, why):
    cases.append({"name": name, "public_key": pkb.hex(), "message": m.hex(), "signature": sigb.hex(),
                  "vouch": vouch, "why": why, "python_cryptography_48_0_0": crypt(pkb, sigb, m), "python_pynacl_1_6_2": nacl_v(pkb, sigb, m)})
add("valid", pk, msg, sig, "accept", "an ordinary RFC 8032 signature by the test key with seed 0x11 * 32")
add("wrong message", pk, msg + b"!", sig, "refuse", "the signature is over another message")
S = int.from_bytes(sig[32:], "little")
add("non-canonical S (S + L)", pk, msg, sig[:32] + (S + L).to_bytes(32, "little"), "refuse", "S must be below the group order L")
ident = bytes([1]) + bytes(31)
add("small-order key, identity R, S = 0", ident, msg, ident + bytes(32), "refuse",
    "the public key is the identity point (order 1); with R = identity and S = 0 the cofactorless equation holds for every message")
add("small-order key, identity R, S = 0, empty message", ident, b"", ident + bytes(32), "refuse", "as above, any message")
# small-order R with the valid key: S = h*a mod L, R = identity
h = hashlib.sha512(seed).digest()
a = bytearray(h[:32]); a[0] &= 248; a[31] &= 127; a[31] |= 64
a = int.from_bytes(a, "little")
k = int.from_bytes(hashlib.sha512(ident + pk + msg).digest(), "little") % L
add("small-order R (identity) with a valid key", pk, msg, ident + ((k * a) % L).to_bytes(32, "little"), "refuse",
    "R is the identity point (small order); S = H(R || A || M) * a makes the cofactorless equation hold")
# key that is not a curve point
def on_curve(y):
    u = (y*y - 1) % p; v = (d*y*y + 1) % p
    x2 = u * pow(v, p-2, p) % p
    return x2 == 0 or pow(x2, (p-1)//2, p) == 1
y = 2
while on_curve(y): y += 1
add("key not on the curve", y.to_bytes(32, "little"), msg, sig, "refuse", f"y = {y} gives no x: the 32 bytes are not a point")
# order-2 key (0, -1): y = p - 1
o2 = (p-1).to_bytes(32, "little")
i = 0
while int.from_bytes(hashlib.sha512(ident + o2 + b"m%d" % i).digest(), "little") % L % 2: i += 1
add("small-order key (order 2), identity R, S = 0", o2, b"m%d" % i, ident + bytes(32), "refuse",
    "the key (0, -1) has order 2; H(R || A || M) is even for this message, so [h]A is the identity and the cofactorless equation holds")
json.dump({"about": "Ed25519 verification cases: `vouch` is what vouch (ed25519-dalek 2.2 verify_strict) decides, checked by crates/vouch-chain/tests/vectors.rs; the python_* fields record what two Python libraries decided when this file was made (informative). Keys, messages and signatures are hex. See schemas/record-form.md, \"Ed25519\".", "cases": cases}, open(sys.argv[1], "w"), indent=2)
open(sys.argv[1], "a").write("\n")
for c in cases: print(c["name"], c["vouch"], c["python_cryptography_48_0_0"], c["python_pynacl_1_6_2"])

#!/usr/bin/env python3
"""Verify a DSSE envelope that `vouch attest` wrote, with securesystemslib (a verifier
Vouch did not write). Used by tests/e2e/attest.rs; usable by hand.

    python3 scripts/verify_dsse.py ENVELOPE.json KEY.pem [KEY.pem ...]

Each key is a PEM SubjectPublicKeyInfo (`vouch keys pem`). securesystemslib builds the
key and computes its default keyid itself (SHA-256 of the key's canonical JSON), and
counts only signatures whose `keyid` equals it, so this also checks Vouch's keyid. Every
key given must have signed (threshold = number of keys). The payload must be an in-toto
Statement v1 with a SLSA VSA v1 predicate.

Exit 0 verified, 1 not verified (a bad signature, another key, a changed payload),
2 usage or a missing library.
"""
import json
import sys

try:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey
except ImportError as e:  # the caller decides whether a missing tool is a failure
    print(f"verify_dsse.py: securesystemslib or cryptography is missing: {e}", file=sys.stderr)
    sys.exit(2)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        envelope = Envelope.from_dict(json.loads(f.read()))
    keys = []
    for path in argv[2:]:
        with open(path, "rb") as f:
            keys.append(SSlibKey.from_crypto(load_pem_public_key(f.read())))
    try:
        accepted = envelope.verify(keys, len(keys))
    except VerificationError as e:
        print(f"securesystemslib: REFUSED: {e}")
        return 1
    statement = json.loads(envelope.payload)
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        print(f"securesystemslib: REFUSED: _type is {statement.get('_type')!r}")
        return 1
    if statement.get("predicateType") != "https://slsa.dev/verification_summary/v1":
        print(f"securesystemslib: REFUSED: predicateType is {statement.get('predicateType')!r}")
        return 1
    result = statement["predicate"]["verificationResult"]
    print(f"securesystemslib: verified by keyid(s) {', '.join(sorted(accepted))}; result {result}")
    for subject in statement["subject"]:
        print(f"  subject {subject['name']} sha256:{subject['digest']['sha256']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # not a verdict: a file that is not an envelope, a bad key
        print(f"verify_dsse.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)

#!/usr/bin/env node
// Verify a Sigstore bundle v0.3 that `vouch attest --format sigstore` wrote, with
// @sigstore/verify (a verifier Vouch did not write), offline, with a public key instead
// of a certificate and no transparency log. Used by tests/e2e/attest.rs; usable by hand.
//
//   NODE_PATH=target/test-tools/node/node_modules node scripts/node/verify_bundle.js BUNDLE.json KEY.pem
//
// The key is named by its keyid, computed here on its own (the hex SHA-256 of
// {"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}); sigstore-js
// looks it up by the bundle's verificationMaterial.publicKey.hint, so this also checks
// Vouch's hint. Exit 0 verified, 1 refused, 2 usage or a missing library.
'use strict';

const crypto = require('crypto');
const fs = require('fs');

let bundle, verify;
try {
  bundle = require('@sigstore/bundle');
  verify = require('@sigstore/verify');
} catch (e) {
  console.error(`verify_bundle.js: @sigstore/verify is missing: ${e.message}`);
  process.exit(2);
}

function main(argv) {
  if (argv.length !== 4) {
    console.error('usage: verify_bundle.js BUNDLE.json KEY.pem');
    return 2;
  }
  const json = JSON.parse(fs.readFileSync(argv[2], 'utf8'));
  const key = crypto.createPublicKey(fs.readFileSync(argv[3], 'utf8'));
  const der = key.export({ format: 'der', type: 'spki' });
  const raw = der.subarray(der.length - 32).toString('hex');
  const keyid = crypto
    .createHash('sha256')
    .update(`{"keytype":"ed25519","keyval":{"public":"${raw}"},"scheme":"ed25519"}`)
    .digest('hex');
  const emptyRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  const trust = verify.toTrustMaterial(emptyRoot, {
    [keyid]: { rawBytes: der, keyDetails: 'PKIX_ED25519', validFor: { start: new Date(0) } },
  });
  const verifier = new verify.Verifier(trust, {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  let signer;
  try {
    const parsed = bundle.bundleFromJSON(json);
    signer = verifier.verify(verify.toSignedEntity(parsed));
  } catch (e) {
    console.log(`@sigstore/verify: REFUSED: ${e.code || e.name}: ${e.message}`);
    return 1;
  }
  const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString('utf8'));
  if (statement.predicateType !== 'https://slsa.dev/verification_summary/v1') {
    console.log(`@sigstore/verify: REFUSED: predicateType ${statement.predicateType}`);
    return 1;
  }
  console.log(
    `@sigstore/verify: verified, key ${keyid} (${signer.key.asymmetricKeyType}); result ${statement.predicate.verificationResult}`
  );
  for (const s of statement.subject) {
    console.log(`  subject ${s.name} sha256:${s.digest.sha256}`);
  }
  return 0;
}

try {
  process.exit(main(process.argv));
} catch (e) {
  // Not a verdict: a file that is not a bundle, a bad key.
  console.error(`verify_bundle.js: ${e.name}: ${e.message}`);
  process.exit(2);
}

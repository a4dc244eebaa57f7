import { enums, type Key, type SignaturePacket } from 'openpgp';

/**
 * The key that is stored and served: the uploaded one reduced to what a client needs and can verify. It
 * runs in the key-check worker (pgpCheck.ts) after the key passed every rule, on that worker's own parse.
 *
 * Why: a client checks a key at every encryption, and openpgp.js tries self-signatures newest first until
 * one verifies. A key with 200 corrupted copies of its self-signature cost 259 ms per encryption instead of
 * 6 ms, in every peer's browser, for as long as it was served. Kept (like GnuPG's `export-minimal`, and
 * keys.openpgp.org's stripping of third-party certifications):
 * - per user ID (and user attribute): the newest self-certification that verifies now, and the newest
 *   revocation of it that verifies; user IDs without a valid self-certification are dropped;
 * - per subkey: the newest binding signature that verifies now (for a signing subkey, with a valid
 *   embedded back-signature), and its newest valid revocation; subkeys without one are dropped;
 * - the newest direct-key signature that verifies now, and any valid key revocation.
 * Dropped: third-party certifications (their issuers' keys are not here, so nothing can verify them),
 * and every signature that does not verify.
 */
// openpgp skips the time checks for a null date: a revocation holds whenever it was made.
const ANY_TIME = null as unknown as Date;

export async function minimiseKey(key: Key, now: Date): Promise<Key> {
  const primary = key.keyPacket;
  const holder = key as Key & { directSignatures: SignaturePacket[] };
  holder.directSignatures = await newestValid(holder.directSignatures, (s) => s.verify(primary, enums.signature.key, { key: primary }, now));
  key.revocationSignatures = await newestValid(key.revocationSignatures, (s) => s.verify(primary, enums.signature.keyRevocation, { key: primary }, ANY_TIME));
  for (const user of key.users) {
    const data = { userID: user.userID, userAttribute: user.userAttribute, key: primary };
    user.selfCertifications = await newestValid(user.selfCertifications, (s) => s.verify(primary, enums.signature.certGeneric, data, now));
    user.otherCertifications = [];
    user.revocationSignatures = await newestValid(user.revocationSignatures, (s) => s.verify(primary, enums.signature.certRevocation, data, ANY_TIME));
  }
  key.users = key.users.filter((user) => user.selfCertifications.length > 0);
  for (const subkey of key.subkeys) {
    const data = { key: primary, bind: subkey.keyPacket };
    subkey.bindingSignatures = await newestValid(subkey.bindingSignatures, async (s) => {
      await s.verify(primary, enums.signature.subkeyBinding, data, now);
      // A signing subkey is bound only with the subkey's own back-signature (RFC 9580 5.2.1, 0x19).
      if (canSign(s)) {
        if (!s.embeddedSignature) throw new Error('signing subkey without a back-signature');
        await s.embeddedSignature.verify(subkey.keyPacket, enums.signature.keyBinding, data, now);
      }
    });
    subkey.revocationSignatures = await newestValid(subkey.revocationSignatures, (s) => s.verify(primary, enums.signature.subkeyRevocation, data, ANY_TIME));
  }
  key.subkeys = key.subkeys.filter((subkey) => subkey.bindingSignatures.length > 0);
  return key;
}

function canSign(signature: SignaturePacket): boolean {
  const flags = signature.keyFlags?.[0] ?? 0;
  return (flags & enums.keyFlags.signData) !== 0;
}

/**
 * The newest of `signatures` for which `verify` does not throw, alone in a list (empty when none does).
 * Tried newest first, so a key whose newest signature is good costs one verification.
 */
async function newestValid(signatures: readonly SignaturePacket[], verify: (s: SignaturePacket) => Promise<void>): Promise<SignaturePacket[]> {
  const byAge = [...signatures].sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0));
  for (const signature of byAge) {
    try {
      await verify(signature);
      return [signature];
    } catch {
      // not verifiable now: dropped
    }
  }
  return [];
}

// The algorithms a JWT key may verify, pinned by the kind of key: an HMAC secret only
// HS*, an RSA key only RS*/PS*, an EC key only the ES* of its curve, Ed25519 only EdDSA.
// A token cannot choose another (no "none", no HS256 signed with the public key).
import { createPublicKey, type KeyObject } from "node:crypto";

export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const EC_ALGORITHMS: Record<string, string> = { "prime256v1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512" };

/** What a JWKS may hold: asymmetric keys only (a key set is public, so never an HMAC secret). */
export const JWKS_ALGORITHMS = [...RSA_ALGORITHMS, ...Object.values(EC_ALGORITHMS), "EdDSA", "Ed25519"];

/** The PEM public key (or certificate) and the algorithms it may verify; undefined when not one. */
export function publicKeyOf(pem: string): { key: KeyObject; algorithms: string[] } | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return undefined;
  }
  switch (key.asymmetricKeyType) {
    case "rsa":
    case "rsa-pss":
      return { key, algorithms: RSA_ALGORITHMS };
    case "ec": {
      const algorithm = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ""];
      return algorithm === undefined ? undefined : { key, algorithms: [algorithm] };
    }
    case "ed25519":
      return { key, algorithms: ["EdDSA", "Ed25519"] };
    default:
      return undefined;
  }
}

export function isPublicKeyPem(pem: string): boolean {
  return publicKeyOf(pem) !== undefined;
}

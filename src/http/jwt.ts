// JWTs on the trigger API (jose): verified with the one configured key (a JWKS URL, a PEM
// public key or an HMAC secret), its algorithms pinned by the key's kind; exp is required,
// exp and nbf allow 60 s of clock skew, iss and aud must match. A failure has a reason from
// a closed set, never the token, a claim's value or a key.
import type { KeyObject } from "node:crypto";
import type * as Jose from "jose";
import type { JWTVerifyGetKey } from "jose";
import type { JwtConfig } from "../config/schema.js";
import { HMAC_ALGORITHMS, JWKS_ALGORITHMS, publicKeyOf } from "./jwt-keys.js";

export const CLOCK_SKEW_S = 60;

export type JwtFailure =
  | "malformed"
  | "expired"
  | "not yet valid"
  | "no exp claim"
  | "wrong issuer"
  | "wrong audience"
  | "invalid claims"
  | "algorithm not allowed"
  | "bad signature"
  | "unknown key";

export type JwtCheck =
  | { ok: true; subject?: string }
  | { ok: false; reason: JwtFailure }
  /** The key set could not be fetched: the token may be fine, so this is not its fault. */
  | { ok: false; unavailable: true };

export interface JwtVerifierOptions {
  /** Epoch ms, for exp and nbf. */
  now?: () => number;
}

export type JwtVerifier = (token: string) => Promise<JwtCheck>;

/** A compact JWS: three base64url parts (the second may not be empty). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

type JoseModule = typeof Jose;
let joseModule: Promise<JoseModule> | undefined;

/** jose is loaded with the first token to verify: a relay without auth.api.jwt never loads it. */
function loadJose(): Promise<JoseModule> {
  return (joseModule ??= import("jose"));
}

export function createJwtVerifier(config: JwtConfig, options: JwtVerifierOptions = {}): JwtVerifier {
  const now = options.now ?? Date.now;
  let ready: Promise<{ jose: JoseModule; key: JWTVerifyGetKey | KeyObject | Uint8Array; algorithms: string[] }> | undefined;
  return async (token) => {
    const { jose, key, algorithms } = await (ready ??= loadJose().then((jose) => ({ jose, ...verificationKey(jose, config) })));
    try {
      const { payload } = await jose.jwtVerify(token, key as JWTVerifyGetKey, {
        algorithms,
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims: ["exp"],
        clockTolerance: CLOCK_SKEW_S,
        currentDate: new Date(now()),
      });
      return { ok: true, ...(typeof payload.sub === "string" && { subject: payload.sub }) };
    } catch (err) {
      return failure(jose.errors, err);
    }
  };
}

/** What verifies: the JWKS (fetched lazily, cached, fetched again for an unknown kid), the PEM key, or the secret's bytes. */
function verificationKey(jose: JoseModule, config: JwtConfig): { key: JWTVerifyGetKey | KeyObject | Uint8Array; algorithms: string[] } {
  if (config.jwks_url !== undefined) return { key: remoteKeys(jose, new URL(config.jwks_url)), algorithms: JWKS_ALGORITHMS };
  if (config.public_key !== undefined) {
    const parsed = publicKeyOf(config.public_key);
    // The schema refused anything else; this is a bug if it happens.
    if (parsed === undefined) throw new Error("auth.api.jwt.public_key is not a usable public key");
    return parsed;
  }
  return { key: new TextEncoder().encode(config.secret ?? ""), algorithms: [...HMAC_ALGORITHMS] };
}

/** Thrown when the key set could not be had (unreachable, not 200, not a key set, too slow). */
class KeysUnavailable extends Error {}

/** The JWKS getter, its failures sorted: about the token (its kid, its alg), or about fetching the keys. */
function remoteKeys(jose: JoseModule, url: URL): JWTVerifyGetKey {
  const { errors } = jose;
  const remote = jose.createRemoteJWKSet(url);
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      const aboutToken = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSEAlgNotAllowed, errors.JOSENotSupported].some((type) => err instanceof type);
      throw aboutToken ? err : new KeysUnavailable("the key set could not be fetched", { cause: err });
    }
  };
}

function failure(errors: JoseModule["errors"], err: unknown): JwtCheck {
  if (err instanceof KeysUnavailable) return { ok: false, unavailable: true };
  if (err instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return { ok: false, reason: "not yet valid" };
      case "iss":
        return { ok: false, reason: "wrong issuer" };
      case "aud":
        return { ok: false, reason: "wrong audience" };
      case "exp":
        return { ok: false, reason: err.reason === "missing" ? "no exp claim" : "expired" };
      default:
        return { ok: false, reason: "invalid claims" };
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return { ok: false, reason: "algorithm not allowed" };
  if (err instanceof errors.JWSSignatureVerificationFailed) return { ok: false, reason: "bad signature" };
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return { ok: false, reason: "unknown key" };
  return { ok: false, reason: "malformed" };
}

const verifiers = new WeakMap<JwtConfig, JwtVerifier>();

/** One verifier per loaded jwt config, so its key set is fetched once and cached until a reload. */
export function jwtVerifierFor(config: JwtConfig): JwtVerifier {
  let verifier = verifiers.get(config);
  if (verifier === undefined) {
    verifier = createJwtVerifier(config);
    verifiers.set(config, verifier);
  }
  return verifier;
}

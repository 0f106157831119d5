import { generateKeyPairSync } from "node:crypto";
import { exportJWK, SignJWT, UnsecuredJWT, type JWK } from "jose";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createJwtVerifier } from "../../src/http/jwt.js";

const ISSUER = "https://idp.example";
const AUDIENCE = "wecom-relay";
const SECRET = "jwt-hmac-secret-0123456789abcdef-0123";
/** Token times are seconds; the verifier's clock is injected (epoch ms). */
const NOW_S = 1_750_000_000;
const now = () => NOW_S * 1000;

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rsaPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
const ecPem = ec.publicKey.export({ type: "spki", format: "pem" }).toString();

interface Claims {
  iss?: string;
  aud?: string;
  exp?: number | null;
  nbf?: number;
  sub?: string;
}

async function sign(key: Parameters<SignJWT["sign"]>[0], alg: string, claims: Claims = {}, kid?: string): Promise<string> {
  const jwt = new SignJWT({ ...(claims.sub !== undefined && { sub: claims.sub }) })
    .setProtectedHeader({ alg, ...(kid !== undefined && { kid }) })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt(NOW_S - 10);
  if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? NOW_S + 300);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

const hmacKey = new TextEncoder().encode(SECRET);
const withSecret = createJwtVerifier({ secret: SECRET, issuer: ISSUER, audience: AUDIENCE }, { now });
const withPem = createJwtVerifier({ public_key: rsaPem, issuer: ISSUER, audience: AUDIENCE }, { now });

describe("JWT verification", () => {
  it("accepts a valid token signed with the HMAC secret (its UTF-8 bytes), an RSA key or an EC key", async () => {
    expect(await withSecret(await sign(hmacKey, "HS256", { sub: "ci-bot" }))).toEqual({ ok: true, subject: "ci-bot" });
    expect(await withSecret(await sign(hmacKey, "HS512"))).toEqual({ ok: true });
    expect(await withPem(await sign(rsa.privateKey, "RS256"))).toEqual({ ok: true });
    expect(await withPem(await sign(rsa.privateKey, "PS384"))).toEqual({ ok: true });
    const withEc = createJwtVerifier({ public_key: ecPem, issuer: ISSUER, audience: [AUDIENCE, "other"] }, { now });
    expect(await withEc(await sign(ec.privateKey, "ES256"))).toEqual({ ok: true });
  });

  it("refuses an expired token, allowing 60 s of clock skew", async () => {
    expect(await withSecret(await sign(hmacKey, "HS256", { exp: NOW_S - 61 }))).toEqual({ ok: false, reason: "expired" });
    expect(await withSecret(await sign(hmacKey, "HS256", { exp: NOW_S - 50 }))).toEqual({ ok: true });
  });

  it("refuses a token that is not yet valid, allowing 60 s of clock skew", async () => {
    expect(await withSecret(await sign(hmacKey, "HS256", { nbf: NOW_S + 61 }))).toEqual({ ok: false, reason: "not yet valid" });
    expect(await withSecret(await sign(hmacKey, "HS256", { nbf: NOW_S + 50 }))).toEqual({ ok: true });
  });

  it("refuses a token without exp: it would never expire", async () => {
    expect(await withSecret(await sign(hmacKey, "HS256", { exp: null }))).toEqual({ ok: false, reason: "no exp claim" });
  });

  it("refuses the wrong issuer and the wrong audience", async () => {
    expect(await withSecret(await sign(hmacKey, "HS256", { iss: "https://evil.example" }))).toEqual({ ok: false, reason: "wrong issuer" });
    expect(await withSecret(await sign(hmacKey, "HS256", { aud: "another-service" }))).toEqual({ ok: false, reason: "wrong audience" });
  });

  it("refuses a token signed with another key", async () => {
    expect(await withPem(await sign(otherRsa.privateKey, "RS256"))).toEqual({ ok: false, reason: "bad signature" });
    expect(await withSecret(await sign(new TextEncoder().encode(`${SECRET}-not`), "HS256"))).toEqual({ ok: false, reason: "bad signature" });
  });

  it('refuses alg "none" (an unsigned token)', async () => {
    const unsigned = new UnsecuredJWT({}).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime(NOW_S + 300).encode();
    expect(unsigned.endsWith(".")).toBe(true);
    expect(await withSecret(unsigned)).toEqual({ ok: false, reason: "algorithm not allowed" });
    expect(await withPem(unsigned)).toEqual({ ok: false, reason: "algorithm not allowed" });
  });

  it("refuses algorithm confusion: HS256 signed with the public key's PEM as the secret", async () => {
    const forged = await sign(new TextEncoder().encode(rsaPem), "HS256");
    expect(await withPem(forged)).toEqual({ ok: false, reason: "algorithm not allowed" });
    // And an asymmetric algorithm against the HMAC secret.
    expect(await withSecret(await sign(rsa.privateKey, "RS256"))).toEqual({ ok: false, reason: "algorithm not allowed" });
  });

  it("refuses an EC key's token signed with a curve other than the key's", async () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const withEc = createJwtVerifier({ public_key: ecPem, issuer: ISSUER, audience: AUDIENCE }, { now });
    expect(await withEc(await sign(p384.privateKey, "ES384"))).toEqual({ ok: false, reason: "algorithm not allowed" });
  });

  it("refuses malformed tokens with a reason that quotes nothing of them", async () => {
    for (const token of ["a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30", "eyJ.eyJ.sig"]) {
      const check = await withSecret(token);
      expect(check).toEqual({ ok: false, reason: "malformed" });
    }
  });
});

describe("JWT verification with a JWKS URL", () => {
  const IDP = "https://idp.example";
  const JWKS_PATH = "/.well-known/jwks.json";
  const jwk = async (key: typeof rsa.publicKey, kid: string): Promise<JWK> => ({ ...(await exportJWK(key)), kid, alg: "RS256", use: "sig" });

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => {
    vi.useRealTimers();
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });

  const verifier = () => createJwtVerifier({ jwks_url: IDP + JWKS_PATH, issuer: ISSUER, audience: AUDIENCE }, { now });

  it("fetches the key set once and verifies with the key its kid names", async () => {
    const scope = nock(IDP).get(JWKS_PATH).once().reply(200, { keys: [await jwk(rsa.publicKey, "k1")] });
    const verify = verifier();
    expect(await verify(await sign(rsa.privateKey, "RS256", {}, "k1"))).toEqual({ ok: true });
    expect(await verify(await sign(rsa.privateKey, "RS256", { sub: "again" }, "k1"))).toEqual({ ok: true, subject: "again" });
    scope.done();
  });

  it("after a key rotation, fetches the key set again for an unknown kid (once the 30 s cooldown has passed)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW_S * 1000);
    const first = nock(IDP).get(JWKS_PATH).once().reply(200, { keys: [await jwk(rsa.publicKey, "k1")] });
    const verify = verifier();
    expect(await verify(await sign(rsa.privateKey, "RS256", {}, "k1"))).toEqual({ ok: true });
    first.done();

    // The identity provider rotates to k2.
    const rotated = nock(IDP).get(JWKS_PATH).reply(200, { keys: [await jwk(otherRsa.publicKey, "k2")] });
    const k2Token = await sign(otherRsa.privateKey, "RS256", {}, "k2");
    // Within the cooldown an unknown kid does not make the relay fetch (tokens with made-up kids cannot hammer the IdP).
    vi.setSystemTime(NOW_S * 1000 + 5_000);
    expect(await verify(k2Token)).toEqual({ ok: false, reason: "unknown key" });
    expect(rotated.isDone()).toBe(false);
    vi.setSystemTime(NOW_S * 1000 + 31_000);
    expect(await verify(k2Token)).toEqual({ ok: true });
    rotated.done();
  });

  it("refuses a kid the key set does not have, after looking again", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW_S * 1000);
    const scope = nock(IDP).get(JWKS_PATH).twice().reply(200, { keys: [await jwk(rsa.publicKey, "k1")] });
    const verify = verifier();
    expect(await verify(await sign(rsa.privateKey, "RS256", {}, "k1"))).toEqual({ ok: true });
    vi.setSystemTime(NOW_S * 1000 + 31_000);
    expect(await verify(await sign(otherRsa.privateKey, "RS256", {}, "nobody"))).toEqual({ ok: false, reason: "unknown key" });
    scope.done();
  });

  it("refuses an HMAC token even when the key set holds a symmetric key: a key set is public", async () => {
    const scope = nock(IDP).get(JWKS_PATH).reply(200, { keys: [{ kty: "oct", k: Buffer.from(SECRET).toString("base64url"), kid: "k1", alg: "HS256" }] });
    expect(await verifier()(await sign(hmacKey, "HS256", {}, "k1"))).toEqual({ ok: false, reason: "algorithm not allowed" });
    expect(scope.isDone()).toBe(false);
  });

  it("says the keys are unavailable, not that the token is bad, when the key set cannot be fetched", async () => {
    nock(IDP).get(JWKS_PATH).reply(500, "down");
    expect(await verifier()(await sign(rsa.privateKey, "RS256", {}, "k1"))).toEqual({ ok: false, unavailable: true });
    nock(IDP).get(JWKS_PATH).replyWithError("connect ECONNREFUSED");
    expect(await verifier()(await sign(rsa.privateKey, "RS256", {}, "k1"))).toEqual({ ok: false, unavailable: true });
  });
});

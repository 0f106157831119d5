import { generateKeyPairSync } from "node:crypto";
import { exportJWK, SignJWT } from "jose";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogs } from "../support/capture-logs.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

const ISSUER = "https://idp.example";
const AUDIENCE = "wecom-relay";
const API_TOKEN = "static-api-token-0123456789";
const HMAC_SECRET = "hmac-jwt-secret-0123456789abcdefghij";
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();

const nowS = () => Math.floor(Date.now() / 1000);
function token(key: Parameters<SignJWT["sign"]>[0], alg: string, claims: { exp?: number; aud?: string } = {}, kid?: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg, ...(kid !== undefined && { kid }) })
    .setIssuer(ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setExpirationTime(claims.exp ?? nowS() + 300)
    .sign(key);
}

function apiConfig(wecomUrl: string, jwt: string): string {
  return robotConfig(wecomUrl).replace("targets:", `auth:\n  api:\n    bearer_token: "${API_TOKEN}"\n    jwt: ${jwt}\ntargets:`);
}

const send = (relay: RunningRelay, authorization: string) =>
  relay.post("/api/v1/messages", { receiver: "sre", text: "deploy finished" }, { authorization });

describe("the trigger API with JWTs", () => {
  let wecom: FakeWeCom;
  beforeAll(async () => {
    wecom = await startFakeWeCom();
  });
  afterAll(async () => {
    await wecom.close();
  });

  describe("with a PEM public key", () => {
    let relay: RunningRelay;
    beforeAll(async () => {
      relay = await startRelay(apiConfig(wecom.url, `{ public_key: ${JSON.stringify(pem)}, issuer: "${ISSUER}", audience: "${AUDIENCE}" }`));
    });
    afterAll(async () => {
      await relay.close();
    });

    it("accepts a valid JWT, and the static bearer token keeps working", async () => {
      const viaJwt = await send(relay, `Bearer ${await token(rsa.privateKey, "RS256")}`);
      expect(viaJwt.status).toBe(202);
      const { id } = (await viaJwt.json()) as { id: string };
      const status = await fetch(`${relay.url}/api/v1/messages/${id}`, { headers: { authorization: `bearer ${await token(rsa.privateKey, "PS256")}` } });
      expect(status.status).toBe(200);
      expect((await send(relay, `Bearer ${API_TOKEN}`)).status).toBe(202);
    });

    it("answers 401 with the reason and RFC 6750's WWW-Authenticate, counted as unauthorized", async () => {
      const before = await relay.metric("wecom_relay_requests_rejected_total", { source: "api", reason: "unauthorized" });
      const expired = await send(relay, `Bearer ${await token(rsa.privateKey, "RS256", { exp: nowS() - 120 })}`);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual({ error: "invalid token", detail: { reason: "expired" } });
      expect(expired.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="expired"');
      const wrongAudience = await send(relay, `Bearer ${await token(rsa.privateKey, "RS256", { aud: "grafana" })}`);
      expect(await wrongAudience.json()).toEqual({ error: "invalid token", detail: { reason: "wrong audience" } });
      // Not a JWT at all: the static-token answer, as before.
      const wrong = await send(relay, "Bearer not-the-token");
      expect(wrong.status).toBe(401);
      expect(((await wrong.json()) as { error: string }).error).toBe("invalid credentials");
      expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "api", reason: "unauthorized" })).toBe(before + 3);
    });
  });

  it("with an HMAC secret, names no secret in the answer or the logs when the token is refused", async () => {
    const relay = await startRelay(apiConfig(wecom.url, `{ secret: "${HMAC_SECRET}", issuer: "${ISSUER}", audience: "${AUDIENCE}" }`));
    const logs = captureLogs("debug");
    try {
      const key = new TextEncoder().encode(HMAC_SECRET);
      expect((await send(relay, `Bearer ${await token(key, "HS256")}`)).status).toBe(202);
      // Signed with the secret plus one character: a bad signature.
      const forged = await token(new TextEncoder().encode(`${HMAC_SECRET}x`), "HS256");
      const refused = await send(relay, `Bearer ${forged}`);
      expect(refused.status).toBe(401);
      const body = await refused.text();
      expect(JSON.parse(body)).toEqual({ error: "invalid token", detail: { reason: "bad signature" } });
      const said = [body, refused.headers.get("www-authenticate"), ...logs.lines].join("\n");
      expect(logs.lines.some((line) => line.includes("request rejected"))).toBe(true);
      expect(said).not.toContain(HMAC_SECRET);
      expect(said).not.toContain(forged);
    } finally {
      logs.stop();
      await relay.close();
    }
  });

  describe("with a JWKS URL", () => {
    const IDP = "https://idp.example";
    beforeAll(() => {
      nock.disableNetConnect();
      nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    });
    afterAll(() => {
      nock.cleanAll();
      nock.enableNetConnect();
    });

    it("verifies with the fetched key set, and answers 503 (not 401) while the key set cannot be fetched", async () => {
      const relay = await startRelay(apiConfig(wecom.url, `{ jwks_url: "${IDP}/jwks", issuer: "${ISSUER}", audience: "${AUDIENCE}" }`));
      try {
        nock(IDP).get("/jwks").replyWithError("connect ECONNREFUSED");
        const down = await send(relay, `Bearer ${await token(rsa.privateKey, "RS256", {}, "k1")}`);
        expect(down.status).toBe(503);
        expect(down.headers.get("retry-after")).toBe("5");
        expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "api", reason: "jwks_unavailable" })).toBe(1);

        const scope = nock(IDP).get("/jwks").reply(200, { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: "k1", alg: "RS256" }] });
        expect((await send(relay, `Bearer ${await token(rsa.privateKey, "RS256", {}, "k1")}`)).status).toBe(202);
        scope.done();
      } finally {
        await relay.close();
      }
    });
  });

  it("with JWTs only (no static token), serves the API to tokens and keeps the console closed rather than open", async () => {
    const config = robotConfig(wecom.url).replace("targets:", `auth:\n  api:\n    jwt: { public_key: ${JSON.stringify(pem)}, issuer: "${ISSUER}", audience: "${AUDIENCE}" }\ntargets:`);
    const relay = await startRelay(config);
    try {
      expect((await send(relay, `Bearer ${await token(rsa.privateKey, "RS256")}`)).status).toBe(202);
      expect((await send(relay, "Bearer anything")).status).toBe(401);
      const ui = await fetch(`${relay.url}/ui`, { redirect: "manual" });
      expect(ui.status).toBe(303);
      expect(ui.headers.get("location")).toMatch(/^\/ui\/login/);
      const login = await fetch(`${relay.url}/ui/login`, { redirect: "manual" });
      expect(login.status).toBe(403);
      expect(await login.text()).toContain("Console closed");
      const typed = await fetch(`${relay.url}/ui/login`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "token=anything&next=%2Fui" });
      expect(typed.headers.get("set-cookie")).toBeNull();
    } finally {
      await relay.close();
    }
  });

  it("refuses a jwt block with no key or two keys, a short secret, a key that is not PEM, and one without issuer or audience", async () => {
    const { parseConfig } = await import("../../src/config/load.js");
    const errorsOf = (jwt: string) => {
      const result = parseConfig(`auth:\n  api:\n    jwt: ${jwt}\ntargets: { r: { type: log } }\nreceivers: [{ name: sre, targets: [r] }]\nroute: { receiver: sre }\n`, "routes.yml", {});
      return "errors" in result ? result.errors.map((e) => `${e.path.join(".")}: ${e.message}`) : [];
    };
    expect(errorsOf(`{ issuer: a, audience: b }`)).toEqual(["auth.api.jwt: give exactly one of jwks_url, public_key or secret"]);
    expect(errorsOf(`{ secret: "${HMAC_SECRET}", jwks_url: "https://idp/jwks", issuer: a, audience: b }`)).toEqual([
      "auth.api.jwt: give exactly one of jwks_url, public_key or secret",
    ]);
    expect(errorsOf(`{ secret: short, issuer: a, audience: b }`)).toEqual(["auth.api.jwt.secret: must be at least 32 characters (HS256 needs a 256-bit key)"]);
    expect(errorsOf(`{ public_key: "-----BEGIN PUBLIC KEY-----", issuer: a, audience: b }`)).toEqual([
      "auth.api.jwt.public_key: must be a PEM public key (RSA, EC P-256/P-384/P-521 or Ed25519) or certificate",
    ]);
    expect(errorsOf(`{ secret: "${HMAC_SECRET}" }`)).toEqual(["auth.api.jwt.issuer: is required", "auth.api.jwt.audience: is required"]);
  });
});

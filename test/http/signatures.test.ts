import { describe, expect, it } from "vitest";
import { verifyGithubSignature, verifyGrafanaSignature } from "../../src/http/signatures.js";

// GitHub's documented test vector (validating-webhook-deliveries).
const GITHUB_SECRET = "It's a Secret to Everybody";
const GITHUB_BODY = Buffer.from("Hello, World!");
const GITHUB_HEX = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

// Computed independently with `openssl dgst -sha256 -hmac grafana-hmac-secret`.
const GRAFANA_SECRET = "grafana-hmac-secret";
const GRAFANA_BODY = Buffer.from('{"status":"firing"}');
const GRAFANA_BODY_HEX = "1c0a294cfc62a3a54be979f6eeebaab8a9fa9256064ea2a71a9e1a06f7c28f8d";
const GRAFANA_TS = "1748764800";
const GRAFANA_TS_HEX = "36fef8b95b8e190b7ef90d591470031597ac9103949c760830e1d69ba9cdc67e";

describe("verifyGithubSignature", () => {
  it("accepts GitHub's official test vector", () => {
    expect(verifyGithubSignature(GITHUB_SECRET, GITHUB_BODY, `sha256=${GITHUB_HEX}`)).toBe(true);
  });

  it("accepts the digest in upper-case hex", () => {
    expect(verifyGithubSignature(GITHUB_SECRET, GITHUB_BODY, `sha256=${GITHUB_HEX.toUpperCase()}`)).toBe(true);
  });

  it("rejects a signature made with another secret", () => {
    expect(verifyGithubSignature("another secret", GITHUB_BODY, `sha256=${GITHUB_HEX}`)).toBe(false);
  });

  it("rejects a body changed after signing, even by one byte", () => {
    expect(verifyGithubSignature(GITHUB_SECRET, Buffer.from("Hello, World?"), `sha256=${GITHUB_HEX}`)).toBe(false);
  });

  it.each([
    ["no header", undefined],
    ["an empty header", ""],
    ["the bare hex without sha256=", GITHUB_HEX],
    ["the legacy sha1= prefix", `sha1=${GITHUB_HEX}`],
    ["an upper-case prefix", `SHA256=${GITHUB_HEX}`],
    ["an odd hex length", `sha256=${GITHUB_HEX.slice(0, -1)}`],
    ["a short digest", `sha256=${GITHUB_HEX.slice(0, 32)}`],
    ["a long digest", `sha256=${GITHUB_HEX}00`],
    ["non-hex characters", `sha256=${"zz".repeat(32)}`],
    ["whitespace around the digest", `sha256= ${GITHUB_HEX}`],
  ])("returns false, without throwing, for %s", (_what, header) => {
    expect(() => verifyGithubSignature(GITHUB_SECRET, GITHUB_BODY, header)).not.toThrow();
    expect(verifyGithubSignature(GITHUB_SECRET, GITHUB_BODY, header)).toBe(false);
  });
});

describe("verifyGrafanaSignature", () => {
  it("accepts lower-case hex HMAC-SHA256 over the raw body", () => {
    expect(verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, GRAFANA_BODY_HEX)).toBe(true);
  });

  it("accepts a signature over '<timestamp>:' + body when a timestamp header is configured", () => {
    expect(verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, GRAFANA_TS_HEX, GRAFANA_TS)).toBe(true);
  });

  it("rejects a timestamped signature checked with another timestamp (a replay with a new time)", () => {
    expect(verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, GRAFANA_TS_HEX, "1748764801")).toBe(false);
  });

  it("rejects a body-only signature when a timestamp is expected", () => {
    expect(verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, GRAFANA_BODY_HEX, GRAFANA_TS)).toBe(false);
  });

  it.each([
    ["empty (the header was missing)", ""],
    ["not a number", "yesterday"],
    ["a negative number", "-1748764800"],
  ])("rejects a timestamp that is %s", (_what, timestamp) => {
    expect(verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, GRAFANA_TS_HEX, timestamp)).toBe(false);
  });

  it("rejects a signature made with another secret", () => {
    expect(verifyGrafanaSignature("other", GRAFANA_BODY, GRAFANA_BODY_HEX)).toBe(false);
  });

  it("rejects a changed body", () => {
    expect(verifyGrafanaSignature(GRAFANA_SECRET, Buffer.from('{"status":"resolved"}'), GRAFANA_BODY_HEX)).toBe(false);
  });

  it.each([
    ["no header", undefined],
    ["an empty header", ""],
    ["GitHub's sha256= prefix", `sha256=${GRAFANA_BODY_HEX}`],
    ["an odd hex length", GRAFANA_BODY_HEX.slice(1)],
    ["non-hex characters", `${GRAFANA_BODY_HEX.slice(0, -2)}zz`],
    ["base64 instead of hex", Buffer.from(GRAFANA_BODY_HEX, "hex").toString("base64")],
  ])("returns false, without throwing, for %s", (_what, header) => {
    expect(() => verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, header)).not.toThrow();
    expect(verifyGrafanaSignature(GRAFANA_SECRET, GRAFANA_BODY, header)).toBe(false);
  });
});

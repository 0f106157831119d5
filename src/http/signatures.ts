// HMAC-SHA256 signatures over raw request bodies, as GitHub and Grafana send them.
// Verify against the bytes as received, before any JSON or form parsing. A malformed
// header is a failed check, never an exception; digests are compared in constant time.
import { createHmac, timingSafeEqual } from "node:crypto";

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** GitHub's `X-Hub-Signature-256: sha256=<hex>` over the raw body. */
export function verifyGithubSignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (header === undefined || !header.startsWith("sha256=")) return false;
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  return matchesHexDigest(expected, header.slice("sha256=".length));
}

/**
 * Grafana's signature header (default `X-Grafana-Alerting-Signature`): hex HMAC-SHA256,
 * no prefix, over the raw body, or over `"<timestamp>:" + body` when the contact point
 * has a timestamp header. When one is configured, pass its value here, "" if the request
 * lacks it: a missing timestamp then fails instead of falling back to the body alone.
 * Freshness of the timestamp is the caller's decision.
 */
export function verifyGrafanaSignature(
  secret: string,
  rawBody: Buffer,
  signatureHeader: string | undefined,
  timestampHeaderValue?: string,
): boolean {
  if (signatureHeader === undefined) return false;
  const hmac = createHmac("sha256", secret);
  if (timestampHeaderValue !== undefined) {
    // Grafana sends unix seconds; anything else cannot have been signed by it.
    if (!/^\d+$/.test(timestampHeaderValue)) return false;
    hmac.update(`${timestampHeaderValue}:`);
  }
  return matchesHexDigest(hmac.update(rawBody).digest(), signatureHeader);
}

function matchesHexDigest(expected: Buffer, hex: string): boolean {
  // The regex fixes the length, so both buffers are 32 bytes as timingSafeEqual requires.
  if (!SHA256_HEX.test(hex)) return false;
  return timingSafeEqual(expected, Buffer.from(hex, "hex"));
}

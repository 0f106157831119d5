// A robot's webhook as configured: a full URL (used as written) or the bare key. Read by
// the config (its key is a secret) and by the robot channel (where to send).

// Keys are UUIDs in practice; anything outside URL-safe characters is a paste error.
const BARE_KEY = /^[A-Za-z0-9._~-]+$/;

/**
 * The robot key from a configured webhook (full URL or bare key); identifies a robot,
 * e.g. for one rate limit shared by two targets that use the same robot.
 * Throws on an unusable value, without repeating it.
 */
export function robotKey(webhook: string): string {
  const value = webhook.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error("robot webhook looks like a URL but cannot be parsed");
    }
    const key = url.searchParams.get("key")?.trim();
    if (!key) throw new Error("robot webhook URL has no key= parameter");
    return key;
  }
  if (!BARE_KEY.test(value)) {
    throw new Error("robot webhook must be a webhook URL with key=... or the bare key");
  }
  return value;
}

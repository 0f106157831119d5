import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { csrfToken, sameToken, signActionLink, verifyActionLink } from "../../src/actions/signed-link.js";

const SECRET = "s3cr3t-värde-0123456789";
const NOW = Date.UTC(2026, 0, 15, 7, 4, 5, 678);
const DAY = 24 * 3600 * 1000;

function sign(overrides: Partial<Parameters<typeof signActionLink>[0]> = {}): string {
  return signActionLink({ publicUrl: "https://relay.example.com", secret: SECRET, groupId: "g_1-AbC", expiresAt: NOW + DAY, ...overrides });
}

/** Splits a link into what the route would see: the path's group id and the query values. */
function parts(link: string): { groupId: string; e: string; s: string } {
  const url = new URL(link);
  const groupId = url.pathname.split("/").pop()!;
  return { groupId, e: url.searchParams.get("e")!, s: url.searchParams.get("s")! };
}

describe("signed action links", () => {
  it("round-trips: a link verifies for its own group until it expires", () => {
    const link = sign();
    const { groupId, e, s } = parts(link);
    expect(groupId).toBe("g_1-AbC");
    expect(e).toBe(String(Math.floor((NOW + DAY) / 1000)));
    expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyActionLink(SECRET, groupId, e, s, NOW)).toEqual({ ok: true, expiresAt: Number(e) * 1000 });
  });

  it("has the documented shape and signature", () => {
    const link = sign();
    const { e, s } = parts(link);
    expect(link).toBe(`https://relay.example.com/actions/g_1-AbC?e=${e}&s=${s}`);
    // The secret is used as UTF-8 bytes; the signed text is `${groupId}.${e}`.
    const expected = createHmac("sha256", Buffer.from(SECRET, "utf8")).update(`g_1-AbC.${e}`).digest("base64url");
    expect(s).toBe(expected);
  });

  it("keeps a public_url path prefix and drops trailing slashes", () => {
    expect(sign({ publicUrl: "https://ops.example.com/relay/" })).toMatch(/^https:\/\/ops\.example\.com\/relay\/actions\/g_1-AbC\?e=\d+&s=/);
    expect(sign({ publicUrl: "https://ops.example.com//" })).toMatch(/^https:\/\/ops\.example\.com\/actions\//);
  });

  it("rounds the expiry down, so a link never outlives what was asked", () => {
    const { groupId, e, s } = parts(sign({ expiresAt: NOW + 999 }));
    expect(Number(e) * 1000).toBeLessThanOrEqual(NOW + 999);
    expect(verifyActionLink(SECRET, groupId, e, s, NOW)).toMatchObject({ ok: true });
  });

  it("calls a link forged when the group, expiry, signature or secret differs", () => {
    const { groupId, e, s } = parts(sign());
    const forged = { ok: false, reason: "forged" };
    expect(verifyActionLink(SECRET, "g_1-AbD", e, s, NOW)).toEqual(forged);
    expect(verifyActionLink(SECRET, groupId, String(Number(e) + 3600), s, NOW)).toEqual(forged);
    // Every single-character change of the signature, including the last character's spare bits.
    for (let i = 0; i < s.length; i++) {
      const swapped = s[i] === "A" ? "B" : "A";
      expect(verifyActionLink(SECRET, groupId, e, s.slice(0, i) + swapped + s.slice(i + 1), NOW)).toEqual(forged);
    }
    expect(verifyActionLink("another-secret", groupId, e, s, NOW)).toEqual(forged);
    expect(verifyActionLink("", groupId, e, s, NOW)).toEqual(forged);
    // A link signed for one group does not open another.
    const other = parts(sign({ groupId: "other" }));
    expect(verifyActionLink(SECRET, groupId, other.e, other.s, NOW)).toEqual(forged);
  });

  it("calls a genuine link past its expiry expired, and a forged one forged", () => {
    const { groupId, e, s } = parts(sign({ expiresAt: NOW - 1000 }));
    expect(verifyActionLink(SECRET, groupId, e, s, NOW)).toEqual({ ok: false, reason: "expired" });
    expect(verifyActionLink(SECRET, groupId, e, s, Number(e) * 1000)).toEqual({ ok: false, reason: "expired" });
    expect(verifyActionLink(SECRET, groupId, e, s, Number(e) * 1000 - 1)).toMatchObject({ ok: true });
    expect(verifyActionLink("another-secret", groupId, e, s, NOW)).toEqual({ ok: false, reason: "forged" });
  });

  it("calls missing, repeated, nested or garbage parameters malformed", () => {
    const { groupId, e, s } = parts(sign());
    const malformed = { ok: false, reason: "malformed" };
    const cases: [string, unknown, unknown][] = [
      [groupId, undefined, s],
      [groupId, e, undefined],
      [groupId, [e, e], s],
      [groupId, e, [s]],
      [groupId, { e }, s],
      [groupId, Number(e), s],
      [groupId, "", s],
      [groupId, "-1", s],
      [groupId, "1e12", s],
      [groupId, ` ${e}`, s],
      [groupId, "9".repeat(40), s],
      [groupId, e, ""],
      [groupId, e, `${s}=`],
      [groupId, e, s.slice(1)],
      [groupId, e, s.replace(/.$/, "+")],
      [groupId, e, null],
      ["", e, s],
      ["a".repeat(65), e, s],
      ["g/1", e, s],
      ["g.1", e, s],
      ["g%2F1", e, s],
    ];
    for (const [g, ee, ss] of cases) expect(verifyActionLink(SECRET, g, ee, ss, NOW), JSON.stringify([g, ee, ss])).toEqual(malformed);
  });

  it("refuses to sign with an empty secret, a bad group id or a bad expiry, naming neither secret nor id", () => {
    expect(() => sign({ secret: "" })).toThrow(/secret/);
    for (const groupId of ["", "a/b", "<x>", "a".repeat(65)]) {
      try {
        sign({ groupId });
        expect.unreachable();
      } catch (err) {
        expect((err as Error).message).not.toContain(SECRET);
        if (groupId) expect((err as Error).message).not.toContain(groupId);
      }
    }
    expect(() => sign({ expiresAt: Number.NaN })).toThrow(/expiry/);
  });

  it("puts no trace of the secret anywhere but the signature", () => {
    const link = sign();
    const { s } = parts(link);
    const withoutSignature = link.replace(s, "");
    for (const spelling of [SECRET, encodeURIComponent(SECRET), Buffer.from(SECRET).toString("base64url"), Buffer.from(SECRET).toString("hex")]) {
      expect(withoutSignature).not.toContain(spelling);
    }
    const { groupId, e } = parts(link);
    for (const check of [
      verifyActionLink(SECRET, groupId, e, s, NOW),
      verifyActionLink(SECRET, groupId, e, "A".repeat(43), NOW),
      verifyActionLink(SECRET, groupId, e, s, NOW + 2 * DAY),
      verifyActionLink(SECRET, groupId, "x", s, NOW),
    ]) {
      expect(JSON.stringify(check)).not.toContain(SECRET);
      expect(JSON.stringify(check)).not.toContain(s);
    }
  });
});

describe("CSRF tokens", () => {
  it("are random and URL-safe", () => {
    const tokens = new Set(Array.from({ length: 100 }, () => csrfToken()));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("compare equal only to the same non-empty string", () => {
    const token = csrfToken();
    expect(sameToken(token, token.slice())).toBe(true);
    expect(sameToken(token, csrfToken())).toBe(false);
    expect(sameToken(token, token.slice(0, -1))).toBe(false);
    expect(sameToken(token, `${token}x`)).toBe(false);
    expect(sameToken("", "")).toBe(false);
    expect(sameToken(token, "")).toBe(false);
    expect(sameToken(undefined, undefined)).toBe(false);
    expect(sameToken(token, [token])).toBe(false);
    expect(sameToken([token], [token])).toBe(false);
    expect(sameToken(null, token)).toBe(false);
    expect(sameToken(token, { toString: () => token })).toBe(false);
  });
});

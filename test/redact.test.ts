import { describe, expect, it } from "vitest";
import { Redactor } from "../src/redact.js";

describe("log redaction", () => {
  it("scrubs config secrets in plain, JSON-escaped and URL-encoded spellings", () => {
    const redactor = new Redactor();
    redactor.setSecrets(['pa"ss/word+1']);
    const line = JSON.stringify({ msg: 'login with pa"ss/word+1', url: `https://x/?p=${encodeURIComponent('pa"ss/word+1')}` });
    const out = redactor.redact(line);
    expect(out).not.toContain("word+1");
    expect(out).not.toContain("word%2B1");
    expect(out.match(/\[REDACTED\]/g)).toHaveLength(2);
  });

  it("scrubs credentials in URLs and Authorization headers even when unknown", () => {
    const out = new Redactor().redact("POST /cgi-bin/webhook/send?key=abc-123&debug=1 Authorization: Bearer tok.en-9 access_token=zzz");
    expect(out).toBe("POST /cgi-bin/webhook/send?key=[REDACTED]&debug=1 Authorization: Bearer [REDACTED] access_token=[REDACTED]");
  });

  it("keeps fetched tokens scrubbed across a config reload, and forgets the oldest past its bound", () => {
    const redactor = new Redactor();
    redactor.setSecrets(["config-secret-1"]);
    redactor.addSecret("token-aaaaaaaa");
    redactor.setSecrets(["config-secret-2"]);
    expect(redactor.redact("token-aaaaaaaa config-secret-1 config-secret-2")).toBe("[REDACTED] config-secret-1 [REDACTED]");
    for (let i = 0; i < 256; i++) redactor.addSecret(`token-${String(i).padStart(8, "0")}`);
    expect(redactor.redact("token-aaaaaaaa")).toBe("token-aaaaaaaa");
    expect(redactor.redact("token-00000255")).toBe("[REDACTED]");
  });

  it("leaves very short secrets alone rather than mangling ordinary words", () => {
    const redactor = new Redactor();
    redactor.setSecrets(["abc"]);
    expect(redactor.redact("abcdef")).toBe("abcdef");
  });
});

import { describe, expect, it } from "vitest";
import { errorPage, groupPage, resultPage, type GroupView } from "../../src/actions/pages.js";
import { escapeHtml, PAGE_HEADERS } from "../../src/web/html.js";

const HOSTILE = `<script>alert(1)</script>"onmouseover="alert(2)"'><img src=x onerror=alert(3)>&amp;`;

const VIEW: GroupView = {
  groupId: "g_42",
  status: "firing",
  title: "[FIRING:2] HighLatency",
  alerts: [
    {
      name: "HighLatency",
      labels: { alertname: "HighLatency", service: "checkout", instance: "10.0.0.7:9090" },
      summary: "p99 above 2s for 10 minutes",
      startsAt: "2026-01-15 15:04 +08:00",
      status: "firing",
    },
    { name: "HighLatency", labels: { alertname: "HighLatency", service: "cart" }, status: "firing" },
  ],
  matchers: { alertname: "HighLatency" },
};
const FORM = { action: "https://relay.example.com/actions/g_42?e=1768548245&s=abc_DEF-123", csrf: "csrf-token-xyz", durations: ["1h", "4h", "24h"] };

type Tag = { name: string; attrs: Map<string, string> };

/** The start tags of a page, with their attribute values unescaped (the pages always quote with "). */
function tags(html: string): Tag[] {
  return [...html.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*\/?>/g)].map((m) => ({
    name: m[1]!.toLowerCase(),
    attrs: new Map([...m[2]!.matchAll(/([^\s=>]+)(?:="([^"]*)")?/g)].map((a) => [a[1]!.toLowerCase(), unescape(a[2] ?? "")])),
  }));
}

function unescape(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e]!);
}

/** The text of the page with tags stripped and entities decoded: what a reader sees. */
function text(html: string): string {
  return unescape(html.replace(/<style>[\s\S]*?<\/style>/, "").replace(/<[^>]*>/g, " ")).replace(/\s+/g, " ");
}

const ALLOWED_TAGS = new Set(["html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "span", "section", "ul", "li", "form", "label", "input", "div", "button", "a"]);
const ALLOWED_ATTRS = new Set(["lang", "charset", "name", "content", "class", "id", "aria-label", "aria-labelledby", "method", "action", "type", "value", "for", "required", "maxlength", "autocomplete", "href"]);

function expectOnlyOwnMarkup(html: string): void {
  expect(html.startsWith("<!doctype html>\n<html lang=\"en\">")).toBe(true);
  for (const tag of tags(html)) {
    expect(ALLOWED_TAGS, tag.name).toContain(tag.name);
    for (const attr of tag.attrs.keys()) expect(ALLOWED_ATTRS, `${tag.name} ${attr}`).toContain(attr);
  }
  // No scripts, no external assets (a src attribute would have failed the allowlist above).
  expect(html).not.toMatch(/<script|<img|<link|<iframe|url\(|@import/i);
}

describe("escapeHtml", () => {
  it("escapes the five characters that matter in text and quoted attributes", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
    expect(escapeHtml(42)).toBe("42");
  });
});

describe("group page", () => {
  it("escapes hostile values everywhere they appear", () => {
    const hostile: GroupView = {
      groupId: "g_42",
      status: "firing",
      title: HOSTILE,
      alerts: [{ name: HOSTILE, labels: { [HOSTILE]: HOSTILE, service: HOSTILE }, summary: HOSTILE, startsAt: HOSTILE, status: HOSTILE }],
      matchers: { [HOSTILE]: HOSTILE },
      silence: { id: HOSTILE, createdBy: HOSTILE, endsAt: HOSTILE },
    };
    const html = groupPage(hostile, { action: `/a?x="><script>1</script>`, csrf: `"><script>2</script>`, durations: [HOSTILE] });
    expectOnlyOwnMarkup(html);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=&quot;alert(2)&quot;&#39;&gt;&lt;img src=x onerror=alert(3)&gt;&amp;amp;");
    // The values survive intact for the reader, and in the attributes they were put in.
    expect(text(html)).toContain(HOSTILE);
    const input = (name: string) => tags(html).find((t) => t.name === "input" && t.attrs.get("name") === name)!;
    expect(input("csrf").attrs.get("value")).toBe(`"><script>2</script>`);
    expect(tags(html).find((t) => t.name === "form")!.attrs.get("action")).toBe(`/a?x="><script>1</script>`);
    expect(tags(html).find((t) => t.name === "button" && t.attrs.get("name") === "duration")!.attrs.get("value")).toBe(HOSTILE);
  });

  it("is an English page sized for phones", () => {
    const html = groupPage(VIEW, FORM);
    expectOnlyOwnMarkup(html);
    const viewport = tags(html).find((t) => t.name === "meta" && t.attrs.get("name") === "viewport");
    expect(viewport?.attrs.get("content")).toBe("width=device-width, initial-scale=1");
    expect(html).toContain("<title>[FIRING:2] HighLatency</title>");
    expect(html).toMatch(/:focus-visible\{outline:3px solid/);
  });

  it("shows the alerts, their labels and summaries, and what the silence will match", () => {
    const page = text(groupPage(VIEW, FORM));
    expect(page).toContain("[FIRING:2] HighLatency");
    expect(page).toContain("Alerts (2)");
    expect(page).toContain('service="checkout"');
    expect(page).toContain('instance="10.0.0.7:9090"');
    expect(page).toContain('service="cart"');
    expect(page).toContain("p99 above 2s for 10 minutes");
    expect(page).toContain("Since 2026-01-15 15:04 +08:00");
    expect(page).toMatch(/What will be silenced A silence matches alerts with all of these labels: alertname="HighLatency"/);
  });

  it("posts a form with a labelled name, an optional note and the CSRF token", () => {
    const html = groupPage(VIEW, FORM);
    const all = tags(html);
    const forms = all.filter((t) => t.name === "form");
    expect(forms).toHaveLength(1);
    expect(forms[0]!.attrs.get("method")).toBe("post");
    expect(forms[0]!.attrs.get("action")).toBe(FORM.action);
    expect(html).toContain('action="https://relay.example.com/actions/g_42?e=1768548245&amp;s=abc_DEF-123"');

    const inputs = all.filter((t) => t.name === "input");
    expect(inputs.map((t) => t.attrs.get("name"))).toEqual(["csrf", "by", "note"]);
    const [csrf, by, note] = inputs as [Tag, Tag, Tag];
    expect(csrf.attrs.get("type")).toBe("hidden");
    expect(csrf.attrs.get("value")).toBe("csrf-token-xyz");
    expect(by.attrs.get("type")).toBe("text");
    expect(by.attrs.has("required")).toBe(true);
    expect(by.attrs.get("maxlength")).toBe("64");
    expect(note.attrs.has("required")).toBe(false);
    expect(note.attrs.get("maxlength")).toBe("200");
  });

  it("labels every visible input with a <label for>", () => {
    const html = groupPage({ ...VIEW, silence: { id: "s1", createdBy: "ana", endsAt: "16:04 +08:00" } }, FORM);
    const all = tags(html);
    const visible = all.filter((t) => t.name === "input" && t.attrs.get("type") !== "hidden");
    expect(visible.length).toBeGreaterThan(0);
    for (const input of visible) {
      const id = input.attrs.get("id");
      expect(id, input.attrs.get("name")).toBeTruthy();
      expect(all.filter((t) => t.name === "label" && t.attrs.get("for") === id)).toHaveLength(1);
      expect(all.filter((t) => t.attrs.get("id") === id)).toHaveLength(1);
    }
    expect(html).toContain('<label for="by">Your name</label>');
    expect(html).toContain('<label for="note">Note (optional)</label>');
  });

  it("renders one named submit button per duration", () => {
    const html = groupPage(VIEW, FORM);
    const buttons = tags(html).filter((t) => t.name === "button");
    expect(buttons.map((b) => [b.attrs.get("type"), b.attrs.get("name"), b.attrs.get("value")])).toEqual([
      ["submit", "duration", "1h"],
      ["submit", "duration", "4h"],
      ["submit", "duration", "24h"],
    ]);
    // Their text is their accessible name.
    for (const d of FORM.durations) expect(html).toContain(`value="${d}">Silence ${d}</button>`);
  });

  it("offers Unsilence only when the group has a silence, and says who set it until when", () => {
    expect(groupPage(VIEW, FORM)).not.toMatch(/unsilence/i);
    const html = groupPage({ ...VIEW, silence: { id: "8f1c", createdBy: "Ana Li", endsAt: "16:04 +08:00" } }, FORM);
    const unsilence = tags(html).filter((t) => t.name === "button" && t.attrs.get("name") === "action");
    expect(unsilence).toHaveLength(1);
    expect(unsilence[0]!.attrs.get("value")).toBe("unsilence");
    expect(unsilence[0]!.attrs.get("type")).toBe("submit");
    expect(html).toContain(">Unsilence</button>");
    expect(text(html)).toContain("Silenced by Ana Li until 16:04 +08:00.");
    expect(tags(html).filter((t) => t.name === "button" && t.attrs.get("name") === "duration")).toHaveLength(3);
  });

  it("offers no silence when there is nothing to match", () => {
    const html = groupPage({ ...VIEW, matchers: {} }, FORM);
    expect(text(html)).toContain("cannot be silenced here");
    expect(html).not.toContain("<form");
    expect(html).not.toContain("<button");
  });
});

describe("result and error pages", () => {
  it("escape their text and link", () => {
    const result = resultPage({ title: "Silenced until 15:04 +08:00", message: HOSTILE, backUrl: `/actions/g?e=1&s="x` });
    expectOnlyOwnMarkup(result);
    expect(text(result)).toContain("Silenced until 15:04 +08:00");
    expect(text(result)).toContain(HOSTILE);
    expect(tags(result).find((t) => t.name === "a")!.attrs.get("href")).toBe(`/actions/g?e=1&s="x`);
    expect(resultPage({ title: "Done", message: "ok" })).not.toContain("<a ");

    const error = errorPage({ status: 403, title: "This link is not valid", message: HOSTILE });
    expectOnlyOwnMarkup(error);
    expect(text(error)).toContain("This link is not valid");
    expect(text(error)).toContain("HTTP 403");
    expect(text(error)).toContain(HOSTILE);
  });
});

describe("page headers", () => {
  it("forbid scripts, framing, referrers, caching and sniffing", () => {
    const csp = PAGE_HEADERS["Content-Security-Policy"]!;
    const directives = new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v.join(" ")]));
    expect(directives.get("default-src")).toBe("'none'");
    expect(directives.get("style-src")).toBe("'unsafe-inline'");
    expect(directives.get("form-action")).toBe("'self'");
    expect(directives.get("frame-ancestors")).toBe("'none'");
    expect(directives.has("script-src")).toBe(false);
    expect(PAGE_HEADERS["X-Frame-Options"]).toBe("DENY");
    expect(PAGE_HEADERS["Referrer-Policy"]).toBe("no-referrer");
    expect(PAGE_HEADERS["Cache-Control"]).toBe("no-store");
    expect(PAGE_HEADERS["X-Content-Type-Options"]).toBe("nosniff");
    expect(PAGE_HEADERS["Content-Type"]).toBe("text/html; charset=utf-8");
    expect(Object.isFrozen(PAGE_HEADERS)).toBe(true);
  });
});

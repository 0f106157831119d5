import Handlebars from "handlebars";
import { afterEach, describe, expect, it, vi } from "vitest";
import { formatDuration, isValidTimeZone, registerHelpers } from "../../src/render/helpers.js";

function renderer(timezone = "Asia/Shanghai") {
  const hb = Handlebars.create();
  registerHelpers(hb, { timezone });
  return (source: string, data: unknown = {}) => hb.compile(source, { noEscape: true, strict: false })(data);
}

const render = renderer();

describe("date", () => {
  it.each([
    ["converts UTC to the configured zone", '{{date t}}', { t: "2025-06-01T08:00:00Z" }, "2025-06-01 16:00:00"],
    ["uses a custom format", '{{date t "YYYY/MM/DD HH:mm"}}', { t: "2025-06-01T08:00:00Z" }, "2025/06/01 16:00"],
    ["prints the zone offset with Z", '{{date t "HH:mm Z"}}', { t: "2025-06-01T08:00:00Z" }, "16:00 +08:00"],
    ["prints the compact offset with ZZ", '{{date t "ZZ"}}', { t: "2025-06-01T08:00:00Z" }, "+0800"],
    ["lets tz= override the zone", '{{date t "HH:mm Z" tz="UTC"}}', { t: "2025-06-01T08:00:00Z" }, "08:00 +00:00"],
    ["handles a negative offset", '{{date t "YYYY-MM-DD HH:mm Z" tz="America/New_York"}}', { t: "2025-01-01T03:00:00Z" }, "2024-12-31 22:00 -05:00"],
    ["crosses midnight into the next day", '{{date t "DD HH"}}', { t: "2025-06-01T20:30:00Z" }, "02 04"],
    ["accepts epoch milliseconds", '{{date t tz="UTC"}}', { t: Date.UTC(2025, 5, 1, 8, 0, 0) }, "2025-06-01 08:00:00"],
    ["accepts epoch milliseconds as digits", '{{date t tz="UTC"}}', { t: String(Date.UTC(2025, 5, 1, 8)) }, "2025-06-01 08:00:00"],
    ["accepts nanosecond precision from Alertmanager", '{{date t "HH:mm:ss.SSS" tz="UTC"}}', { t: "2025-06-01T08:00:00.123456789Z" }, "08:00:00.123"],
    ["accepts an offset in the input", '{{date t "HH:mm" tz="UTC"}}', { t: "2025-06-01T16:00:00+08:00" }, "08:00"],
    ["keeps [bracketed] text literal", '{{date t "[at] HH:mm" tz="UTC"}}', { t: "2025-06-01T08:00:00Z" }, "at 08:00"],
    ["renders Alertmanager's zero time as nothing", "[{{date t}}]", { t: "0001-01-01T00:00:00Z" }, "[]"],
    ["renders an invalid date as nothing", "[{{date t}}]", { t: "yesterday-ish" }, "[]"],
    ["renders a missing value as nothing", "[{{date t}}]", {}, "[]"],
    ["renders an object as nothing", "[{{date t}}]", { t: { a: 1 } }, "[]"],
    ["renders an unknown tz= as nothing", '[{{date t tz="Mars/Olympus"}}]', { t: "2025-06-01T08:00:00Z" }, "[]"],
  ])("%s", (_name, source, data, expected) => {
    expect(render(source, data)).toBe(expected);
  });

  it("uses the zone given at registration", () => {
    expect(renderer("UTC")("{{date t}}", { t: "2025-06-01T08:00:00Z" })).toBe("2025-06-01 08:00:00");
  });
});

describe("date across a daylight-saving change", () => {
  it("gives each side of the change its own offset, also from the offset cache", () => {
    const render2 = renderer("America/New_York");
    // 2025-03-09 02:00 local: clocks jump from -05:00 to -04:00.
    const times = ["2025-03-09T06:59:59Z", "2025-03-09T07:00:00Z", "2025-03-09T06:59:58Z", "2025-03-09T07:00:01Z"];
    expect(times.map((t) => render2('{{date t "MM-DD HH:mm:ss Z"}}', { t }))).toEqual([
      "03-09 01:59:59 -05:00",
      "03-09 03:00:00 -04:00",
      "03-09 01:59:58 -05:00",
      "03-09 03:00:01 -04:00",
    ]);
  });

  it("handles zones with quarter-hour offsets", () => {
    expect(renderer("Asia/Kathmandu")('{{date t "HH:mm Z"}}', { t: "2025-06-01T08:00:00Z" })).toBe("13:45 +05:45");
  });
});

describe("duration", () => {
  it("measures between two times, as a resolved alert's firing time", () => {
    expect(render("{{duration a b}}", { a: "2025-06-01T07:17:00Z", b: "2025-06-01T08:00:30Z" })).toBe("43m");
  });

  it("renders nothing when either end is missing or the zero time", () => {
    expect(render("[{{duration a b}}{{duration a c}}]", { a: "2025-06-01T07:17:00Z", b: "0001-01-01T00:00:00Z" })).toBe("[]");
  });
});

describe("since", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ["2025-06-01T07:59:15Z", "45s"],
    ["2025-06-01T07:55:00Z", "5m"],
    ["2025-06-01T05:57:00Z", "2h3m"],
    ["2025-06-01T06:00:00Z", "2h"],
    ["2025-05-28T04:00:00Z", "4d4h"],
    ["2025-06-01T09:00:00Z", "0s"], // in the future: clock skew
  ])("measures from %s to now as %s", (start, expected) => {
    vi.useFakeTimers({ now: Date.parse("2025-06-01T08:00:00Z") });
    expect(render("{{since t}}", { t: start })).toBe(expected);
  });

  it("renders nothing for the zero time, garbage or a missing value", () => {
    expect(render("[{{since a}}{{since b}}{{since c}}]", { a: "0001-01-01T00:00:00Z", b: "nope" })).toBe("[]");
  });

  it("formats days without hours compactly", () => {
    expect(formatDuration(3 * 86_400_000)).toBe("3d");
  });
});

describe("text helpers", () => {
  it.each([
    ["toUpper", "{{toUpper s}}", { s: "critical" }, "CRITICAL"],
    ["toUpper of a number", "{{toUpper n}}", { n: 42 }, "42"],
    ["toUpper of nothing", "[{{toUpper missing}}]", {}, "[]"],
    ["toLower", "{{toLower s}}", { s: "FIRING" }, "firing"],
    ["toLower of an object", "{{toLower o}}", { o: { A: 1 } }, '{"a":1}'],
    ["join with the default separator", "{{join xs}}", { xs: ["a", "b", 3] }, "a, b, 3"],
    ["join with a given separator", '{{join xs " | "}}', { xs: ["a", "b"] }, "a | b"],
    ["join with sep=", '{{join xs sep="/"}}', { xs: ["a", "b"] }, "a/b"],
    ["join of a string", "{{join s}}", { s: "solo" }, "solo"],
    ["join of nothing", "[{{join missing}}]", {}, "[]"],
    ["truncate a long string", "{{truncate s 5}}", { s: "abcdefgh" }, "abcde…"],
    ["truncate leaves a short string", "{{truncate s 5}}", { s: "abc" }, "abc"],
    ["truncate at exactly the length", "{{truncate s 3}}", { s: "abc" }, "abc"],
    ["truncate counts characters, not bytes", "{{truncate s 2}}", { s: "磁盘已满" }, "磁盘…"],
    ["truncate keeps emoji whole", "{{truncate s 1}}", { s: "🔥🔥" }, "🔥…"],
    ["truncate without a length", "{{truncate s}}", { s: "abc" }, "abc"],
    ["truncate of nothing", "[{{truncate missing 3}}]", {}, "[]"],
    ["oneLine joins lines with a space", "{{oneLine s}}", { s: "first\n  second\r\nthird\n" }, "first second third"],
    ["oneLine of nothing", "[{{oneLine missing}}]", {}, "[]"],
    // A regex-based markdown renderer starts a line at any of these too.
    ["oneLine folds every kind of line break", "{{oneLine s}}", { s: "a\u2028## b\u2029c\u0085d\ve\ff\rg" }, "a ## b c d e f g"],
    ["oneLine keeps other spacing", "{{oneLine s}}", { s: "a  b\tc" }, "a  b\tc"],
    ["oneLine of a number", "{{oneLine n}}", { n: 3 }, "3"],
    ["toText of an object", "{{toText o}}", { o: { a: [1, 2] } }, '{"a":[1,2]}'],
    ["toText of a list", "{{toText xs}}", { xs: ["a", "b"] }, "a, b"],
    ["toText of null", "[{{toText n}}]", { n: null }, "[]"],
  ])("%s", (_name, source, data, expected) => {
    expect(render(source, data)).toBe(expected);
  });
});

describe("safeUrl", () => {
  it.each([
    ["keeps an http URL as sent", "http://alertmanager:9093/#/silences/new?filter=%7Balertname%3D%22A%22%7D", "http://alertmanager:9093/#/silences/new?filter=%7Balertname%3D%22A%22%7D"],
    ["keeps an https URL as sent, without adding a slash", "https://grafana.example.com", "https://grafana.example.com"],
    ["accepts the scheme in any case", "HTTPS://example.com/a", "HTTPS://example.com/a"],
    ["keeps an IPv6 host", "http://[::1]:9090/graph", "http://[::1]:9090/graph"],
    ["keeps non-ASCII text", "https://wiki.example.com/运维/磁盘", "https://wiki.example.com/运维/磁盘"],
    ["trims surrounding spaces", "  https://example.com/a \n", "https://example.com/a"],
    ["encodes parentheses, so ) cannot end the link", "http://p:9090/graph?g0.expr=rate(x[5m])", "http://p:9090/graph?g0.expr=rate%28x[5m]%29"],
    ["encodes spaces, so a title cannot follow", 'http://p/a b "title"', "http://p/a%20b%20%22title%22"],
    ["encodes line breaks, tabs and controls", "http://p/a\nb\tc\u2028d\u0000e", "http://p/a%0Ab%09c%E2%80%A8d%00e"],
    ["encodes a backslash, which would escape the closing )", "http://p/a\\", "http://p/a%5C"],
    ["encodes <, > and a backquote", "http://p/<@x>`", "http://p/%3C@x%3E%60"],
    ["refuses javascript:", "javascript:alert(1)", ""],
    ["refuses javascript: in any case or with leading space", " JavaScript:alert(1)", ""],
    ["refuses javascript: hidden by a control character", "java\tscript:alert(1)", ""],
    ["refuses data:", "data:text/html;base64,PHNjcmlwdD4=", ""],
    ["refuses vbscript:", "vbscript:msgbox(1)", ""],
    ["refuses file:", "file:///etc/passwd", ""],
    ["refuses a relative URL", "/alerting/list", ""],
    ["refuses a scheme-relative URL", "//evil.example.com/x", ""],
    ["refuses http without a host", "http://", ""],
    ["refuses an http URL that does not parse", "http://exa mple.com/", ""],
  ])("%s", (_name, url, expected) => {
    expect(render("{{safeUrl u}}", { u: url })).toBe(expected);
  });

  it("renders nothing for a missing or non-string value, and works as a condition", () => {
    expect(render("[{{safeUrl missing}}{{safeUrl n}}{{safeUrl o}}]", { n: 1, o: { href: "https://x" } })).toBe("[]");
    const link = '{{#if (safeUrl u)}}[rule]({{safeUrl u}}){{else}}no link{{/if}}';
    expect(render(link, { u: "https://example.com/r" })).toBe("[rule](https://example.com/r)");
    expect(render(link, { u: "javascript:alert(1)" })).toBe("no link");
  });
});

describe("logic helpers", () => {
  it.each([
    ["eq true", '{{#if (eq a "x")}}yes{{else}}no{{/if}}', { a: "x" }, "yes"],
    ["eq false", '{{#if (eq a "x")}}yes{{else}}no{{/if}}', { a: "y" }, "no"],
    ["eq compares a number with its string", '{{#if (eq n "0")}}yes{{else}}no{{/if}}', { n: 0 }, "yes"],
    ["eq with a missing value", '{{#if (eq missing "x")}}yes{{else}}no{{/if}}', {}, "no"],
    ["ne", '{{#if (ne a "x")}}yes{{else}}no{{/if}}', { a: "y" }, "yes"],
    ["and all true", "{{#if (and a b)}}yes{{else}}no{{/if}}", { a: 1, b: "x" }, "yes"],
    ["and one false", "{{#if (and a b)}}yes{{else}}no{{/if}}", { a: 1, b: "" }, "no"],
    ["and treats an empty list as false like #if", "{{#if (and a b)}}yes{{else}}no{{/if}}", { a: 1, b: [] }, "no"],
    ["or", "{{#if (or a b)}}yes{{else}}no{{/if}}", { a: 0, b: "x" }, "yes"],
    ["or all false", "{{#if (or a b)}}yes{{else}}no{{/if}}", {}, "no"],
    ["not", "{{#if (not a)}}yes{{else}}no{{/if}}", { a: "" }, "yes"],
    ["default takes the value when present", '{{default a "none"}}', { a: "v" }, "v"],
    ["default falls back on a missing value", '{{default a "none"}}', {}, "none"],
    ["default falls back on an empty string", '{{default a "none"}}', { a: "" }, "none"],
    ["default keeps zero", '{{default n "none"}}', { n: 0 }, "0"],
    ["default chains several fallbacks", '{{default a b "none"}}', { b: "second" }, "second"],
  ])("%s", (_name, source, data, expected) => {
    expect(render(source, data)).toBe(expected);
  });
});

describe("severityIcon", () => {
  it.each([
    ["critical", "🔴"],
    ["CRITICAL", "🔴"],
    ["error", "🟠"],
    ["high", "🟠"],
    ["warning", "🟡"],
    ["warn", "🟡"],
    ["medium", "🟡"],
    ["info", "🔵"],
    ["low", "🔵"],
    ["resolved", "✅"],
    ["something-else", "⚪"],
    ["", "⚪"],
  ])("shows %j as %s", (severity, icon) => {
    expect(render("{{severityIcon s}}", { s: severity })).toBe(icon);
  });

  it("shows resolved when the status argument says so", () => {
    expect(render("{{severityIcon s status}}", { s: "critical", status: "resolved" })).toBe("✅");
    expect(render("{{severityIcon s status}}", { s: "critical", status: "firing" })).toBe("🔴");
  });

  it("shows unknown for missing or odd input", () => {
    expect(render("{{severityIcon missing}}{{severityIcon n}}{{severityIcon o}}", { n: 3, o: {} })).toBe("⚪⚪⚪");
  });
});

describe("json", () => {
  it.each([
    ["an object", { v: { a: 1, b: "x" } }, '{"a":1,"b":"x"}'],
    ["a string, quoted", { v: 'say "hi" & <go>' }, '"say \\"hi\\" & <go>"'],
    ["a number", { v: 1.5 }, "1.5"],
    ["nothing", {}, ""],
  ])("renders %s without HTML escaping", (_name, data, expected) => {
    // Even with escaping on, json output is a SafeString and stays as is.
    const hb = Handlebars.create();
    registerHelpers(hb, { timezone: "UTC" });
    expect(hb.compile("{{json v}}")(data)).toBe(expected);
  });

  it("renders a circular structure instead of throwing", () => {
    const looped: Record<string, unknown> = { a: 1 };
    looped.self = looped;
    expect(render("{{json v}}", { v: looped })).toBe('{"a":1,"self":"[Circular]"}');
  });
});

describe("isValidTimeZone", () => {
  it.each([
    ["Asia/Shanghai", true],
    ["UTC", true],
    ["Mars/Olympus", false],
    ["", false],
  ])("says %j is valid: %s", (zone, valid) => {
    expect(isValidTimeZone(zone)).toBe(valid);
  });
});

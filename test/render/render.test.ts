import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteLimit } from "../../src/wecom-limits.js";
import { plainRendering, renderMessages, type RenderTarget } from "../../src/render/render.js";
import { loadTemplates, type TemplateSet } from "../../src/render/templates.js";
import type { Event, Match } from "../../src/types.js";

let root: string;
let templates: TemplateSet;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "wecom-relay-render-"));
  const dir = join(root, "templates");
  mkdirSync(dir);
  const files: Record<string, string> = {
    "note.md.hbs": "**{{title}}**\n{{body}}",
    "note.txt.hbs": "{{title}}: {{body}}",
    "lines.md.hbs": "{{#each lines}}\n{{this}}\n{{/each}}",
    "lines.txt.hbs": "{{#each lines}}\n{{this}}\n{{/each}}",
    "card.txt.hbs": "{{title}}\n{{body}}",
    "event.txt.hbs": "{{@event.status}} {{@event.labels.severity}} {{@event.summary}} {{@event.id}} {{@event.source}}",
    "event.md.hbs": "{{@event.summary}} owner {{@event.labels.owner}}",
    "empty.txt.hbs": "{{nothing}}\n\n",
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  const loaded = loadTemplates({ dirs: [dir], timezone: "UTC" });
  if ("errors" in loaded) throw new Error(JSON.stringify(loaded.errors));
  templates = loaded.templates;
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function event(data: Record<string, unknown>, overrides: Partial<Event> = {}): Event {
  return {
    id: "evt-1",
    source: "api",
    labels: { source: "api", severity: "critical", service: "billing" },
    status: "firing",
    data,
    summary: "[FIRING:1] BillingDown",
    ...overrides,
  };
}

function match(overrides: Partial<Match> = {}): Match {
  return { receiver: "sre", template: "note", format: "markdown", mention: [], route: "route", ...overrides };
}

const robot: RenderTarget = { name: "sre-robot", kind: "robot" };
const app: RenderTarget = { name: "ops-app", kind: "app" };

describe("byteLimit", () => {
  it.each([
    ["robot", "text", 2048],
    ["robot", "markdown", 4096],
    ["app", "text", 2048],
    ["app", "markdown", 2048],
  ] as const)("allows a %s %s message %i bytes", (kind, msgtype, limit) => {
    expect(byteLimit(kind, msgtype)).toBe(limit);
  });
});

describe("renderMessages", () => {
  it("renders one message per target with the match's fields", () => {
    const result = renderMessages(event({ title: "Billing", body: "down" }), match(), [robot, app], templates);
    expect(result.fallback).toBeUndefined();
    expect(result.messages).toEqual([
      {
        target: "sre-robot",
        receiver: "sre",
        msgtype: "markdown",
        content: "**Billing**\ndown",
        mention: [],
        summary: "[FIRING:1] BillingDown",
        eventIds: ["evt-1"],
        // What the console searches by.
        labels: result.messages[0]!.labels,
      },
      expect.objectContaining({ target: "ops-app", content: "**Billing**\ndown" }),
    ]);
  });

  it("carries the event's labels on every message, for search", () => {
    const rendered = event({ title: "Billing", body: "down" });
    const result = renderMessages(rendered, match(), [robot, app], templates);
    for (const message of result.messages) expect(message.labels).toEqual(rendered.labels);
  });

  it("uses the text template for format text", () => {
    const result = renderMessages(event({ title: "Billing", body: "down" }), match({ format: "text" }), [robot], templates);
    expect(result.messages.map((m) => [m.msgtype, m.content])).toEqual([["text", "Billing: down"]]);
  });

  it("exposes the event to templates as @event", () => {
    const result = renderMessages(event({}), match({ template: "event", format: "text" }), [robot], templates);
    expect(result.messages[0]?.content).toBe("firing critical [FIRING:1] BillingDown evt-1 api");
  });

  describe("mentions", () => {
    it("puts text mentions in the mention list, not the content", () => {
      const result = renderMessages(
        event({ title: "T", body: "B" }),
        match({ format: "text", mention: ["@all", "zhangsan"] }),
        [robot],
        templates,
      );
      expect(result.messages).toEqual([expect.objectContaining({ content: "T: B", mention: ["@all", "zhangsan"] })]);
    });

    it("mentions only on the first part of a split text message", () => {
      const body = Array.from({ length: 400 }, (_, i) => `row ${i}`).join("\n");
      const result = renderMessages(event({ title: "T", body }), match({ format: "text", mention: ["zhangsan"] }), [robot], templates);
      expect(result.messages.length).toBeGreaterThan(1);
      expect(result.messages.map((m) => m.mention)).toEqual([["zhangsan"], ...result.messages.slice(1).map(() => [])]);
    });

    it("appends markdown mentions as a last line of <@userid>, leaves out @all, and lists them for digests", () => {
      const result = renderMessages(
        event({ title: "T", body: "B" }),
        match({ mention: ["zhangsan", "@all", "lisi"] }),
        [robot],
        templates,
      );
      expect(result.messages).toEqual([
        expect.objectContaining({ content: "**T**\nB\n<@zhangsan> <@lisi>", mention: ["zhangsan", "@all", "lisi"] }),
      ]);
    });

    it("adds no mention line when markdown mentions only @all", () => {
      const result = renderMessages(event({ title: "T", body: "B" }), match({ mention: ["@all"] }), [robot], templates);
      expect(result.messages[0]?.content).toBe("**T**\nB");
    });

    it("puts the markdown mention line on the last part", () => {
      const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${"x".repeat(20)}`);
      const result = renderMessages(event({ lines }), match({ template: "lines", mention: ["zhangsan"] }), [app], templates);
      const contents = result.messages.map((m) => m.content);
      expect(contents.length).toBeGreaterThan(1);
      expect(contents.at(-1)?.endsWith("\n<@zhangsan>")).toBe(true);
      expect(contents.slice(0, -1).some((c) => c.includes("<@zhangsan>"))).toBe(false);
      expect(result.messages.map((m) => m.mention)).toEqual([...Array(contents.length - 1).fill([]), ["zhangsan"]]);
    });
  });

  it("splits by each target's own limit: robot markdown holds twice what app markdown does", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, "0")} ${"告警".repeat(5)}`); // ~40 B each
    const result = renderMessages(event({ lines }), match({ template: "lines" }), [robot, app], templates);
    const robotParts = result.messages.filter((m) => m.target === "sre-robot");
    const appParts = result.messages.filter((m) => m.target === "ops-app");
    expect(robotParts).toHaveLength(1);
    expect(appParts).toHaveLength(2);
    for (const m of robotParts) expect(Buffer.byteLength(m.content)).toBeLessThanOrEqual(4096);
    for (const m of appParts) expect(Buffer.byteLength(m.content)).toBeLessThanOrEqual(2048);
    expect(appParts.map((m) => m.content.slice(0, 6))).toEqual(["(1/2) ", "(2/2) "]);
    for (const m of appParts) expect(m.eventIds).toEqual(["evt-1"]);
  });

  it("returns no messages for no targets", () => {
    expect(renderMessages(event({ title: "T" }), match(), [], templates)).toEqual({ messages: [] });
  });

  describe("fallback", () => {
    const exploding = () => {
      const data: Record<string, unknown> = {};
      Object.defineProperty(data, "title", {
        enumerable: true,
        get() {
          throw new Error("title getter exploded");
        },
      });
      return data;
    };

    it("sends the summary and labels when the template throws, and says why", () => {
      const result = renderMessages(event(exploding()), match({ mention: ["zhangsan"] }), [robot, app], templates);
      expect(result.fallback).toBe("template note.md.hbs: title getter exploded");
      const expected = "[FIRING:1] BillingDown\nsource=api\nseverity=critical\nservice=billing\n<@zhangsan>";
      expect(result.messages.map((m) => [m.target, m.content])).toEqual([
        ["sre-robot", expected],
        ["ops-app", expected],
      ]);
    });

    it("falls back when the template does not exist", () => {
      const result = renderMessages(event({}), match({ template: "missing", format: "text" }), [robot], templates);
      expect(result.fallback).toBe("template missing.txt.hbs: no such template");
      expect(result.messages[0]?.content).toBe(plainRendering(event({})));
    });

    it("falls back when the template renders nothing, since WeCom rejects empty content", () => {
      const result = renderMessages(event({}), match({ template: "empty", format: "text" }), [robot], templates);
      expect(result.fallback).toBe("template empty (text) rendered nothing");
      expect(result.messages[0]?.content).toBe(plainRendering(event({})));
    });

    it("splits a long fallback like any message", () => {
      const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`label_${i}`, "v".repeat(20)]));
      const result = renderMessages(event(exploding(), { labels }), match({ format: "text" }), [robot], templates);
      expect(result.fallback).toBeDefined();
      expect(result.messages.length).toBeGreaterThan(1);
      for (const m of result.messages) expect(Buffer.byteLength(m.content)).toBeLessThanOrEqual(2048);
    });
  });
});

describe("mentions from payload values", () => {
  it("cannot ping anyone through a <@userid> inside payload data in markdown", async () => {
    const { neutralizeMentions } = await import("../../src/render/render.js");
    const data = { title: "hi <@boss> please", nested: [{ body: "<@ops>" }], untouched: { a: "plain" } };
    const safe = neutralizeMentions(data);
    expect(JSON.stringify(safe)).not.toMatch(/<@(boss|ops)>/);
    expect(safe.title).toBe("hi <\u200b@boss> please");
    expect(safe.untouched).toBe(data.untouched); // unchanged parts are not copied
    expect(data.title).toBe("hi <@boss> please"); // the event's data is left as it was
  });
});

describe("textcards", () => {
  const link = "https://prometheus.example.com/graph?g0.expr=up";
  const card = (overrides: Partial<Event> = {}, data: Record<string, unknown> = { title: "Billing down", body: "error rate 12%" }) =>
    renderMessages(event(data, { link, ...overrides }), match({ format: "textcard", template: "card" }), [app, robot], templates).messages;

  it("sends an app target a card titled with the text template's first line, opening the event's link", () => {
    const [toApp, toRobot] = card();
    expect(toApp).toMatchObject({ target: "ops-app", msgtype: "textcard", content: "error rate 12%", card: { title: "Billing down", url: link } });
    expect(toRobot).toMatchObject({ target: "sre-robot", msgtype: "text", content: "Billing down\nerror rate 12%" });
  });

  it("sends text instead when the event has no link to open", () => {
    const messages = renderMessages(event({ title: "T", body: "B" }), match({ format: "textcard" }), [app], templates).messages;
    expect(messages).toEqual([expect.objectContaining({ msgtype: "text", content: "T: B" })]);
  });

  it("splits a long description into numbered cards of at most 512 bytes, losing nothing", () => {
    const lines = Array.from({ length: 40 }, (_, i) => `告警第${i}行 ${"x".repeat(20)}`);
    const messages = renderMessages(event({ lines }, { link }), match({ format: "textcard", template: "lines" }), [app], templates).messages;
    expect(messages.length).toBeGreaterThan(1);
    for (const message of messages) {
      expect(message.msgtype).toBe("textcard");
      expect(Buffer.byteLength(message.content)).toBeLessThanOrEqual(512);
      expect(message.card?.title).toBe(lines[0]);
    }
    const all = messages.map((m) => m.content).join("\n");
    for (const line of lines.slice(1)) expect(all).toContain(line);
  });

  it("cuts a title over 128 bytes and repeats it whole in the description", () => {
    const title = "很".repeat(60); // 180 bytes
    const [message] = card({}, { title, body: "details" });
    expect(Buffer.byteLength(message!.card!.title)).toBeLessThanOrEqual(128);
    expect(message!.card!.title.endsWith("…")).toBe(true);
    expect(message!.content).toContain(`${title}\ndetails`);
  });
});

describe("payload text in markdown never pings", () => {
  it("neutralizes <@userid> in the event's own fields and in the plain fallback", () => {
    const pinging = event({ title: "T", body: "B" }, { summary: "[FIRING:1] <@boss>", labels: { source: "api", owner: "<@boss>" } });
    const viaEvent = renderMessages(pinging, match({ template: "event", format: "markdown" }), [robot], templates);
    const viaFallback = renderMessages(pinging, match({ template: "missing", format: "markdown" }), [robot], templates);
    for (const result of [viaEvent, viaFallback]) {
      expect(result.messages.map((m) => m.content).join("\n")).not.toContain("<@boss>");
    }
    expect(viaFallback.fallback).toBeDefined();
  });

  it("sends text instead of a textcard whose link would be over WeCom's 2048 bytes", () => {
    const link = `https://prometheus.example.com/graph?g0.expr=${"x".repeat(2100)}`;
    const [message] = renderMessages(event({ title: "T", body: "B" }, { link }), match({ format: "textcard", template: "card" }), [app], templates).messages;
    expect(message!.msgtype).toBe("text");
  });
});

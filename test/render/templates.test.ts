import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  loadTemplates,
  shippedTemplatesDir,
  TemplateRenderError,
  type TemplateError,
  type TemplateSet,
} from "../../src/render/templates.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "wecom-relay-templates-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function folder(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

function load(dirs: string[], timezone = "Asia/Shanghai"): TemplateSet {
  const result = loadTemplates({ dirs, timezone });
  if ("errors" in result) throw new Error(JSON.stringify(result.errors));
  return result.templates;
}

function loadErrors(dirs: string[], timezone = "Asia/Shanghai"): TemplateError[] {
  const result = loadTemplates({ dirs, timezone });
  if (!("errors" in result)) throw new Error("expected errors");
  return result.errors;
}

describe("loadTemplates", () => {
  it("loads markdown and text variants by file extension", () => {
    const defaults = folder("defaults", { "a.md.hbs": "**{{x}}**", "a.txt.hbs": "{{x}}", "notes.txt": "ignored" });
    const templates = load([defaults]);
    expect(templates.names()).toEqual(["a"]);
    expect(templates.has("a", "markdown")).toBe(true);
    expect(templates.has("a", "text")).toBe(true);
    expect(templates.render("a", "markdown", { x: 1 })).toBe("**1**");
    expect(templates.render("a", "text", { x: 1 })).toBe("1");
  });

  it("lets a later folder override a template of the same name and format only", () => {
    const defaults = folder("defaults", { "a.md.hbs": "default md", "a.txt.hbs": "default txt", "b.md.hbs": "b" });
    const user = folder("user", { "a.md.hbs": "user md", "c.txt.hbs": "c" });
    const templates = load([defaults, user]);
    expect(templates.render("a", "markdown", {})).toBe("user md");
    expect(templates.render("a", "text", {})).toBe("default txt");
    expect(templates.names()).toEqual(["a", "b", "c"]);
    expect(templates.has("c", "markdown")).toBe(false);
  });

  it("accepts a missing user folder", () => {
    const defaults = folder("defaults", { "a.md.hbs": "x" });
    expect(load([defaults, join(root, "no-such-user-dir")]).names()).toEqual(["a"]);
  });

  it("rejects a missing defaults folder", () => {
    const missing = join(root, "no-such-defaults");
    expect(loadErrors([missing])).toEqual([{ file: missing, message: "template folder does not exist" }]);
  });

  it("reports a syntax error with its file and line", () => {
    const user = folder("user", { "broken.md.hbs": "line one\nline two\n{{#if x}}\nunclosed" });
    const [error, ...rest] = loadErrors([folder("defaults", {}), user]);
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ file: join(user, "broken.md.hbs"), line: 4, message: expect.stringMatching(/^syntax error: /) });
  });

  it("reports a mismatched block close with its line", () => {
    const defaults = folder("defaults", { "a.txt.hbs": "ok\n{{#if a}}x{{/unless}}" });
    expect(loadErrors([defaults])).toEqual([
      { file: join(defaults, "a.txt.hbs"), line: 2, message: expect.stringContaining("if doesn't match unless") },
    ]);
  });

  it("collects the errors of every broken file", () => {
    const defaults = folder("defaults", { "a.md.hbs": "{{#each}}", "b.md.hbs": "{{oops", "c.md.hbs": "fine" });
    const files = loadErrors([defaults]).map((error) => ("file" in error ? error.file : error.setting));
    expect(files).toEqual([join(defaults, "a.md.hbs"), join(defaults, "b.md.hbs")]);
  });

  it.each([
    ["an unknown helper with arguments", "x\n{{frobnicate a}}", 2, 'unknown helper "frobnicate"'],
    ["an unknown helper in a subexpression", "{{#if (same a b)}}y{{/if}}", 1, 'unknown helper "same"'],
    ["an unknown block helper", "\n\n{{#repeat 3}}x{{/repeat}}", 3, 'unknown helper "repeat"'],
    ["#each without an argument", "{{#each}}x{{/each}}", 1, "#each needs exactly one argument"],
    ["#if with two arguments", "{{#if a b}}x{{/if}}", 1, "#if needs exactly one argument"],
    ["a partial", "{{> header}}", 1, "partials are not supported"],
  ])("reports %s at load time instead of at send time", (_name, source, line, message) => {
    const defaults = folder("defaults", { "t.md.hbs": source });
    expect(loadErrors([defaults])).toEqual([{ file: join(defaults, "t.md.hbs"), line, message }]);
  });

  it("does not mistake data fields for helpers", () => {
    const defaults = folder("defaults", {
      "t.md.hbs": "{{title}} {{labels.job}} {{this.date}} {{@root.x}} {{#each items}}{{name}}{{/each}} {{#if (eq a b)}}y{{/if}}",
    });
    expect(load([defaults]).render("t", "markdown", { title: "T", labels: { job: "api" }, items: [{ name: "n" }] })).toBe(
      "T api   n y",
    );
  });

  it("rejects an unknown time zone", () => {
    const defaults = folder("defaults", { "a.md.hbs": "x" });
    expect(loadErrors([defaults], "Mars/Olympus")).toEqual([
      { setting: "timezone", message: 'unknown time zone "Mars/Olympus"' },
    ]);
  });

  it("formats dates in the configured time zone", () => {
    const defaults = folder("defaults", { "d.txt.hbs": "{{date t}}" });
    expect(load([defaults], "UTC").render("d", "text", { t: "2025-06-01T08:00:00Z" })).toBe("2025-06-01 08:00:00");
    expect(load([defaults], "Asia/Shanghai").render("d", "text", { t: "2025-06-01T08:00:00Z" })).toBe(
      "2025-06-01 16:00:00",
    );
  });
});

describe("TemplateSet.render", () => {
  it("does not HTML-escape values", () => {
    const templates = load([folder("defaults", { "a.md.hbs": "{{v}}" })]);
    expect(templates.render("a", "markdown", { v: `a & b <c> "d"` })).toBe(`a & b <c> "d"`);
  });

  it("trims trailing whitespace and collapses runs of blank lines", () => {
    const templates = load([folder("defaults", { "a.txt.hbs": "\n\none  \n\n\n\n\ntwo\t\n\n\nthree\n\n  \n" })]);
    expect(templates.render("a", "text", {})).toBe("one\n\ntwo\n\nthree");
  });

  it("renders a missing field as nothing", () => {
    const templates = load([folder("defaults", { "a.txt.hbs": "[{{missing.deeply.nested}}]" })]);
    expect(templates.render("a", "text", {})).toBe("[]");
  });

  it("exposes data variables as @name at every depth", () => {
    const templates = load([folder("defaults", { "a.txt.hbs": "{{@event.status}}{{#each xs}} {{@event.labels.sev}}{{/each}}" })]);
    expect(templates.render("a", "text", { xs: [1, 2] }, { event: { status: "firing", labels: { sev: "p1" } } })).toBe(
      "firing p1 p1",
    );
  });

  it("throws a TemplateRenderError naming the template when rendering fails", () => {
    const templates = load([folder("defaults", { "a.md.hbs": "{{#each xs}}{{/each}}" })]);
    const throwing = {
      get xs(): never {
        throw new Error("payload getter exploded");
      },
    };
    expect(() => templates.render("a", "markdown", throwing)).toThrow(TemplateRenderError);
    expect(() => templates.render("a", "markdown", throwing)).toThrow("template a.md.hbs: payload getter exploded");
  });

  it("throws a TemplateRenderError for a template it does not have", () => {
    const templates = load([folder("defaults", { "a.md.hbs": "x" })]);
    expect(() => templates.render("a", "text", {})).toThrow("template a.txt.hbs: no such template");
  });
});

describe("shipped templates", () => {
  it("lives in the package's templates folder and compiles cleanly", () => {
    const dir = shippedTemplatesDir();
    expect(existsSync(join(dir, "alertmanager.md.hbs"))).toBe(true);
    const templates = load([dir]);
    for (const name of ["alertmanager", "api", "digest"]) {
      expect(templates.has(name, "markdown")).toBe(true);
      expect(templates.has(name, "text")).toBe(true);
    }
  });
});

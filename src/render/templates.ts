// Loads NAME.md.hbs / NAME.txt.hbs from the shipped defaults and the user's folder and
// compiles them all at load time, so a broken template is a config error, not a failed send.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import type { Format, TemplateFormat } from "../types.js";
import { packageRoot } from "../paths.js";
import { isValidTimeZone, registerHelpers } from "./helpers.js";

/** A template file that does not compile, or a setting (the time zone) the templates cannot use. */
export type TemplateError = { file: string; line?: number; message: string } | { setting: "timezone"; message: string };

/** A template threw while rendering; the message names the template and the cause. */
export class TemplateRenderError extends Error {
  constructor(
    readonly template: string,
    readonly format: Format,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`template ${templateFileName(template, format)}: ${message}`, options);
    this.name = "TemplateRenderError";
  }
}

type CompiledTemplate = (data: unknown, options?: { data?: Record<string, unknown> }) => string;

const EXTENSIONS: Record<TemplateFormat, string> = { markdown: ".md.hbs", text: ".txt.hbs" };

/** The template file a format renders with: cards are written as text. */
export function templateFormat(format: Format): TemplateFormat {
  return format === "textcard" || format === "card" ? "text" : format;
}

// WeCom is not HTML: escaping would show &amp; in messages. Missing fields render as "".
const COMPILE_OPTIONS = { strict: false, noEscape: true } as const;

// Built-ins that throw at render time unless given exactly one argument.
const ONE_ARGUMENT_BLOCKS = new Set(["if", "unless", "each", "with"]);

export class TemplateSet {
  constructor(private readonly compiled: ReadonlyMap<string, CompiledTemplate>) {}

  has(name: string, format: Format): boolean {
    return this.compiled.has(key(name, format));
  }

  /** Template names (without extension), each listed once whatever formats it has. */
  names(): string[] {
    return [...new Set([...this.compiled.keys()].map((k) => k.slice(0, k.lastIndexOf("."))))].sort();
  }

  /**
   * Renders with `data` as the context. `variables` become Handlebars data variables
   * (`{{@name}}`), visible at every depth without mixing into the payload's own fields.
   */
  render(name: string, format: Format, data: unknown, variables: Record<string, unknown> = {}): string {
    const template = this.compiled.get(key(name, format));
    if (template === undefined) throw new TemplateRenderError(name, format, "no such template");
    let output: string;
    try {
      output = template(data, { data: variables });
    } catch (err) {
      throw new TemplateRenderError(name, format, err instanceof Error ? err.message : String(err), { cause: err });
    }
    return tidy(output);
  }
}

/** `<packageRoot>/templates`: the defaults shipped with the relay. */
export function shippedTemplatesDir(): string {
  return join(packageRoot(), "templates");
}

/**
 * Compiles every template in `dirs`; a template in a later folder replaces the one of the
 * same name and format in an earlier folder. The first folder (the shipped defaults) must
 * exist; later ones may be missing. Returns every error found, not just the first.
 */
export function loadTemplates(opts: {
  dirs: string[];
  timezone: string;
}): { templates: TemplateSet } | { errors: TemplateError[] } {
  const errors: TemplateError[] = [];
  if (!isValidTimeZone(opts.timezone)) {
    errors.push({ setting: "timezone", message: `unknown time zone "${opts.timezone}"` });
  }

  const files = new Map<string, string>(); // key -> path; later folders overwrite
  opts.dirs.forEach((dir, index) => {
    const listing = listTemplateFiles(dir, index === 0);
    if ("error" in listing) errors.push(listing.error);
    else for (const [k, path] of listing.files) files.set(k, path);
  });

  const hb = Handlebars.create();
  registerHelpers(hb, { timezone: opts.timezone });
  const knownHelpers = new Set(Object.keys(hb.helpers));

  const compiled = new Map<string, CompiledTemplate>();
  for (const [k, path] of files) {
    const result = compileFile(hb, path, knownHelpers);
    if ("errors" in result) errors.push(...result.errors);
    else compiled.set(k, result.template);
  }

  return errors.length > 0 ? { errors } : { templates: new TemplateSet(compiled) };
}

function listTemplateFiles(
  dir: string,
  required: boolean,
): { files: Array<[string, string]> } | { error: TemplateError } {
  if (!existsSync(dir)) {
    return required ? { error: { file: dir, message: "template folder does not exist" } } : { files: [] };
  }
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) return { error: { file: dir, message: "not a folder" } };
    entries = readdirSync(dir).sort();
  } catch (err) {
    return { error: { file: dir, message: `cannot read folder: ${(err as Error).message}` } };
  }
  const files: Array<[string, string]> = [];
  for (const entry of entries) {
    for (const [format, extension] of Object.entries(EXTENSIONS) as Array<[TemplateFormat, string]>) {
      if (entry.endsWith(extension) && entry.length > extension.length) {
        files.push([key(entry.slice(0, -extension.length), format), join(dir, entry)]);
      }
    }
  }
  return { files };
}

function compileFile(
  hb: typeof Handlebars,
  file: string,
  knownHelpers: ReadonlySet<string>,
): { template: CompiledTemplate } | { errors: TemplateError[] } {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    return { errors: [{ file, message: `cannot read: ${(err as Error).message}` }] };
  }
  try {
    const problems = findCallProblems(hb.parse(source), knownHelpers);
    if (problems.length > 0) return { errors: problems.map((p) => ({ file, ...p })) };
    // precompile runs the whole compiler now; compile() alone would defer it to the first render.
    hb.precompile(source, COMPILE_OPTIONS);
    return { template: hb.compile(source, COMPILE_OPTIONS) as CompiledTemplate };
  } catch (err) {
    return { errors: [{ file, ...describeCompileError(err) }] };
  }
}

/** Handlebars parse errors say "Parse error on line N:"; other compile errors carry lineNumber. */
function describeCompileError(err: unknown): { line?: number; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  const parse = /^Parse error on line (\d+):\n?([\s\S]*)$/.exec(message);
  if (parse) return { line: Number(parse[1]), message: `syntax error: ${parse[2]}` };
  const line = (err as { lineNumber?: unknown }).lineNumber;
  return typeof line === "number" ? { line, message } : { message };
}

type Problem = { line?: number; message: string };

/**
 * Calls that would only fail at render time: unknown helpers, partials (none are
 * registered), and #if/#unless/#each/#with without exactly one argument.
 */
function findCallProblems(
  program: hbs.AST.Program,
  knownHelpers: ReadonlySet<string>,
): Problem[] {
  const problems: Problem[] = [];
  const at = (node: hbs.AST.Node) => node.loc?.start.line;

  const checkCall = (node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression) => {
    const path = node.path;
    if (path.type !== "PathExpression") return;
    const name = simpleName(path as hbs.AST.PathExpression);
    if (name === undefined) return;
    const hasArguments = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
    if (node.type === "BlockStatement" && ONE_ARGUMENT_BLOCKS.has(name) && node.params.length !== 1) {
      problems.push({ line: at(node), message: `#${name} needs exactly one argument` });
    } else if ((hasArguments || node.type === "SubExpression") && !knownHelpers.has(name)) {
      problems.push({ line: at(node), message: `unknown helper "${name}"` });
    }
  };

  // Visitor lives on the top-level namespace only, not on instances from create().
  class CallChecker extends Handlebars.Visitor {
    override MustacheStatement(node: hbs.AST.MustacheStatement): void {
      checkCall(node);
      super.MustacheStatement(node);
    }
    override BlockStatement(node: hbs.AST.BlockStatement): void {
      checkCall(node);
      super.BlockStatement(node);
    }
    override SubExpression(node: hbs.AST.SubExpression): void {
      checkCall(node);
      super.SubExpression(node);
    }
    override PartialStatement(node: hbs.AST.PartialStatement): void {
      problems.push({ line: at(node), message: "partials are not supported" });
    }
    override PartialBlockStatement(node: hbs.AST.PartialBlockStatement): void {
      problems.push({ line: at(node), message: "partials are not supported" });
    }
  }
  new CallChecker().accept(program);
  return problems;
}

/** `foo` (not `this.foo`, `../foo`, `@foo` or `a.b`): the only paths Handlebars treats as helper names. */
function simpleName(path: hbs.AST.PathExpression): string | undefined {
  if (path.data || path.depth > 0 || path.parts.length !== 1) return undefined;
  if (/^\.|this\b/.test(path.original)) return undefined;
  return path.parts[0];
}

/** Trailing spaces go, runs of blank lines become one, and the text ends without a newline. */
function tidy(output: string): string {
  return output
    .replace(/[ \t\r]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+/, "")
    .trimEnd();
}

function key(name: string, format: Format): string {
  return `${name}.${templateFormat(format)}`;
}

function templateFileName(name: string, format: Format): string {
  return `${name}${EXTENSIONS[templateFormat(format)]}`;
}

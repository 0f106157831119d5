// Reads routes.yml: YAML with line numbers, `${ENV}` expansion, schema validation, and the
// cross-reference checks the schema cannot express. Every problem is collected, so that
// `check` can print them all at once, each with its line.
import { readFileSync } from "node:fs";
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  type Document,
  type ScalarTag,
  visit,
  type YAMLError,
} from "yaml";
import type { z } from "zod";
import { expandEnv, shieldEnvReferences, type ShieldedText } from "./env.js";
import type { ConfigError, ConfigPath } from "./errors.js";
import { configSchema, type Config } from "./schema.js";
import { robotKey } from "./robot-webhook.js";
import { redactSecrets } from "../redact.js";

export interface LoadedConfig {
  config: Config;
  file: string;
  /** Every secret value found in the config, longest first, for log redaction. */
  secrets: string[];
  /** Problems that do not stop the relay, such as a target no receiver uses. */
  warnings: ConfigError[];
  /** The line of `path` in the file, or of its nearest ancestor that is written there. */
  lineOf(path: ConfigPath): number | undefined;
  /**
   * Settings left out because their `${VAR:-}` expanded to nothing, with the variables
   * that would set them (e.g. a robot webhook: set it and the robot is real).
   */
  unset: UnsetSetting[];
}

export interface UnsetSetting {
  path: ConfigPath;
  variables: string[];
}

/**
 * On failure, `partial` holds what YAML could read (when it read the whole document), so
 * later stages can still report their own errors in the same run: `check` lists them all.
 */
export type ConfigResult =
  | { loaded: LoadedConfig }
  | { errors: ConfigError[]; partial?: { data: unknown; secrets: string[]; lineOf(path: ConfigPath): number | undefined } };

/** A problem before it is pinned to a line and scrubbed of secrets. */
interface Problem {
  path: ConfigPath;
  message: string;
  /** Found from the path when absent; null for problems with no line, such as a missing file. */
  line?: number | null | undefined;
  /** Where to look for the line when it differs from `path`. */
  linePath?: ConfigPath;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return { errors: [{ file, path: [], message: `cannot read the config file: ${osReason(err)}` }] };
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv): ConfigResult {
  const source = readYaml(text, env);
  const secrets = collectSecrets(source.data);
  const report = (problems: Problem[]): ConfigError[] =>
    sortByLine(problems.map((problem) => toConfigError(problem, file, source.lineOf, secrets)));
  // Schema errors on a document YAML could not read in full would only add confusion.
  if (!source.complete) return { errors: report(source.problems) };

  const problems = [...source.problems];
  const parsed = configSchema.safeParse(source.data, { reportInput: true, error: describeIssue });
  if (!parsed.success) {
    const schemaProblems = parsed.error.issues.flatMap((issue) => issueProblems(issue, []));
    // A value whose variable is missing already has its error; its schema error would be noise.
    const isUnexpanded = (problem: Problem): boolean =>
      source.unexpanded.has(pathKey(problem.linePath ?? problem.path));
    // A required setting left out by an empty `${VAR:-}` says which variable to set.
    const emptied = new Map(source.unset.map((entry) => [pathKey(entry.path), entry.variables]));
    const withHint = (problem: Problem): Problem => {
      const variables = emptied.get(pathKey(problem.path));
      return variables ? { ...problem, message: `${problem.message} (${variables.join(", ")} is empty or not set)` } : problem;
    };
    problems.push(...schemaProblems.filter((problem) => !isUnexpanded(problem)).map(withHint));
  }
  const partial = { data: source.data, secrets, lineOf: source.lineOf };
  if (!parsed.success || problems.length > 0) return { errors: report(problems), partial };

  const references = checkReferences(parsed.data, source.lineOf);
  if (references.errors.length > 0) return { errors: report(references.errors), partial };
  return {
    loaded: {
      config: parsed.data,
      file,
      secrets: collectSecrets(parsed.data),
      warnings: report([...source.warnings, ...references.warnings]),
      lineOf: source.lineOf,
      unset: source.unset,
    },
  };
}

// ---------------------------------------------------------------------------------------
// YAML: parsing with line numbers, ${ENV} expansion, syntax errors

interface YamlSource {
  /** The document as plain data, after expansion. */
  data: unknown;
  /** False when YAML could not read the document in full, or it is empty. */
  complete: boolean;
  problems: Problem[];
  warnings: Problem[];
  /** Paths (as `pathKey`) of values whose variables could not be expanded. */
  unexpanded: Set<string>;
  /** Map entries removed because their references expanded to nothing. */
  unset: UnsetSetting[];
  lineOf(path: ConfigPath): number | undefined;
}

function readYaml(text: string, env: NodeJS.ProcessEnv): YamlSource {
  const lineCounter = new LineCounter();
  const shield = shieldEnvReferences(text);
  // Plain error messages: the "pretty" ones quote the source line, which may hold a secret.
  const doc = parseDocument(shield.text, { lineCounter, prettyErrors: false });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  const problems: Problem[] = [];
  const keyPaths = new Map<number, ConfigPath>();
  const unexpanded = new Set<string>();
  const unset: UnsetSetting[] = [];
  // Keys are names, not values: references in them are kept as written, not expanded.
  walkScalars(doc.contents, [], (scalar, _path, role) => {
    if (role === "key" && typeof scalar.value === "string") scalar.value = shield.restore(scalar.value);
  });
  walkScalars(doc.contents, [], (scalar, path, role) => {
    if (role === "key") {
      if (scalar.range) keyPaths.set(scalar.range[0], path);
      return;
    }
    const line = scalar.range ? lineAt(scalar.range[0]) : undefined;
    const expansion = expandScalar(doc, scalar, shield, env);
    const envProblems = expansion.problems.map((message) => ({ path, line, message }));
    if (envProblems.length > 0) unexpanded.add(pathKey(path));
    problems.push(...envProblems);
    // `key: ${VAR:-}` with VAR unset or empty: the setting is left out, as if not written.
    const isMapValue = typeof path.at(-1) === "string";
    if (isMapValue && envProblems.length === 0 && expansion.variables.length > 0 && scalar.value === "") {
      unset.push({ path, variables: expansion.variables });
    }
  });
  for (const { path } of unset) doc.deleteIn(path);
  const syntaxProblems = [
    ...doc.errors.map((error) => yamlProblem(error, lineAt, keyPaths, shield)),
    ...unresolvedAliases(doc, lineAt),
  ];
  problems.push(...syntaxProblems);
  if (doc.contents === null) problems.push({ path: [], line: null, message: "the config is empty" });

  let data: unknown;
  let readable = syntaxProblems.length === 0 && doc.contents !== null;
  try {
    data = doc.toJS();
  } catch (err) {
    // An alias bomb, for one; YAML has no line for it.
    if (readable) problems.push({ path: [], line: null, message: (err as Error).message });
    readable = false;
  }
  return {
    data,
    complete: readable,
    problems,
    warnings: doc.warnings.map((warning) => yamlProblem(warning, lineAt, keyPaths, shield)),
    unexpanded,
    unset,
    lineOf: (path) => findLine(doc, lineAt, path),
  };
}

type ScalarRole = "key" | "value";

/** Visits every scalar that is written in the document, with its path; aliases are not followed. */
function walkScalars(
  node: unknown,
  path: ConfigPath,
  onScalar: (scalar: Scalar, path: ConfigPath, role: ScalarRole) => void,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyPath = [...path, keySegment(pair.key)];
      if (isScalar(pair.key)) onScalar(pair.key, keyPath, "key");
      walkScalars(pair.value, keyPath, onScalar);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => walkScalars(item, [...path, index], onScalar));
  } else if (isScalar(node)) {
    onScalar(node, path, "value");
  }
}

function keySegment(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Map entries report the line of their key; list items the line where they start. */
function findLine(doc: Document, lineAt: (offset: number) => number, path: ConfigPath): number | undefined {
  let node: unknown = doc.contents;
  let line = isNode(node) && node.range ? lineAt(node.range[0]) : undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) break;
      const keyRange = isScalar(pair.key) ? pair.key.range : undefined;
      if (keyRange) line = lineAt(keyRange[0]);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (!isNode(item)) break;
      if (item.range) line = lineAt(item.range[0]);
      node = item;
    } else {
      break;
    }
  }
  return line;
}

function yamlProblem(
  error: YAMLError,
  lineAt: (offset: number) => number,
  keyPaths: Map<number, ConfigPath>,
  shield: ShieldedText,
): Problem {
  const line = lineAt(error.pos[0]);
  const keyPath = error.code === "DUPLICATE_KEY" ? keyPaths.get(error.pos[0]) : undefined;
  if (keyPath !== undefined) {
    return { path: keyPath.slice(0, -1), line, message: `duplicate key "${String(keyPath.at(-1))}"` };
  }
  return { path: [], line, message: shield.restore(error.message) };
}

/** `*name` with no `&name` before it; YAML reports these only when converting, without a line. */
function unresolvedAliases(doc: Document, lineAt: (offset: number) => number): Problem[] {
  const problems: Problem[] = [];
  visit(doc, {
    Alias: (_key, alias) => {
      if (alias.resolve(doc) !== undefined) return;
      const line = alias.range ? lineAt(alias.range[0]) : null;
      problems.push({ path: [], line, message: `unknown alias *${alias.source} (its anchor &${alias.source} must come before it)` });
    },
  });
  return problems;
}

// ---------------------------------------------------------------------------------------
// ${ENV} expansion, per scalar after parsing, so a value can never inject YAML structure

/**
 * Expands the scalar in place; returns what went wrong (one message per problem) and the
 * variables it refers to.
 */
function expandScalar(
  doc: Document,
  scalar: Scalar,
  shield: ShieldedText,
  env: NodeJS.ProcessEnv,
): { problems: string[]; variables: string[] } {
  if (typeof scalar.value !== "string") return { problems: [], variables: [] };
  const { value, missing, malformed, names } = expandEnv(shield.restore(scalar.value), env);
  if (value !== scalar.value) {
    const plain = scalar.type === Scalar.PLAIN && !scalar.tag;
    scalar.value = plain ? resolvePlain(doc, value) : value;
  }
  const problems = [
    ...missing.map((name) => `environment variable ${name} is not set (use \${${name}:-default} for a default)`),
    ...malformed.map((reference) => `malformed variable reference${referenceName(reference)}: use \${NAME} or \${NAME:-default}`),
  ];
  return { problems, variables: names };
}

/** Only the variable name: the rest of a malformed reference may be a secret meant as a default. */
function referenceName(reference: string): string {
  const name = /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(reference)?.[1];
  return name === undefined ? "" : ` to ${name}`;
}

/**
 * What YAML would have made of `text` had it been written unquoted, so that
 * `agent_id: ${AGENT_ID}` is a number. An empty expansion stays an empty string rather than
 * YAML's null, so that an empty variable reads as "must not be empty" where a value is needed.
 */
function resolvePlain(doc: Document, text: string): unknown {
  if (text === "") return text;
  const tag = doc.schema.tags.find((candidate) => candidate.default === true && candidate.test?.test(text)) as
    | ScalarTag
    | undefined;
  if (tag === undefined) return text;
  try {
    const resolved = tag.resolve(text, () => undefined, doc.options);
    return isScalar(resolved) ? resolved.value : resolved;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------
// Schema issues as readable problems

/**
 * The keys a strict object allows, by the input object it rejected. Filled in while zod
 * reports, because only then is the schema behind an issue known; weak, so it holds nothing.
 */
const allowedKeysByInput = new WeakMap<object, string[]>();

/**
 * The error map: zod calls it for every issue that has no message of its own. Messages name
 * types, keys and allowed values, never the value itself, which may be a secret.
 */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  const schema = issuingSchema(issue.inst);
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `expected ${expectedType(issue.expected)}, got ${describeValue(issue.input)}${quoteHint(issue)}`;
    case "invalid_value":
      return `must be ${orList(issue.values.map(String))}`;
    case "too_small":
      return sizeMessage(issue.origin, "at least", Number(issue.minimum), issue.inclusive, issue.exact);
    case "too_big":
      return sizeMessage(issue.origin, "at most", Number(issue.maximum), issue.inclusive, issue.exact);
    case "invalid_format":
      return issue.format === "url" ? "must be a URL" : undefined;
    case "unrecognized_keys": {
      const shape = schema ? objectShape(schema) : undefined;
      if (shape && isObject(issue.input)) allowedKeysByInput.set(issue.input, Object.keys(shape));
      return undefined;
    }
    case "invalid_key":
      return `invalid name: ${issue.issues.map((inner) => inner.message).join("; ")}`;
    case "invalid_union":
      return unionMessage(issue, schema);
    default:
      return undefined;
  }
}

/** Turns one issue into problems: one per unknown key, and union failures into their best branch. */
function issueProblems(issue: z.core.$ZodIssue, base: ConfigPath): Problem[] {
  const path = [...base, ...issue.path.map(pathSegment)];
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = isObject(issue.input) ? allowedKeysByInput.get(issue.input) : undefined;
      const hint = allowed ? ` (allowed: ${allowed.join(", ")})` : "";
      return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"${hint}` }));
    }
    case "invalid_union": {
      // "type must be robot or app" reads best against the target, at the line of its type.
      if (issue.discriminator !== undefined && path.at(-1) === issue.discriminator) {
        return [{ path: path.slice(0, -1), linePath: path, message: issue.message }];
      }
      const branch = closestBranch(issue.errors);
      if (branch !== undefined) return branch.flatMap((inner) => issueProblems(inner, path));
      return [{ path, message: issue.message }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

/**
 * The union option the value was evidently meant for: the one whose problems lie deepest,
 * e.g. `basic_auth: { username }` is a basic_auth missing its password, not a bad
 * bearer_token. Undefined when no option fits better than the others.
 */
function closestBranch(branches: z.core.$ZodIssue[][]): z.core.$ZodIssue[] | undefined {
  const fit = (issues: z.core.$ZodIssue[]): number => Math.min(...issues.map(issueDepth));
  const ranked = branches.map((issues) => ({ issues, depth: fit(issues) })).sort((a, b) => b.depth - a.depth);
  const [best, second] = ranked;
  if (best === undefined || best.depth <= 0) return undefined;
  if (second !== undefined && second.depth === best.depth) return undefined;
  return best.issues;
}

/** How far inside the value an issue lies; a missing key counts at the level of its parent. */
function issueDepth(issue: z.core.$ZodIssue): number {
  const missingKey = issue.code === "invalid_type" && issue.input === undefined;
  return issue.path.length - (missingKey ? 1 : 0);
}

function unionMessage(issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidUnion>, schema: z.core.$ZodType | undefined): string {
  const discriminator = issue.discriminator;
  if (discriminator !== undefined) {
    const values = schema?._zod.propValues?.[discriminator];
    return values ? `${discriminator} must be ${orList([...values].map(String))}` : `unknown ${discriminator}`;
  }
  const rootMismatches = issue.errors.map((issues) => (issues.length === 1 ? rootExpectation(issues[0]!) : undefined));
  if (rootMismatches.every((expectation) => expectation !== undefined)) {
    return `expected ${orList(rootMismatches as string[])}, got ${describeValue(issue.input)}`;
  }
  const options = schema?._zod.def.type === "union" ? (schema._zod.def as z.core.$ZodUnionDef).options : [];
  const shapes = options.map(objectShape);
  if (shapes.length > 0 && shapes.every((shape) => shape !== undefined)) {
    return `expected one of: ${shapes.map((shape) => `{ ${Object.keys(shape!).join(", ")} }`).join(" or ")}`;
  }
  return "matches none of the allowed forms";
}

/** What an option wanted, when the value is of a different kind altogether. */
function rootExpectation(issue: z.core.$ZodIssue): string | undefined {
  if (issue.path.length > 0) return undefined;
  if (issue.code === "invalid_type") return expectedType(issue.expected);
  if (issue.code === "invalid_value") return orList(issue.values.map((value) => JSON.stringify(value)));
  return undefined;
}

/** The schema behind an issue; checks such as `.min()` raise issues too, but carry no shape. */
function issuingSchema(inst: z.core.$ZodType | z.core.$ZodCheck | undefined): z.core.$ZodType | undefined {
  return inst !== undefined && "type" in inst._zod.def ? (inst as z.core.$ZodType) : undefined;
}

function objectShape(schema: z.core.$ZodType): Record<string, unknown> | undefined {
  const def = schema._zod.def;
  return def.type === "object" ? (def as z.core.$ZodObjectDef).shape : undefined;
}

function sizeMessage(origin: string, bound: string, limit: number, inclusive = true, exact = false): string {
  if (origin === "string") {
    if (exact) return `must be exactly ${plural(limit, "character")} long`;
    if (bound === "at least" && limit === 1) return "must not be empty";
    return `must be ${bound} ${plural(limit, "character")} long`;
  }
  if (origin === "array") return exact ? `must have exactly ${plural(limit, "item")}` : `must have ${bound} ${plural(limit, "item")}`;
  if (inclusive) return `must be ${bound} ${limit}`;
  return `must be ${bound === "at least" ? "greater" : "less"} than ${limit}`;
}

/** YAML reads unquoted 123 or true as a number or boolean; a string field then needs quotes. */
function quoteHint(issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidType>): string {
  const readAsScalar = typeof issue.input === "number" || typeof issue.input === "boolean";
  return issue.expected === "string" && readAsScalar ? " (quote the value to keep it as text)" : "";
}

function expectedType(expected: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "an integer",
    boolean: "true or false",
    object: "a map",
    record: "a map",
    array: "a list",
  };
  return names[expected] ?? expected;
}

/** The kind of a value, never the value: it may be a secret. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "number" && Number.isInteger(value)) return "an integer";
  return `a ${typeof value}`;
}

function orList(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------
// Checks across sections, after the schema passed

function checkReferences(
  config: Config,
  lineOf: (path: ConfigPath) => number | undefined,
): { errors: Problem[]; warnings: Problem[] } {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const targetNames = Object.keys(config.targets);
  if (targetNames.length === 0) errors.push({ path: ["targets"], message: "at least one target is required" });

  const firstByName = new Map<string, number>();
  config.receivers.forEach((receiver, index) => {
    const first = firstByName.get(receiver.name);
    if (first === undefined) {
      firstByName.set(receiver.name, index);
    } else {
      const firstLine = lineOf(["receivers", first, "name"]);
      const where = firstLine === undefined ? `receivers[${first}]` : `line ${firstLine}`;
      errors.push({ path: ["receivers", index, "name"], message: `duplicate receiver name "${receiver.name}" (first defined at ${where})` });
    }
    receiver.targets.forEach((target, position) => {
      if (Object.hasOwn(config.targets, target)) return;
      const known = targetNames.length > 0 ? ` (defined targets: ${targetNames.join(", ")})` : "";
      errors.push({ path: ["receivers", index, "targets", position], message: `unknown target "${target}"${known}` });
    });
  });

  const used = new Set(config.receivers.flatMap((receiver) => receiver.targets));
  for (const name of targetNames) {
    if (!used.has(name)) warnings.push({ path: ["targets", name], message: `target "${name}" is not used by any receiver` });
  }
  return { errors, warnings };
}

// ---------------------------------------------------------------------------------------
// Secrets: collected for log redaction, and scrubbed from every message we produce

const SECRET_KEYS = new Set(["webhook", "secret", "bearer_token", "password", "token", "aes_key"]);

/** Values of secret-named keys anywhere in `value`, plus the key of a full robot webhook URL; longest first. */
function collectSecrets(value: unknown): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isObject(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === "url" && typeof child === "string" && /^postgres(ql)?:\/\//.test(child)) {
        // A database URL carries its password: the URL and the password are both secrets.
        found.add(child);
        const password = URL.canParse(child) ? decodeURIComponent(new URL(child).password) : "";
        if (password !== "") found.add(password);
      } else if (SECRET_KEYS.has(key) && typeof child === "string" && child !== "") {
        found.add(child);
        if (key === "webhook") {
          const webhookKey = keyOf(child);
          if (webhookKey) found.add(webhookKey);
        }
      } else {
        visit(child);
      }
    }
  };
  visit(value);
  return [...found].sort((a, b) => b.length - a.length);
}

/** The robot key inside a webhook value, when it has one (a bad value is reported elsewhere). */
function keyOf(webhook: string): string | undefined {
  try {
    return robotKey(webhook);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Small helpers

function toConfigError(
  problem: Problem,
  file: string,
  lineOf: (path: ConfigPath) => number | undefined,
  secrets: string[],
): ConfigError {
  const line = problem.line === null ? undefined : (problem.line ?? lineOf(problem.linePath ?? problem.path));
  const path = problem.path.map((segment) => (typeof segment === "string" ? redactSecrets(segment, secrets) : segment));
  const error: ConfigError = { file, path, message: redactSecrets(problem.message, secrets) };
  if (line !== undefined && line > 0) error.line = line;
  return error;
}

/** File-wide problems first, then by line; the sort is stable, so ties keep their order. */
function sortByLine(errors: ConfigError[]): ConfigError[] {
  return [...errors].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

function pathSegment(segment: PropertyKey): string | number {
  return typeof segment === "number" ? segment : String(segment);
}

function pathKey(path: ConfigPath): string {
  return JSON.stringify(path);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function osReason(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  // Node's message is "ENOENT: no such file or directory, open 'x'"; keep the human part.
  const human = /^[A-Z]+: ([^,]+)/.exec(message)?.[1];
  return human !== undefined && code !== undefined ? `${human} (${code})` : message;
}

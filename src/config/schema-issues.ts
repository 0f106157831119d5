// zod's issues with the config turned into readable problems, each at its config path,
// naming types, keys and allowed values but never the value itself.
import type { z } from "zod";
import type { ConfigPath } from "./errors.js";
import { isObject, type Problem } from "./problem.js";

/**
 * The keys a strict object allows, by the input object it rejected. Filled in while zod
 * reports, because only then is the schema behind an issue known; weak, so it holds nothing.
 */
const allowedKeysByInput = new WeakMap<object, string[]>();

/**
 * The error map: zod calls it for every issue that has no message of its own. Messages name
 * types, keys and allowed values, never the value itself, which may be a secret.
 */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
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
      return issue.input === undefined ? "is required" : unionMessage(issue, schema);
    default:
      return undefined;
  }
}

/** Turns one issue into problems: one per unknown key, and union failures into their best branch. */
export function issueProblems(issue: z.core.$ZodIssue, base: ConfigPath): Problem[] {
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

function pathSegment(segment: PropertyKey): string | number {
  return typeof segment === "number" ? segment : String(segment);
}

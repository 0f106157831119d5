// Reads routes.yml: YAML with line numbers, `${ENV}` expansion, schema validation, and the
// cross-reference checks the schema cannot express. Every problem is collected, so that
// `check` can print them all at once, each with its line.
import { readFileSync } from "node:fs";
import { collectSecrets } from "./collect-secrets.js";
import type { ConfigError, ConfigPath } from "./errors.js";
import { pathKey, type Problem } from "./problem.js";
import { checkReferences } from "./references.js";
import { describeIssue, issueProblems } from "./schema-issues.js";
import { configSchema, type Config } from "./schema.js";
import { readYaml, type UnsetSetting } from "./yaml-source.js";
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

export type { UnsetSetting };

/**
 * On failure, `partial` holds what YAML could read (when it read the whole document), so
 * later stages can still report their own errors in the same run: `check` lists them all.
 */
export type ConfigResult =
  | { loaded: LoadedConfig }
  | { errors: ConfigError[]; partial?: { data: unknown; secrets: string[]; lineOf(path: ConfigPath): number | undefined } };

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

function osReason(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  // Node's message is "ENOENT: no such file or directory, open 'x'"; keep the human part.
  const human = /^[A-Z]+: ([^,]+)/.exec(message)?.[1];
  return human !== undefined && code !== undefined ? `${human} (${code})` : message;
}

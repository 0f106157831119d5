// routes.yml as YAML: parsed with line numbers, `${ENV}` expanded per scalar after parsing (so
// a value can never inject YAML structure), and syntax problems pinned to their lines.
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
import { expandEnv, shieldEnvReferences, type ShieldedText } from "./env.js";
import type { ConfigPath } from "./errors.js";
import { pathKey, type Problem } from "./problem.js";

export interface UnsetSetting {
  path: ConfigPath;
  variables: string[];
}

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

export function readYaml(text: string, env: NodeJS.ProcessEnv): YamlSource {
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

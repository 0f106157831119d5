// `${NAME}` and `${NAME:-default}` references in config values, with shell semantics.

export interface EnvExpansion {
  value: string;
  /** Variables that are unset and have no default, each named once. */
  missing: string[];
  /**
   * References that start with `${` but are not `${NAME}` or `${NAME:-default}`, such as
   * `${NAME:default}` or an unclosed `${NAME`. They are left in `value` as written.
   */
  malformed: string[];
  /** Every variable the text refers to, each named once. */
  names: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in `text`. `$$` is a literal `$`; any other `$`
 * not followed by `{` stays as it is. As in a shell, `:-` uses the default when the variable
 * is unset or empty, while `${NAME}` of an empty variable is the empty string. A default may
 * be empty and may hold any character except `}`, so references do not nest.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv): EnvExpansion {
  let value = "";
  const missing = new Set<string>();
  const names = new Set<string>();
  const malformed: string[] = [];
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar === -1) {
      value += text.slice(i);
      break;
    }
    value += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$") {
      value += "$";
      i = dollar + 2;
      continue;
    }
    if (next !== "{") {
      value += "$";
      i = dollar + 1;
      continue;
    }
    const reference = parseReference(text, dollar);
    if (reference.kind === "malformed") {
      malformed.push(reference.text);
      value += reference.text;
      i = dollar + reference.text.length;
      continue;
    }
    names.add(reference.name);
    const set = env[reference.name];
    if (reference.fallback !== undefined) {
      value += set === undefined || set === "" ? reference.fallback : set;
    } else if (set === undefined) {
      missing.add(reference.name);
    } else {
      value += set;
    }
    i = reference.end;
  }
  return { value, missing: [...missing], malformed, names: [...names] };
}

export interface ShieldedText {
  text: string;
  /** Puts the references back into a string taken from the shielded text. */
  restore(value: string): string;
}

/**
 * Replaces every `${...}` reference in `text` with a placeholder of letters, digits and `_`,
 * so that a YAML parser reads it as plain text wherever it stands: in a flow collection,
 * `{ token: ${TOKEN} }` would otherwise end the value at `{`. References that span lines
 * are left alone, so line numbers in the shielded text stay those of `text`.
 */
export function shieldEnvReferences(text: string): ShieldedText {
  let marker = "_envref_";
  while (text.includes(marker)) marker += "x";
  const references: string[] = [];
  let shielded = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar === -1) {
      shielded += text.slice(i);
      break;
    }
    const next = text[dollar + 1];
    const reference = next === "{" ? parseReference(text, dollar) : undefined;
    const written = reference === undefined ? undefined : referenceText(text, dollar, reference);
    if (written === undefined || written.includes("\n") || !written.endsWith("}")) {
      // `$$` is skipped as a pair so that `$${X}` stays the literal text it stands for.
      const step = next === "$" ? 2 : 1;
      shielded += text.slice(i, dollar + step);
      i = dollar + step;
      continue;
    }
    shielded += text.slice(i, dollar) + `${marker}${references.length}_`;
    references.push(written);
    i = dollar + written.length;
  }
  const placeholder = new RegExp(`${marker}(\\d+)_`, "g");
  const restore = (value: string): string =>
    value.replace(placeholder, (match, index: string) => references[Number(index)] ?? match);
  return { text: shielded, restore };
}

function referenceText(text: string, start: number, reference: Reference): string {
  return reference.kind === "malformed" ? reference.text : text.slice(start, reference.end);
}

type Reference =
  | { kind: "variable"; name: string; fallback: string | undefined; end: number }
  | { kind: "malformed"; text: string };

/** Reads the reference whose `$` is at `start` (known to be followed by `{`). */
function parseReference(text: string, start: number): Reference {
  const close = text.indexOf("}", start);
  const malformed: Reference = { kind: "malformed", text: close === -1 ? text.slice(start) : text.slice(start, close + 1) };
  if (close === -1) return malformed;
  const body = text.slice(start + 2, close);
  const name = NAME.exec(body)?.[0];
  if (name === undefined) return malformed;
  const rest = body.slice(name.length);
  if (rest === "") return { kind: "variable", name, fallback: undefined, end: close + 1 };
  if (rest.startsWith(":-")) return { kind: "variable", name, fallback: rest.slice(2), end: close + 1 };
  return malformed;
}

// Alertmanager label matchers (the UTF-8 syntax of v0.27+): `name="value"`, `name=~"re"`,
// or a list `{a="x", b!~"y|z",}`. Semantics follow Alertmanager: a missing label is the
// empty string, and regexes are anchored at both ends. Regexes run on RE2, the engine of
// Go's regexp that Alertmanager uses: matching takes time linear in the label value
// whatever the pattern, so a sender's label cannot stall routing.
import RE2 from "re2";

export type MatchType = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
  /** `undefined` (label absent) matches like the empty string. */
  matches(value: string | undefined): boolean;
  /** Canonical text, parseable by parseMatchers: `name="value"`. */
  toString(): string;
}

/** The text is not a valid matcher list; the message says what is wrong and where. */
export class MatcherSyntaxError extends Error {
  override readonly name = "MatcherSyntaxError";

  constructor(
    /** The whole matcher text as written. */
    readonly input: string,
    /** 1-based, in characters (code points) of `input`. */
    readonly column: number,
    /** What is wrong, without the position. */
    readonly reason: string,
  ) {
    super(`${reason} (column ${column} of '${printable(input)}')`);
  }
}

/**
 * Parses one matcher or a comma-separated list, optionally in braces. Regexes are
 * compiled here, so a matcher that parses never fails later.
 */
export function parseMatchers(text: string): Matcher[] {
  return new MatcherParser(text).parseList();
}

class LabelMatcher implements Matcher {
  readonly #regex: RE2 | undefined;

  constructor(
    readonly name: string,
    readonly type: MatchType,
    readonly value: string,
    regex: RE2 | undefined,
  ) {
    this.#regex = regex;
  }

  matches(value: string | undefined): boolean {
    const actual = value ?? "";
    switch (this.type) {
      case "=":
        return actual === this.value;
      case "!=":
        return actual !== this.value;
      case "=~":
        return this.#regex!.test(actual);
      case "!~":
        return !this.#regex!.test(actual);
    }
  }

  toString(): string {
    const name = CLASSIC_LABEL_NAME.test(this.name) ? this.name : quote(this.name);
    return `${name}${this.type}${quote(this.value)}`;
  }
}

const CLASSIC_LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Characters an unquoted literal may not contain (Alertmanager's reserved set).
const RESERVED = new Set(["{", "}", "!", "=", "~", ",", "\\", '"', "'", "`"]);

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

function isReserved(ch: string): boolean {
  return RESERVED.has(ch) || isSpace(ch);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
};

interface Literal {
  value: string;
  /** 1-based column where the literal starts. */
  column: number;
}

class MatcherParser {
  // Code points, so columns count characters the way an editor does (emoji included).
  readonly #chars: string[];
  #pos = 0;

  constructor(readonly input: string) {
    this.#chars = Array.from(input);
  }

  parseList(): Matcher[] {
    this.#skipSpace();
    const openColumn = this.#column();
    const hasOpenBrace = this.#peek() === "{";
    if (hasOpenBrace) this.#pos++;

    const matchers: Matcher[] = [];
    let closed = false;
    let expectMatcher = true; // at the start and right after a comma
    for (;;) {
      this.#skipSpace();
      const ch = this.#peek();
      if (ch === undefined) break;
      if (ch === "}") {
        if (!hasOpenBrace) this.#fail(`unexpected "}" without an opening "{"`);
        if (matchers.length === 0) this.#fail(`no matchers between "{" and "}"`);
        this.#pos++;
        closed = true;
        break;
      }
      if (!expectMatcher) {
        const wanted = hasOpenBrace ? `"," or "}"` : `"," or the end`;
        this.#fail(`expected ${wanted} after a matcher, found ${this.#describeNext()}`);
      }
      if (ch === ",") {
        this.#fail(
          matchers.length === 0
            ? `expected a label name, found ","`
            : `expected a matcher after ",", found ","`,
        );
      }
      matchers.push(this.#parseMatcher());
      this.#skipSpace();
      expectMatcher = this.#peek() === ",";
      if (expectMatcher) this.#pos++;
    }

    if (hasOpenBrace && !closed) {
      this.#fail(`missing closing "}" for the "{" at column ${openColumn}`);
    }
    if (closed) {
      this.#skipSpace();
      if (this.#peek() !== undefined) {
        this.#fail(`unexpected ${this.#describeNext()} after the closing "}"`);
      }
    }
    if (matchers.length === 0) {
      this.#fail(`empty matcher: expected something like name="value"`, 1);
    }
    return matchers;
  }

  #parseMatcher(): Matcher {
    const name = this.#parseLiteral("label name", () => `expected a label name, found ${this.#describeNext()}`);
    if (name.value === "") this.#fail("the label name must not be empty", name.column);

    this.#skipSpace();
    const type = this.#parseOperator(name.value);

    this.#skipSpace();
    const value = this.#parseLiteral("label value", () =>
      this.#peek() === undefined
        ? `expected a label value after "${type}", but the text ended`
        : `expected a label value after "${type}", found ${this.#describeNext()}`,
    );

    const regex = type === "=~" || type === "!~" ? this.#compileRegex(value) : undefined;
    return new LabelMatcher(name.value, type, value.value, regex);
  }

  #parseOperator(labelName: string): MatchType {
    const ch = this.#peek();
    const expected = `expected an operator (=, !=, =~, !~) after label name "${labelName}"`;
    if (ch === undefined) this.#fail(`${expected}, but the text ended`);
    if (ch === "=") {
      this.#pos++;
      if (this.#peek() === "~") {
        this.#pos++;
        return "=~";
      }
      return "=";
    }
    if (ch === "!") {
      const next = this.#chars[this.#pos + 1];
      if (next === "=" || next === "~") {
        this.#pos += 2;
        return next === "=" ? "!=" : "!~";
      }
      this.#fail(`"!" must be followed by "=" or "~"`);
    }
    this.#fail(`${expected}, found ${this.#describeNext()}`);
  }

  /** A double-quoted string or an unquoted literal; `missing` explains an absent one. */
  #parseLiteral(what: string, missing: () => string): Literal {
    const column = this.#column();
    const ch = this.#peek();
    if (ch === '"') return { value: this.#parseQuoted(), column };
    if (ch === "'" || ch === "`") {
      this.#fail(`${what}s use double quotes, not ${ch}`);
    }
    if (ch === undefined || isReserved(ch)) this.#fail(missing());

    const start = this.#pos;
    while (this.#pos < this.#chars.length && !isReserved(this.#chars[this.#pos]!)) this.#pos++;
    const stop = this.#peek();
    // A quote or backslash glued to the literal is almost always meant to be part of it.
    if (stop === '"' || stop === "'" || stop === "`" || stop === "\\") {
      this.#fail(`${JSON.stringify(stop)} cannot appear in an unquoted ${what}; put the ${what} in double quotes`);
    }
    // After a value, "=" "!" "~" cannot start anything valid, so they belong to the value.
    if (what === "label value" && (stop === "=" || stop === "!" || stop === "~")) {
      this.#fail(`"${stop}" cannot appear in an unquoted ${what}; put the ${what} in double quotes`);
    }
    return { value: this.#chars.slice(start, this.#pos).join(""), column };
  }

  /** Go-style double-quoted string; the cursor is on the opening quote. */
  #parseQuoted(): string {
    const openColumn = this.#column();
    this.#pos++;
    let value = "";
    for (;;) {
      const ch = this.#peek();
      if (ch === undefined) {
        this.#fail(`unterminated quoted string: no closing '"'`, openColumn);
      }
      if (ch === '"') {
        this.#pos++;
        return value;
      }
      if (ch === "\n" || ch === "\r") {
        this.#fail(`line break inside a quoted string; write \\n instead`);
      }
      if (ch !== "\\") {
        value += ch;
        this.#pos++;
        continue;
      }
      value += this.#parseEscape();
    }
  }

  /** One escape sequence; the cursor is on the backslash. */
  #parseEscape(): string {
    const column = this.#column();
    const letter = this.#chars[this.#pos + 1];
    if (letter === undefined) this.#fail(`unterminated quoted string: it ends with a lone "\\"`);
    const simple = SIMPLE_ESCAPES[letter];
    if (simple !== undefined) {
      this.#pos += 2;
      return simple;
    }
    if (letter === "u" || letter === "U") {
      const digits = letter === "u" ? 4 : 8;
      let hex = "";
      for (const ch of this.#chars.slice(this.#pos + 2, this.#pos + 2 + digits)) {
        if (!/[0-9A-Fa-f]/.test(ch)) break;
        hex += ch;
      }
      const codePoint = hex.length === digits ? parseInt(hex, 16) : NaN;
      const isSurrogate = codePoint >= 0xd800 && codePoint <= 0xdfff;
      if (Number.isNaN(codePoint) || codePoint > 0x10ffff || isSurrogate) {
        this.#fail(`invalid escape "\\${letter}${hex}": expected ${digits} hex digits of a Unicode code point`, column);
      }
      this.#pos += 2 + digits;
      return String.fromCodePoint(codePoint);
    }
    this.#fail(`unknown escape "\\${letter}" in a quoted string; write "\\\\${letter}" for a literal backslash`, column);
  }

  // RE2 with Go's syntax, anchored the way Alertmanager anchors: `^(?:re)$`.
  #compileRegex(literal: Literal): RE2 {
    const source = literal.value;
    const jsOnly = jsOnlySyntax(source);
    if (jsOnly !== undefined) this.#failRegex(literal, jsOnly);
    try {
      // Compiled alone first: engine messages then speak of the user's pattern, and an
      // unbalanced ")" cannot close the anchoring group early (`a)|(b` is an error).
      new RE2(source, "u");
      return new RE2(`^(?:${source})$`, "u");
    } catch (err) {
      this.#failRegex(literal, explainRe2Error((err as Error).message, source));
    }
  }

  #failRegex(literal: Literal, reason: string): never {
    this.#fail(`invalid regular expression ${JSON.stringify(literal.value)}: ${reason}`, literal.column);
  }

  #peek(): string | undefined {
    return this.#chars[this.#pos];
  }

  #column(): number {
    return this.#pos + 1;
  }

  #skipSpace(): void {
    while (this.#pos < this.#chars.length && isSpace(this.#chars[this.#pos]!)) this.#pos++;
  }

  /** The next token-ish piece of text, quoted, for "found ..." in messages. */
  #describeNext(): string {
    const ch = this.#peek();
    if (ch === undefined) return "the end";
    if (ch === "!" || ch === "=") {
      const two = this.#chars.slice(this.#pos, this.#pos + 2).join("");
      return JSON.stringify(["!=", "!~", "=~"].includes(two) ? two : ch);
    }
    if (isReserved(ch)) return JSON.stringify(ch);
    let end = this.#pos;
    while (end < this.#chars.length && !isReserved(this.#chars[end]!)) end++;
    return JSON.stringify(this.#chars.slice(this.#pos, end).join(""));
  }

  #fail(reason: string, column = this.#column()): never {
    throw new MatcherSyntaxError(this.input, column, reason);
  }
}

/** Go-style double-quoted string that parseMatchers reads back to the same text. */
function quote(text: string): string {
  let out = '"';
  for (const ch of text) {
    if (ch === "\\" || ch === '"') out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch < " " || ch === "\x7f") out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Keeps an error message on one line whatever the matcher text holds. */
function printable(text: string): string {
  return text.replace(/[\n\r\t]/g, (ch) => (ch === "\n" ? "\\n" : ch === "\r" ? "\\r" : "\\t"));
}

const UNSUPPORTED = "RE2 (Alertmanager's regex engine) does not support";

/**
 * RE2 has no lookaround, backreferences or possessive quantifiers (the features that make
 * backtracking engines exponential); its messages for them become ones naming the feature.
 * Plain syntax errors keep RE2's wording.
 */
function explainRe2Error(message: string, source: string): string {
  // RE2 says "<what>: <fragment>".
  const colon = message.indexOf(": ");
  const what = colon < 0 ? message : message.slice(0, colon);
  const fragment = colon < 0 ? "" : message.slice(colon + 2);
  switch (what) {
    case "invalid perl operator":
      if (/^\(\?[=!]/.test(fragment)) return `${UNSUPPORTED} lookahead "${fragment}"`;
      if (/^\(\?<[=!]/.test(fragment)) return `${UNSUPPORTED} lookbehind "${fragment}"`;
      if (fragment === "(?P" && source.includes("(?P=")) return `${UNSUPPORTED} backreferences "(?P="`;
      if (fragment === "(?>") return `${UNSUPPORTED} atomic groups "(?>"`;
      if (fragment === "(?#") return `${UNSUPPORTED} comments "(?#"`;
      // Only flags (i, m, s, U) yet rejected: cut short, e.g. "(?i" or "(?-)".
      if (/^\(\?[imsU-]*\)?$/.test(fragment)) return `incomplete group "${fragment}"`;
      if (/^\(\?-?[A-Za-z]+$/.test(fragment)) return `${UNSUPPORTED} the flags in "${fragment}" (it has i, m, s and U)`;
      return `${UNSUPPORTED} "${fragment}"`;
    case "invalid escape sequence":
      if (/^\\([1-9]|k)/.test(fragment)) return `${UNSUPPORTED} backreferences "${fragment}"`;
      return `${UNSUPPORTED} the escape "${fragment}"`;
    case "bad repetition operator":
      if (fragment.endsWith("+")) return `${UNSUPPORTED} possessive quantifiers "${fragment}"`;
      return `${UNSUPPORTED} a quantifier after a quantifier "${fragment}"`;
    // The fragment is (the rest of) the pattern, which the message already quotes.
    case "missing )":
    case "unexpected )":
    case "missing ]":
    case "trailing \\":
      return what;
    default:
      return message;
  }
}

/**
 * Syntax node-re2 accepts for JavaScript's sake but Go's RE2 rejects: node-re2 rewrites
 * `\u2603`, `\cA` and `\p{Script=Han}` before RE2 sees them, and C++ RE2 has `\C` (one
 * byte), which Go lacks. Alertmanager would not load such a matcher, so the relay does
 * not either; the message gives the RE2 spelling.
 */
function jsOnlySyntax(source: string): string | undefined {
  for (let i = 0; i < source.length; i++) {
    if (source[i] !== "\\") continue;
    const letter = source[i + 1];
    const rest = source.slice(i + 2);
    if (letter === "u") {
      const code = /^[0-9A-Fa-f]{1,4}/.exec(rest)?.[0] ?? /^\{[^}]*\}?/.exec(rest)?.[0];
      if (code !== undefined) {
        const digits = code.startsWith("{") ? code : `{${code}}`;
        return `${UNSUPPORTED} the escape "\\u${code}": write "\\x${digits}"`;
      }
    } else if (letter === "c" && /^[A-Z]/.test(rest)) {
      const hex = (rest.charCodeAt(0) - 64).toString(16).padStart(2, "0");
      return `${UNSUPPORTED} the escape "\\c${rest[0]}": write "\\x${hex}"`;
    } else if (letter === "C") {
      return `${UNSUPPORTED} the escape "\\C" (any byte)`;
    } else if (letter === "p" || letter === "P") {
      const name = /^\{([^}]*)\}/.exec(rest)?.[1];
      const spelling = name === undefined ? undefined : re2ClassSpelling(letter, name);
      if (spelling !== undefined) return `${UNSUPPORTED} "\\${letter}{${name}}": write "${spelling}"`;
    }
    i++; // the escaped character is taken: in "\\u" the "u" is a plain letter
  }
  return undefined;
}

/** RE2's spelling of `\p{name}` when node-re2 would rewrite it (long or `Script=` names). */
function re2ClassSpelling(letter: string, name: string): string | undefined {
  const written = `\\${letter}{${name}}`;
  let translated: string;
  try {
    translated = new RE2(written, "u").internalSource;
  } catch {
    return undefined; // not a class at all: compiling the pattern reports it
  }
  const same = translated === written || (name.length === 1 && translated === `\\${letter}${name}`);
  return same ? undefined : translated;
}

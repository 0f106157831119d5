import { describe, expect, it } from "vitest";
import { MatcherSyntaxError, parseMatchers, type Matcher } from "../../src/routing/matchers.js";

function parseOne(text: string): Matcher {
  const matchers = parseMatchers(text);
  expect(matchers).toHaveLength(1);
  return matchers[0]!;
}

function plain(matchers: Matcher[]): { name: string; type: string; value: string }[] {
  return matchers.map(({ name, type, value }) => ({ name, type, value }));
}

function syntaxError(text: string): MatcherSyntaxError {
  try {
    parseMatchers(text);
  } catch (err) {
    expect(err).toBeInstanceOf(MatcherSyntaxError);
    return err as MatcherSyntaxError;
  }
  throw new Error(`expected ${text} to be rejected`);
}

describe("Matcher.matches", () => {
  // [matcher, label value (undefined = label absent), expected]
  const cases: [string, string | undefined, boolean][] = [
    ['severity="critical"', "critical", true],
    ['severity="critical"', "warning", false],
    ['severity="critical"', undefined, false],
    ['severity=""', undefined, true],
    ['severity=""', "", true],
    ['severity=""', "critical", false],
    ['severity!="critical"', "warning", true],
    ['severity!="critical"', "critical", false],
    ['severity!="critical"', undefined, true],
    ['severity!=""', undefined, false],
    ['severity=~"crit|warn"', "crit", true],
    ['severity=~"crit|warn"', "warn", true],
    ['severity=~"crit|warn"', "info", false],
    ['severity=~".*"', undefined, true],
    ['severity=~".+"', undefined, false],
    ['severity!~"crit|warn"', "info", true],
    ['severity!~"crit|warn"', "crit", false],
    ['severity!~".+"', undefined, true],
    ['severity!~".*"', undefined, false],
    // Anchoring: the regex must match the whole value.
    ['severity=~"crit"', "critical", false],
    ['severity=~"crit"', "supercrit", false],
    ['severity=~"crit.*"', "critical", true],
    ['severity!~"crit"', "critical", true],
    // An alternation is anchored as a whole, not only its first and last branches.
    ['severity=~"a|b"', "ab", false],
    ['severity=~"a|b"', "xa", false],
    // Values are compared exactly: case and whitespace matter.
    ['severity="critical"', "Critical", false],
    ['severity="critical"', "critical ", false],
    // RE2's leading (?i) flag is honoured.
    ['severity=~"(?i)crit.*"', "CRITICAL", true],
    ['severity=~"(?i)crit"', "CRITICAL", false],
    // RE2 flags anywhere in the pattern, not only leading ones.
    ['severity=~"crit(?i:ical)"', "critICAL", true],
    ['severity=~"crit(?i:ical)"', "CRITical", false],
    ['severity=~"(?U)a+a"', "aaa", true],
    // "." is one character even outside the Basic Multilingual Plane.
    ['icon=~"."', "🔥", true],
    ['team=~"\\\\p{Han}+"', "运维", true],
    ['team=~"\\\\p{Han}+"', "ops", false],
    ['team=~"\\\\pL+"', "运维", true],
    // RE2 syntax that JavaScript lacks: named groups the Go way, quoted literal text.
    ['job=~"(?P<kind>api|web)-\\\\d+"', "api-1", true],
    ['host=~"\\\\Q10.0.0.1\\\\E"', "10.0.0.1", true],
    ['host=~"\\\\Q10.0.0.1\\\\E"', "10a0b0c1", false],
    ['range=~"a\\\\-b"', "a-b", true],
    // Perl classes are ASCII in RE2 as in Go, unlike JavaScript's with the u flag.
    ['n=~"\\\\d+"', "٣", false],
    ['n=~"\\\\s"', "\u00a0", false],
    ['n=~"\\\\w+"', "é", false],
    // "$" is the end of the text: a trailing newline is part of the value.
    ['env=~"prod$"', "prod\n", false],
    ['env=~"(?s)prod."', "prod\n", true],
  ];
  it.each(cases)("%s against %j gives %s", (text, value, expected) => {
    expect(parseOne(text).matches(value)).toBe(expected);
  });
});

describe("parseMatchers", () => {
  const cases: [string, string, { name: string; type: string; value: string }[]][] = [
    ["a quoted value", 'severity="critical"', [{ name: "severity", type: "=", value: "critical" }]],
    ["an unquoted value", "severity=critical", [{ name: "severity", type: "=", value: "critical" }]],
    ["an unquoted regex", "job=~[a-z]+.*$", [{ name: "job", type: "=~", value: "[a-z]+.*$" }]],
    ["a quoted name", '"service.name"="api"', [{ name: "service.name", type: "=", value: "api" }]],
    ["unquoted UTF-8", "团队=运维", [{ name: "团队", type: "=", value: "运维" }]],
    ["spaces around the operator", ' env  !=  "prod" ', [{ name: "env", type: "!=", value: "prod" }]],
    ["an empty quoted value", 'env=""', [{ name: "env", type: "=", value: "" }]],
    ["escaped quote and backslash", 'msg="say \\"hi\\" \\\\o/"', [{ name: "msg", type: "=", value: 'say "hi" \\o/' }]],
    ["newline and tab escapes", 'msg="a\\nb\\tc\\rd"', [{ name: "msg", type: "=", value: "a\nb\tc\rd" }]],
    ["unicode escapes", 'icon="\\u2603\\U0001F525"', [{ name: "icon", type: "=", value: "☃🔥" }]],
    ["a regex backslash written as \\\\", 'job=~"\\\\d+"', [{ name: "job", type: "=~", value: "\\d+" }]],
    [
      "commas, braces and operators inside quotes",
      'msg="a,b {c} !=~ d"',
      [{ name: "msg", type: "=", value: "a,b {c} !=~ d" }],
    ],
    [
      "a comma-separated list",
      'env="prod", team=~"a|b"',
      [
        { name: "env", type: "=", value: "prod" },
        { name: "team", type: "=~", value: "a|b" },
      ],
    ],
    [
      "a brace list",
      '{env="prod", team=~"a|b"}',
      [
        { name: "env", type: "=", value: "prod" },
        { name: "team", type: "=~", value: "a|b" },
      ],
    ],
    ["a brace list with a trailing comma", '{env="prod",}', [{ name: "env", type: "=", value: "prod" }]],
    ["a trailing comma without braces", 'env="prod" ,', [{ name: "env", type: "=", value: "prod" }]],
    [
      "all four operators at once",
      "{a=1,b!=2,c=~3,d!~4}",
      [
        { name: "a", type: "=", value: "1" },
        { name: "b", type: "!=", value: "2" },
        { name: "c", type: "=~", value: "3" },
        { name: "d", type: "!~", value: "4" },
      ],
    ],
    ["spaces and line breaks around braces", ' {\n  env="prod"\n} ', [{ name: "env", type: "=", value: "prod" }]],
  ];
  it.each(cases)("reads %s", (_description, text, expected) => {
    expect(plain(parseMatchers(text))).toEqual(expected);
  });

  it("compiles the regex so a list of matchers can be applied together", () => {
    const matchers = parseMatchers('{env="prod", team=~"db|web"}');
    const labels: Record<string, string> = { env: "prod", team: "web" };
    expect(matchers.every((m) => m.matches(labels[m.name]))).toBe(true);
    labels.team = "webapp";
    expect(matchers.every((m) => m.matches(labels[m.name]))).toBe(false);
  });
});

describe("Matcher.toString", () => {
  const cases: [string, string][] = [
    ["severity=critical", 'severity="critical"'],
    ['env != "prod"', 'env!="prod"'],
    ['msg="a\\"b\\\\c\\nd"', 'msg="a\\"b\\\\c\\nd"'],
    ['"service.name"=~"api|web"', '"service.name"=~"api|web"'],
    ['ctl="\\u0001"', 'ctl="\\u0001"'],
  ];
  it.each(cases)("writes %s as %s, which parses back to the same matcher", (text, expected) => {
    const matcher = parseOne(text);
    expect(matcher.toString()).toBe(expected);
    expect(plain(parseMatchers(matcher.toString()))).toEqual(plain([matcher]));
  });
});

describe("matcher syntax errors", () => {
  // [input, column, reason]
  const cases: [string, number, string][] = [
    ["", 1, 'empty matcher: expected something like name="value"'],
    ["   ", 1, 'empty matcher: expected something like name="value"'],
    ["{}", 2, 'no matchers between "{" and "}"'],
    ["{ }", 3, 'no matchers between "{" and "}"'],
    ["{", 2, 'missing closing "}" for the "{" at column 1'],
    ['{env="prod"', 12, 'missing closing "}" for the "{" at column 1'],
    ["}", 1, 'unexpected "}" without an opening "{"'],
    ['env="prod"}', 11, 'unexpected "}" without an opening "{"'],
    ['{env="prod"} x', 14, 'unexpected "x" after the closing "}"'],
    ['{env="prod"},', 13, 'unexpected "," after the closing "}"'],
    [",", 1, 'expected a label name, found ","'],
    ["{,}", 2, 'expected a label name, found ","'],
    ['env="prod",,', 12, 'expected a matcher after ",", found ","'],
    ['=~"x"', 1, 'expected a label name, found "=~"'],
    ["env", 4, 'expected an operator (=, !=, =~, !~) after label name "env", but the text ended'],
    ['env "prod"', 5, 'expected an operator (=, !=, =~, !~) after label name "env", found "\\""'],
    ["env prod", 5, 'expected an operator (=, !=, =~, !~) after label name "env", found "prod"'],
    ["env~prod", 4, 'expected an operator (=, !=, =~, !~) after label name "env", found "~"'],
    ["env!prod", 4, '"!" must be followed by "=" or "~"'],
    ["env=", 5, 'expected a label value after "=", but the text ended'],
    ["env=~", 6, 'expected a label value after "=~", but the text ended'],
    ["env=,team=a", 5, 'expected a label value after "=", found ","'],
    ["{env=}", 6, 'expected a label value after "=", found "}"'],
    ["env==prod", 5, 'expected a label value after "=", found "="'],
    ["env=pr=od", 7, '"=" cannot appear in an unquoted label value; put the label value in double quotes'],
    ["env='prod'", 5, "label values use double quotes, not '"],
    ["'env'=prod", 1, "label names use double quotes, not '"],
    ["env=`prod`", 5, "label values use double quotes, not `"],
    ["env=it's", 7, `"'" cannot appear in an unquoted label value; put the label value in double quotes`],
    ["env=prod\\n", 9, '"\\\\" cannot appear in an unquoted label value; put the label value in double quotes'],
    ['e"nv"=prod', 2, '"\\"" cannot appear in an unquoted label name; put the label name in double quotes'],
    ['env="prod" team="a"', 12, 'expected "," or the end after a matcher, found "team"'],
    ['{env="prod" team="a"}', 13, 'expected "," or "}" after a matcher, found "team"'],
    ['env="prod', 5, "unterminated quoted string: no closing '\"'"],
    ['env="prod\\"', 5, "unterminated quoted string: no closing '\"'"],
    ['env="prod\\', 10, 'unterminated quoted string: it ends with a lone "\\"'],
    ['env="pr\nod"', 8, "line break inside a quoted string; write \\n instead"],
    ['job=~"\\d+"', 7, 'unknown escape "\\d" in a quoted string; write "\\\\d" for a literal backslash'],
    ['icon="\\u26"', 7, 'invalid escape "\\u26": expected 4 hex digits of a Unicode code point'],
    ['icon="\\ud800"', 7, 'invalid escape "\\ud800": expected 4 hex digits of a Unicode code point'],
    ['icon="\\U00110000"', 7, 'invalid escape "\\U00110000": expected 8 hex digits of a Unicode code point'],
    ['""="x"', 1, "the label name must not be empty"],
    // Columns count characters, not UTF-16 units: the emoji is one column.
    ["🔥=a b", 5, 'expected "," or the end after a matcher, found "b"'],
  ];
  it.each(cases)("rejects %j at column %i: %s", (text, column, reason) => {
    const err = syntaxError(text);
    expect({ column: err.column, reason: err.reason }).toEqual({ column, reason });
    expect(err.input).toBe(text);
  });

  it("says what is wrong and where in one line of message", () => {
    const err = syntaxError('{env="prod"\n');
    expect(err.message).toBe(`missing closing "}" for the "{" at column 1 (column 13 of '{env="prod"\\n')`);
    expect(err.name).toBe("MatcherSyntaxError");
    expect(err).toBeInstanceOf(Error);
  });

  const badRegexes: [string, number, string, string][] = [
    // [input, column, regex as written, reason]
    ['job=~"(api"', 6, "(api", "missing )"],
    ['job!~"[a-"', 6, "[a-", "missing ]"],
    // An unbalanced ")" must not close the anchoring group and leave "(b" unanchored.
    ['job=~"a)|(b"', 6, "a)|(b", "unexpected )"],
    ["job=~*", 6, "*", "no argument for repetition operator: *"],
    ['job=~"x{1001}"', 6, "x{1001}", "invalid repetition size: {1001}"],
    ['job=~"[z-a]"', 6, "[z-a]", "invalid character class range: z-a"],
    ['job=~"(?i"', 6, "(?i", 'incomplete group "(?i"'],
  ];
  it.each(badRegexes)("rejects the invalid regex in %j, naming the regex and the reason", (text, column, regex, reason) => {
    const err = syntaxError(text);
    expect(err.column).toBe(column);
    expect(err.reason).toBe(`invalid regular expression ${JSON.stringify(regex)}: ${reason}`);
  });

  // Valid JavaScript, rejected by RE2 (and so by Alertmanager): the features that need
  // backtracking, and JavaScript spellings that node-re2 would otherwise quietly rewrite.
  const unsupported: [string, string, string][] = [
    // [input, regex as written, what RE2 does not support]
    ['path=~"a(?=b)"', "a(?=b)", 'lookahead "(?="'],
    ['path!~"a(?!b)"', "a(?!b)", 'lookahead "(?!"'],
    ['path=~"(?<=a)b"', "(?<=a)b", 'lookbehind "(?<="'],
    ['path=~"(?<!a)b"', "(?<!a)b", 'lookbehind "(?<!"'],
    ['path=~"(a)\\\\1"', "(a)\\1", 'backreferences "\\1"'],
    ['path=~"(?<n>a)\\\\k<n>"', "(?<n>a)\\k<n>", 'backreferences "\\k"'],
    ['path=~"(?P<n>a)(?P=n)"', "(?P<n>a)(?P=n)", 'backreferences "(?P="'],
    ['path=~"a++"', "a++", 'possessive quantifiers "++"'],
    ['path=~"a*+b"', "a*+b", 'possessive quantifiers "*+"'],
    ['path=~"a{2}+"', "a{2}+", 'possessive quantifiers "{2}+"'],
    ['path=~"a**"', "a**", 'a quantifier after a quantifier "**"'],
    ['path=~"(?>a+)b"', "(?>a+)b", 'atomic groups "(?>"'],
    ['path=~"(?x)a b"', "(?x)a b", 'the flags in "(?x" (it has i, m, s and U)'],
    ['path=~"a\\\\Z"', "a\\Z", 'the escape "\\Z"'],
    ['path=~"\\\\u2603"', "\\u2603", 'the escape "\\u2603": write "\\x{2603}"'],
    ['path=~"\\\\u{1F525}"', "\\u{1F525}", 'the escape "\\u{1F525}": write "\\x{1F525}"'],
    ['path=~"\\\\cA"', "\\cA", 'the escape "\\cA": write "\\x01"'],
    ['path=~"a\\\\C"', "a\\C", 'the escape "\\C" (any byte)'],
    ['team=~"\\\\p{Script=Han}+"', "\\p{Script=Han}+", '"\\p{Script=Han}": write "\\p{Han}"'],
    ['team=~"\\\\P{Letter}"', "\\P{Letter}", '"\\P{Letter}": write "\\PL"'],
  ];
  it.each(unsupported)("rejects %j: RE2 does not support %s", (text, regex, feature) => {
    const err = syntaxError(text);
    expect(err.reason).toBe(
      `invalid regular expression ${JSON.stringify(regex)}: RE2 (Alertmanager's regex engine) does not support ${feature}`,
    );
    expect(err.column).toBe(text.indexOf('"') + 1);
  });

  it("leaves a backslash-escaped backslash alone: \\\\u is a backslash and a u", () => {
    expect(parseOne('path=~"\\\\\\\\u2603"').matches("\\u2603")).toBe(true);
  });

  it("does not check a regex for = and != values", () => {
    expect(parseOne('job="(api"').matches("(api")).toBe(true);
  });
});

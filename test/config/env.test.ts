import { describe, expect, it } from "vitest";
import { expandEnv, shieldEnvReferences } from "../../src/config/env.js";

const env = { HOST: "relay.example", EMPTY: "", PORT: "8080" };

describe("expandEnv", () => {
  it.each([
    ["replaces a set variable", "https://${HOST}/x", "https://relay.example/x"],
    ["replaces several variables in one value", "${HOST}:${PORT}", "relay.example:8080"],
    ["uses the default when the variable is unset", "${NOPE:-fallback}", "fallback"],
    ["uses the default when the variable is set but empty", "${EMPTY:-fallback}", "fallback"],
    ["prefers a set variable over its default", "${PORT:-9090}", "8080"],
    ["accepts an empty default", "[${NOPE:-}]", "[]"],
    ["keeps any character but } in a default", "${NOPE:-a:b/c?d=e&f $g {h}", "a:b/c?d=e&f $g {h"],
    ["expands a set but empty variable without a default to nothing", "[${EMPTY}]", "[]"],
    ["reads $$ as a literal $", "cost: $$5", "cost: $5"],
    ["keeps $${NAME} as the literal text ${NAME}", "$${HOST}", "${HOST}"],
    ["leaves a $ that is not followed by { as it is", "$HOST costs $5 $", "$HOST costs $5 $"],
    ["leaves text without references untouched", "plain text", "plain text"],
  ])("%s", (_name, text, expected) => {
    const result = expandEnv(text, env);
    expect(result.value).toBe(expected);
    expect(result.missing).toEqual([]);
    expect(result.malformed).toEqual([]);
  });

  it("names a variable that is unset and has no default", () => {
    expect(expandEnv("key=${ROBOT_KEY}", env)).toEqual({ value: "key=", missing: ["ROBOT_KEY"], malformed: [], names: ["ROBOT_KEY"] });
  });

  it("lists every variable referred to once, set or not", () => {
    expect(expandEnv("${B}${HOST}${B:-x}", env).names).toEqual(["B", "HOST"]);
  });

  it("names every missing variable once, in order of appearance", () => {
    expect(expandEnv("${B}${A}${B}${HOST}", env).missing).toEqual(["B", "A"]);
  });

  it("does not read the name of a reference from inside another one's default", () => {
    expect(expandEnv("${NOPE:-${HOST}", env)).toEqual({ value: "${HOST", missing: [], malformed: [], names: ["NOPE"] });
  });

  it.each([
    ["a name that starts with a digit", "${1HOST}"],
    ["a default written without the dash", "${HOST:fallback}"],
    ["an empty name", "${}"],
    ["a reference that is never closed", "${HOST"],
  ])("reports %s as malformed and leaves it as written", (_name, text) => {
    expect(expandEnv(`a ${text}`, env)).toEqual({ value: `a ${text}`, missing: [], malformed: [text], names: [] });
  });

  it("reports only the malformed reference and still expands the others", () => {
    expect(expandEnv("${HOST} ${bad name}", env)).toEqual({
      value: "relay.example ${bad name}",
      missing: [],
      malformed: ["${bad name}"],
      names: ["HOST"],
    });
  });
});

describe("shieldEnvReferences", () => {
  it("turns references into placeholders of letters, digits and _ only", () => {
    const shielded = shieldEnvReferences("a: { token: ${TOKEN}, url: ${URL:-http://x/?a=1,b=2} }");
    expect(shielded.text).toMatch(/^a: \{ token: \w+, url: \w+ \}$/);
  });

  it("restores every reference exactly as written", () => {
    const text = "${A} and ${B:-x y} and ${bad:ref}";
    const shielded = shieldEnvReferences(text);
    expect(shielded.text).not.toContain("${");
    expect(shielded.restore(shielded.text)).toBe(text);
  });

  it("keeps $$ pairs, so $${NAME} stays literal text", () => {
    const shielded = shieldEnvReferences("price $${NOT_A_REF} $$ $5");
    expect(shielded.text).toBe("price $${NOT_A_REF} $$ $5");
  });

  it("leaves references that span lines or never close, so line numbers do not move", () => {
    const text = "a: ${X:-one\ntwo}\nb: ${Y";
    expect(shieldEnvReferences(text).text).toBe(text);
  });

  it("picks placeholders that cannot be confused with text already in the file", () => {
    const text = "literal _envref_0_ and ${A}";
    const shielded = shieldEnvReferences(text);
    expect(shielded.restore(shielded.text)).toBe(text);
  });
});

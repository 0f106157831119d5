// The shipped example payloads (examples/*.json), for tests that render or parse them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";
import type { Event } from "../../src/types.js";

export function example(name: string): unknown {
  return JSON.parse(readFileSync(join(packageRoot(), "examples", name), "utf8"));
}

/** The one event a source made of a payload, or a thrown error saying why there is none. */
export function only(parsed: { ok: true; value: Event[] } | { ok: false; error: string }): Event {
  if (!parsed.ok) throw new Error(parsed.error);
  const [event] = parsed.value;
  if (event === undefined) throw new Error("no event");
  return event;
}

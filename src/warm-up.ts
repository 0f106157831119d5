// Runs the shipped example payloads through parsing, routing and rendering once before
// the relay reports ready, so the first real webhooks do not pay for compiling templates
// and warming the schema validators (the first second used to run at half speed).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { logger } from "./log.js";
import { examplesDir } from "./paths.js";
import type { Relay } from "./relay.js";
import { isSourceName, sourceAdapters } from "./sources/index.js";

/** examples/<source>-<anything>.json; GitHub's event is the part after "github-". */
export function warmUp(relay: Relay): number {
  const dir = examplesDir();
  let files: string[];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith(".json"));
  } catch {
    return 0; // no examples installed: nothing to warm with
  }
  let rendered = 0;
  for (const file of files) {
    const [source, ...rest] = file.slice(0, -".json".length).split("-");
    if (source === undefined || !isSourceName(source)) continue;
    const adapter = sourceAdapters[source];
    try {
      const parsed = adapter(JSON.parse(readFileSync(join(dir, file), "utf8")), { event: rest.join("-") });
      if (!parsed.ok) continue;
      // Every format a route can render in, for every target kind: all templates compile now.
      for (const event of parsed.value) rendered += relay.route(event).messages.length;
    } catch (err) {
      logger.debug("warm-up skipped an example", { file, error: err });
    }
  }
  return rendered;
}

import { createHash } from "node:crypto";

/** A short stable id for an event: the same content gives the same id. */
export function eventId(source: string, ...parts: unknown[]): string {
  const hash = createHash("sha256").update(source);
  for (const part of parts) hash.update("\0").update(JSON.stringify(part) ?? "");
  return `${source}-${hash.digest("hex").slice(0, 16)}`;
}

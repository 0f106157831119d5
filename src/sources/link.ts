/** The first candidate that is an http(s) URL: where a textcard may send its reader. */
export function firstLink(...candidates: unknown[]): string | undefined {
  return candidates.find((value): value is string => typeof value === "string" && /^https?:\/\/\S+$/i.test(value));
}

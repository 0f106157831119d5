// What the config readers report (a Problem), and the small helpers several of them share.
import type { ConfigPath } from "./errors.js";

/** A problem before it is pinned to a line and scrubbed of secrets. */
export interface Problem {
  path: ConfigPath;
  message: string;
  /** Found from the path when absent; null for problems with no line, such as a missing file. */
  line?: number | null | undefined;
  /** Where to look for the line when it differs from `path`. */
  linePath?: ConfigPath;
}

export function pathKey(path: ConfigPath): string {
  return JSON.stringify(path);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Prometheus-style durations ("1h30m", "500ms") and byte sizes ("1MiB", "512KB").

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

const DURATION_RE = /^(?:(\d+)(y|w|d|h|ms|m|s))+$/;
const DURATION_PART_RE = /(\d+)(y|w|d|h|ms|m|s)/g;

/** Milliseconds for a Prometheus duration; throws with the offending text. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  if (!DURATION_RE.test(trimmed)) {
    throw new Error(`invalid duration "${text}" (use e.g. 30s, 5m, 1h30m)`);
  }
  let total = 0;
  for (const [, count, unit] of trimmed.matchAll(DURATION_PART_RE)) {
    total += Number(count) * DURATION_UNITS[unit as string]!;
  }
  return total;
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Bytes for "1MiB", "512KB", "2048" and the like; throws with the offending text. */
export function parseBytes(text: string | number): number {
  if (typeof text === "number" && Number.isInteger(text) && text >= 0) return text;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(text));
  const factor = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new Error(`invalid size "${text}" (use e.g. 1MiB, 512KB, 65536)`);
  }
  return Math.floor(Number(match[1]) * factor);
}

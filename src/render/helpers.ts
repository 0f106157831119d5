// Handlebars helpers available to every template. Payloads come from outside and are
// often incomplete, so no helper throws: odd input renders as "" (or a neutral value).
import type Handlebars from "handlebars";
import { keepChars } from "../truncate.js";

type Hb = typeof Handlebars;
type Hash = Record<string, unknown>;

export interface HelperOptions {
  /** IANA zone used by `date` unless a template passes `tz=`. */
  timezone: string;
}

/** Every helper registerHelpers adds. */
export const HELPER_NAMES = [
  "date",
  "since",
  "duration",
  "toUpper",
  "toLower",
  "toText",
  "join",
  "truncate",
  "oneLine",
  "safeUrl",
  "eq",
  "ne",
  "and",
  "or",
  "not",
  "default",
  "severityIcon",
  "json",
] as const;

export function registerHelpers(hb: Hb, options: HelperOptions): void {
  const define = (name: (typeof HELPER_NAMES)[number], fn: (args: unknown[], hash: Hash) => unknown): void => {
    hb.registerHelper(name, (...raw: unknown[]) => {
      // Handlebars passes its options object last; the rest are the template's arguments.
      const opts = raw.pop() as { hash?: Hash } | undefined;
      try {
        return fn(raw, opts?.hash ?? {});
      } catch {
        return "";
      }
    });
  };

  define("date", ([value, format], hash) => {
    const tz = typeof hash.tz === "string" && hash.tz !== "" ? hash.tz : options.timezone;
    const epochMs = toEpochMs(value);
    if (epochMs === undefined) return "";
    return formatDate(epochMs, typeof format === "string" && format !== "" ? format : DEFAULT_DATE_FORMAT, tz);
  });
  define("since", ([value]) => {
    const epochMs = toEpochMs(value);
    return epochMs === undefined ? "" : formatDuration(Date.now() - epochMs);
  });
  // How long between two times, e.g. how long a resolved alert fired: "43m", "2h5m".
  define("duration", ([from, to]) => {
    const start = toEpochMs(from);
    const end = toEpochMs(to);
    return start === undefined || end === undefined ? "" : formatDuration(end - start);
  });
  define("toUpper", ([value]) => toText(value).toUpperCase());
  define("toLower", ([value]) => toText(value).toLowerCase());
  define("toText", ([value]) => toText(value));
  define("join", ([list, sep], hash) => {
    const separator = typeof sep === "string" ? sep : typeof hash.sep === "string" ? hash.sep : ", ";
    return Array.isArray(list) ? list.map(toText).join(separator) : toText(list);
  });
  define("truncate", ([value, max]) => keepChars(toText(value), Number(max)));
  // A line break in a value would end a markdown quote, or start a line of its own (a
  // forged "## [RESOLVED]" heading): every value printed inline goes through oneLine.
  define("oneLine", ([value]) => oneLine(toText(value)));
  // The only URLs a link may open: http(s), safe inside markdown's (...). Else "".
  define("safeUrl", ([value]) => safeUrl(value));
  define("eq", ([a, b]) => looselyEqual(a, b));
  define("ne", ([a, b]) => !looselyEqual(a, b));
  define("and", (args) => args.length > 0 && args.every(isTruthy));
  define("or", (args) => args.some(isTruthy));
  define("not", ([value]) => !isTruthy(value));
  // `default a b c` gives the first argument that is not empty, so templates can chain fallbacks.
  define("default", (args) => {
    const found = args.find((value) => !isBlank(value));
    return found === undefined ? "" : found;
  });
  define("severityIcon", (args) => severityIcon(args));
  define("json", ([value]) => new hb.SafeString(safeJson(value)));
}

// ---- values ----

/** What a value looks like in a message: objects as JSON, lists joined, nothing as "". */
export function toText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "" : value.toISOString();
  if (Array.isArray(value)) return value.map(toText).join(", ");
  if (typeof value === "object" && typeof (value as { toHTML?: unknown }).toHTML === "function") {
    return String(value); // a SafeString from another helper
  }
  if (typeof value === "function" || typeof value === "symbol") return "";
  return safeJson(value);
}

/**
 * Every line break folded into one space: \n, \r, and the ones some renderers also break
 * lines at (\v, \f, NEL, U+2028, U+2029).
 */
export function oneLine(text: string): string {
  return text.replace(/[\s\u0085]*[\n\v\f\r\u0085\u2028\u2029][\s\u0085]*/g, " ").trim();
}

/**
 * What an http(s) URL may not hold raw inside a markdown link's (...), or on a text line:
 * whitespace, control characters (\p{Cc}), parentheses, <>", backquote and backslash.
 */
const URL_UNSAFE = /[\s\p{Cc}()<>"`\\]/gu;

/**
 * `value` when it is an absolute http(s) URL, else "" (a `javascript:`, `data:` or
 * relative URL must never become a link). Whitespace, controls, parentheses, `<>"`,
 * backquote and backslash are percent-encoded, so the URL cannot end a markdown link
 * early or break a line; everything else is kept as sent.
 */
export function safeUrl(value: unknown): string {
  if (typeof value !== "string") return "";
  const url = value.trim();
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) return "";
  // encodeURIComponent leaves ( and ) as they are.
  return url.replace(URL_UNSAFE, (char) => (char === "(" ? "%28" : char === ")" ? "%29" : encodeURIComponent(char)));
}

function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === "bigint") return item.toString();
    if (typeof item === "object" && item !== null) {
      if (seen.has(item)) return "[Circular]";
      seen.add(item);
    }
    return item;
  });
  return text ?? "";
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

// Matches what {{#if}} considers true, so (and a b) agrees with nested #if blocks.
function isTruthy(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : Boolean(value);
}

// Labels are strings but counts are numbers: (eq firingCount "0") should still work.
function looselyEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const scalar = (v: unknown) => typeof v === "string" || typeof v === "number";
  return scalar(a) && scalar(b) && String(a) === String(b);
}

const SEVERITY_ICONS: ReadonlyArray<[string, readonly string[]]> = [
  ["🔴", ["critical", "crit", "fatal", "emergency", "disaster", "page"]],
  ["🟠", ["error", "err", "high", "major"]],
  ["🟡", ["warning", "warn", "medium", "minor", "average"]],
  ["🔵", ["info", "information", "low", "notice", "none"]],
  ["✅", ["resolved", "ok"]],
];

/** Any argument "resolved" wins, so `severityIcon labels.severity status` marks resolved alerts. */
function severityIcon(args: unknown[]): string {
  const words = args.map((arg) => toText(arg).trim().toLowerCase());
  if (words.includes("resolved")) return "✅";
  const severity = words[0] ?? "";
  for (const [icon, names] of SEVERITY_ICONS) {
    if (names.includes(severity)) return icon;
  }
  return "⚪";
}

// ---- time ----

const DEFAULT_DATE_FORMAT = "YYYY-MM-DD HH:mm:ss";

/** True when Intl knows the IANA zone name. */
export function isValidTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * RFC3339 text, epoch ms (number or digits) or a Date, as epoch ms. Alertmanager's zero
 * time (year 1, sent as endsAt of firing alerts) counts as "no time".
 */
function toEpochMs(value: unknown): number | undefined {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    const text = value.trim();
    ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
  } else return undefined;
  if (!Number.isFinite(ms) || new Date(ms).getUTCFullYear() <= 1) return undefined;
  return ms;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

const DATE_TOKENS = /\[([^\]]*)]|YYYY|YY|MM|M|DD|D|HH|H|mm|ss|SSS|ZZ|Z/g;

/** Zone offsets are asked of Intl once per zone and quarter hour (every zone changes offset on a quarter hour). */
const OFFSET_BUCKET_MS = 15 * 60_000;
const MAX_CACHED_OFFSETS = 10_000;
const offsets = new Map<string, number>();

/** The zone's offset from UTC at `epochMs`, in minutes; Intl's formatToParts is slow, so it is cached. */
function offsetMinutesAt(epochMs: number, timezone: string): number {
  const key = `${timezone}\0${Math.floor(epochMs / OFFSET_BUCKET_MS)}`;
  const known = offsets.get(key);
  if (known !== undefined) return known;
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(epochMs))) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const wallClockMs = Date.UTC(fields.year ?? 0, (fields.month ?? 1) - 1, fields.day ?? 1, fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0);
  const offset = Math.round((wallClockMs - Math.floor(epochMs / 1000) * 1000) / 60_000);
  if (offsets.size >= MAX_CACHED_OFFSETS) offsets.clear();
  offsets.set(key, offset);
  return offset;
}

/** Formats like dayjs: YYYY YY MM M DD D HH H mm ss SSS Z (+08:00) ZZ (+0800), [literal]. */
export function formatDate(epochMs: number, format: string, timezone: string): string {
  const offsetMinutes = offsetMinutesAt(epochMs, timezone);
  // The wall clock in the zone, read with UTC getters.
  const wall = new Date(epochMs + offsetMinutes * 60_000);
  const year = wall.getUTCFullYear();
  const month = wall.getUTCMonth() + 1;
  const day = wall.getUTCDate();
  const hour = wall.getUTCHours();
  const minute = wall.getUTCMinutes();
  const second = wall.getUTCSeconds();
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const offset = (separator: string) => {
    const abs = Math.abs(offsetMinutes);
    return `${offsetMinutes < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}${separator}${pad(abs % 60)}`;
  };
  return format.replace(DATE_TOKENS, (token, literal: string | undefined) => {
    if (literal !== undefined) return literal;
    switch (token) {
      case "YYYY": return pad(year, 4);
      case "YY": return pad(year % 100);
      case "MM": return pad(month);
      case "M": return String(month);
      case "DD": return pad(day);
      case "D": return String(day);
      case "HH": return pad(hour);
      case "H": return String(hour);
      case "mm": return pad(minute);
      case "ss": return pad(second);
      case "SSS": return pad(((epochMs % 1000) + 1000) % 1000, 3);
      case "ZZ": return offset("");
      default: return offset(":"); // "Z"
    }
  });
}

/** A short human duration: 45s, 5m, 2h3m, 3d4h. Negative (clock skew) reads as 0s. */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  if (days > 0) return hours > 0 ? `${days}d${hours}h` : `${days}d`;
  if (hours > 0) return minutes > 0 ? `${hours}h${minutes}m` : `${hours}h`;
  if (minutes > 0) return `${minutes}m`;
  return `${totalSeconds}s`;
}

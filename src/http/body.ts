// Reads a webhook body as raw bytes (kept for signature checks), then insists on the
// right content type, valid UTF-8 and well-formed JSON, each with its own precise error.
import type { RequestHandler } from "express";
import { HttpError } from "./errors.js";

declare module "express-serve-static-core" {
  interface Request {
    /** The body exactly as sent, for HMAC verification. */
    rawBody?: Buffer;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeUtf8(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new HttpError(400, "body is not valid UTF-8", { reason: "bad_encoding" });
  }
}

/** Deeper than any real webhook; deeper bodies would only exhaust the stack downstream. */
export const MAX_JSON_DEPTH = 64;

export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "malformed JSON body", { detail: { reason: (err as Error).message }, reason: "bad_json" });
  }
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw new HttpError(400, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, { reason: "bad_json" });
  }
  return value;
}

/** Nesting depth of a parsed JSON value, measured without recursion. */
function jsonDepth(root: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Parses the raw body as JSON; `form` also accepts application/x-www-form-urlencoded `payload=`. */
export function jsonBody(options: { form?: boolean } = {}): RequestHandler {
  return (req, _res, next) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    req.rawBody = raw;
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type === "application/json" || type.endsWith("+json")) {
      req.body = parseJson(decodeUtf8(raw));
    } else if (options.form && type === "application/x-www-form-urlencoded") {
      const payload = new URLSearchParams(decodeUtf8(raw)).get("payload");
      if (payload === null) throw new HttpError(400, "form body has no payload field", { reason: "bad_form" });
      req.body = parseJson(payload);
    } else {
      const expected = options.form ? "application/json or application/x-www-form-urlencoded" : "application/json";
      throw new HttpError(415, `unsupported content type "${type || "(none)"}"`, { detail: { expected }, reason: "bad_content_type" });
    }
    next();
  };
}

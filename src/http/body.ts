// Reads a webhook body as raw bytes (kept for signature checks), then insists on the
// right content type, valid UTF-8 and well-formed JSON, each with its own precise error.
import express, { type RequestHandler } from "express";
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
    throw new HttpError(400, "body is not valid UTF-8", undefined, "bad_encoding");
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "malformed JSON body", { reason: (err as Error).message }, "bad_json");
  }
}

/** express.raw bounded by maxBytes (413 past it), for any content type. */
export function rawBody(maxBytes: number): RequestHandler {
  return express.raw({ type: () => true, limit: maxBytes });
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
      if (payload === null) throw new HttpError(400, "form body has no payload field", undefined, "bad_form");
      req.body = parseJson(payload);
    } else {
      const expected = options.form ? "application/json or application/x-www-form-urlencoded" : "application/json";
      throw new HttpError(415, `unsupported content type "${type || "(none)"}"`, { expected }, "bad_content_type");
    }
    next();
  };
}

// Reads a request body into memory, bounded before anyone is authenticated: by
// `max_body` on the bytes received and on the bytes they inflate to (gzip, deflate), and
// by one budget shared by every body being read at once, so stalled or inflating bodies
// from many connections cannot exhaust memory. Past the budget the request gets 503.
import type { RequestHandler } from "express";
import { createGunzip, createInflate, type Gunzip, type Inflate } from "node:zlib";
import { HttpError } from "./errors.js";

/** Bytes held by bodies being read or handled right now, over all requests. */
export class BodyBudget {
  private used = 0;

  constructor(private readonly limitBytes: () => number) {}

  take(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes()) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }
}

type Decoder = Gunzip | Inflate;

function decoderFor(encoding: string): Decoder | undefined | "unsupported" {
  switch (encoding) {
    case "":
    case "identity":
      return undefined;
    case "gzip":
    case "x-gzip":
      return createGunzip();
    case "deflate":
      return createInflate();
    default:
      return "unsupported";
  }
}

/** The raw body as `req.body` (a Buffer), or a precise error: 413, 415, 400, 503. */
export function rawBody(maxBytes: () => number, budget: BodyBudget): RequestHandler {
  return (req, res, next) => {
    const limit = maxBytes();
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > limit) return next(tooLarge(limit));
    const encoding = String(req.headers["content-encoding"] ?? "").trim().toLowerCase();
    const decoder = decoderFor(encoding);
    if (decoder === "unsupported") {
      return next(new HttpError(415, `unsupported content encoding "${encoding}"`, { detail: { supported: ["gzip", "deflate", "identity"] }, reason: "bad_encoding" }));
    }

    const chunks: Buffer[] = [];
    let received = 0;
    let held = 0;
    let done = false;
    const release = () => {
      budget.give(held);
      held = 0;
    };
    // Held until the answer is sent: the handler still has the body.
    res.once("close", release);

    const finish = (err?: HttpError) => {
      if (done) return;
      done = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      if (err) {
        decoder?.destroy();
        release();
        // Stop reading a body we refuse; the answer closes the connection.
        res.setHeader("Connection", "close");
        return next(err);
      }
      req.body = Buffer.concat(chunks);
      next();
    };
    const keep = (chunk: Buffer) => {
      if (done) return;
      if (held + chunk.length > limit) return finish(tooLarge(limit));
      if (!budget.take(chunk.length)) {
        return finish(new HttpError(503, "too many request bodies in flight; retry shortly", { reason: "busy", headers: { "Retry-After": "1" } }));
      }
      held += chunk.length;
      chunks.push(chunk);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return finish(tooLarge(limit));
      if (decoder) decoder.write(chunk);
      else keep(chunk);
    };
    const onEnd = () => {
      if (decoder) decoder.end();
      else finish();
    };
    const onError = () => finish(new HttpError(400, "request aborted by the client", { reason: "aborted" }));

    if (decoder) {
      decoder.on("data", keep);
      decoder.on("end", () => finish());
      decoder.on("error", () => finish(new HttpError(400, `body is not valid ${encoding}`, { reason: "bad_encoding" })));
    }
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  };
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "request body too large", { detail: { limit_bytes: limit }, reason: "too_large" });
}

// WeCom app callbacks at /wecom/callback/:target: the URL verification WeCom does when
// the callback URL is saved (GET), and encrypted messages and events (POST). Every
// request must carry a valid msg_signature and a recent timestamp before anything is
// decrypted; failures are thrown as HttpError for the app's JSON error handler.
import express, { type Request, type RequestHandler, type Response } from "express";
import { CallbackCryptoError, decrypt, verifySignature } from "../channels/wecom/crypto.js";
import { logger } from "../log.js";
import { decodeUtf8 } from "./body.js";
import { BodyBudget, rawBody } from "./raw-body.js";
import { HttpError } from "./errors.js";

export interface CallbackCredentials {
  token: string;
  /** The 43-character EncodingAESKey. */
  aesKey: string;
  /** The receive id every message must carry. */
  corpId: string;
}

export interface WecomCallbackOptions {
  /** How far a request's timestamp may be from now, either way (default 300 s). */
  maxSkewSeconds?: number;
  /** Receives each decrypted message or event XML; should return quickly. */
  onEvent?: (target: string, xml: string) => void;
  /** Clock in epoch ms (default Date.now). */
  now?: () => number;
  /** Largest POST body accepted (default 64 KiB); WeCom's envelopes are a few KiB. */
  maxBodyBytes?: number;
  /** Shared with every other body being read (default: a budget of its own, 8 MiB). */
  budget?: BodyBudget;
}

/** Signed callbacks seen recently, to act on each once: WeCom retries, and a captured one may be replayed. */
const MAX_REMEMBERED = 10_000;

const PATH = "/wecom/callback/:target";

// The envelope is tiny and fixed: one <Encrypt>, its base64 text optionally in CDATA.
// Each branch stops at the next "<", so matching stays linear in the body length.
const ENCRYPT = /<Encrypt>(?:\s*<!\[CDATA\[([^\]<]*)\]\]>\s*|([^<]*))<\/Encrypt>/g;

export function wecomCallbackRouter(
  lookup: (target: string) => CallbackCredentials | undefined,
  options: WecomCallbackOptions = {},
): express.Router {
  const maxSkewSeconds = options.maxSkewSeconds ?? 300;
  const now = options.now ?? Date.now;
  const router = express.Router();

  const findTarget: RequestHandler = (req, res, next) => {
    const target = String(req.params.target);
    const credentials = lookup(target);
    if (credentials === undefined) {
      throw new HttpError(404, "no WeCom callback configured for this target", { detail: { target }, reason: "not_found" });
    }
    res.locals.callback = { target, credentials };
    next();
  };

  /** Signature, then freshness, then decryption: nothing unsigned reaches the cipher. */
  function open(req: Request, res: Response, encrypted: string): { target: string; message: string } {
    const { target, credentials } = res.locals.callback as { target: string; credentials: CallbackCredentials };
    const msgSignature = queryParam(req, "msg_signature");
    const timestamp = queryParam(req, "timestamp");
    const nonce = queryParam(req, "nonce");
    if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
      throw new HttpError(400, "missing or malformed query parameter", { detail: { parameter: "timestamp" }, reason: "bad_request" });
    }
    if (nonce === undefined) {
      throw new HttpError(400, "missing or malformed query parameter", { detail: { parameter: "nonce" }, reason: "bad_request" });
    }
    if (msgSignature === undefined) throw new HttpError(401, "missing msg_signature", { reason: "unauthorized" });
    if (!verifySignature({ token: credentials.token, timestamp, nonce, encrypted }, msgSignature)) {
      throw new HttpError(401, "invalid msg_signature", { reason: "unauthorized" });
    }
    const skewSeconds = Math.abs(now() / 1000 - Number(timestamp));
    if (skewSeconds > maxSkewSeconds) {
      throw new HttpError(401, "stale timestamp", { detail: { timestamp, max_skew_seconds: maxSkewSeconds }, reason: "stale" });
    }
    try {
      return { target, message: decrypt(credentials.aesKey, encrypted, credentials.corpId) };
    } catch (err) {
      if (err instanceof CallbackCryptoError) {
        throw new HttpError(400, "cannot decrypt callback", { detail: { reason: err.reason }, reason: "bad_payload" });
      }
      throw err;
    }
  }

  router.get(PATH, findTarget, (req, res) => {
    const echostr = queryParam(req, "echostr");
    if (echostr === undefined) {
      throw new HttpError(400, "missing or malformed query parameter", { detail: { parameter: "echostr" }, reason: "bad_request" });
    }
    // Base64 has no spaces: a "+" left unescaped by a proxy arrives decoded as " ".
    const { message } = open(req, res, echostr.replace(/ /g, "+"));
    // WeCom compares the body byte for byte: no quotes, BOM or newline.
    res.status(200).type("text/plain").send(message);
  });

  const budget = options.budget ?? new BodyBudget(() => 8 * 1024 * 1024);
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  // msg_signature → when it may be forgotten (its timestamp left the allowed window).
  const seen = new Map<string, number>();
  const firstTime = (signature: string, timestamp: number): boolean => {
    const at = now();
    for (const [key, until] of seen) {
      if (until > at && seen.size < MAX_REMEMBERED) break;
      seen.delete(key); // oldest first: Map keeps insertion order
    }
    if (seen.has(signature)) return false;
    seen.set(signature, (timestamp + 2 * maxSkewSeconds) * 1000);
    return true;
  };

  router.post(PATH, findTarget, rawBody(() => maxBody, budget), (req, res) => {
    const body = Buffer.isBuffer(req.body) ? decodeUtf8(req.body) : "";
    const { target, message } = open(req, res, encryptField(body));
    // The signature covers timestamp, nonce and content: the same one again is a repeat.
    if (!firstTime(queryParam(req, "msg_signature")!, Number(queryParam(req, "timestamp")))) {
      logger.info("WeCom callback repeated; acted on once already", { target });
      res.status(200).end();
      return;
    }
    try {
      options.onEvent?.(target, message);
    } catch (err) {
      // Answering an error would only make WeCom send the same event again.
      logger.error("WeCom callback handler failed", { target, error: err });
    }
    res.status(200).end();
  });

  return router;
}

/** A query parameter given exactly once, as a string. */
function queryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The one <Encrypt> value of a callback envelope. */
function encryptField(body: string): string {
  const xml = body.trim();
  if (!xml.startsWith("<xml>") || !xml.endsWith("</xml>")) {
    throw new HttpError(400, "malformed callback body", { detail: { reason: "not an <xml> envelope" }, reason: "bad_payload" });
  }
  const matches = [...xml.matchAll(ENCRYPT)];
  const [match] = matches;
  if (matches.length !== 1 || match === undefined) {
    throw new HttpError(400, "malformed callback body", { detail: { reason: "expected exactly one <Encrypt>" }, reason: "bad_payload" });
  }
  const value = (match[1] ?? match[2] ?? "").trim();
  if (value === "") throw new HttpError(400, "malformed callback body", { detail: { reason: "empty <Encrypt>" }, reason: "bad_payload" });
  return value;
}

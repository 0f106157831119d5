// Answering with an HTML page, and reading an HTML form's fields: shared by the console
// and the action pages.
import type { Request, Response } from "express";
import { PAGE_HEADERS } from "../web/html.js";
import { decodeUtf8 } from "./body.js";

export function sendPage(res: Response, status: number, html: string, headers: Record<string, string> = {}): void {
  res.status(status).set({ ...PAGE_HEADERS, ...headers }).send(html);
}

const parsed = new WeakMap<Request, URLSearchParams>();

/** The urlencoded form in the raw body, parsed once per request however many steps read it. */
export function formFields(req: Request): URLSearchParams {
  let fields = parsed.get(req);
  if (fields === undefined) {
    fields = new URLSearchParams(decodeUtf8(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)));
    parsed.set(req, fields);
  }
  return fields;
}

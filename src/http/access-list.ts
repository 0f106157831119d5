// Which client addresses may send anything: `server.allow` / `server.deny` for every
// request, and `auth.<source>.allow` / `.deny` on top for that source's endpoints. Checked
// before the body is read; a refusal is a 403 naming the address seen (the client's own,
// or what the trusted proxy said it was), and the connection is closed unread.
import type { Request, RequestHandler } from "express";
import type { AddressRules } from "../config/schema.js";
import { clientAddress, matcherFor } from "./client-address.js";
import { HttpError } from "./errors.js";

/** Why `address` may not send, under `rules` (deny wins over allow); undefined when it may. */
export function addressRefusal(address: string | undefined, rules: AddressRules | undefined): HttpError | undefined {
  if (rules === undefined) return undefined;
  const { allow, deny } = rules;
  const refuse = (message: string, reason: "address_denied" | "address_not_allowed") =>
    new HttpError(403, message, { detail: { address: address ?? "unknown" }, reason, headers: { Connection: "close" } });
  if (deny !== undefined && address !== undefined && matcherFor(deny)(address)) return refuse("client address denied", "address_denied");
  if (allow !== undefined && (address === undefined || !matcherFor(allow)(address))) return refuse("client address not allowed", "address_not_allowed");
  return undefined;
}

/** Refuses (403) a request whose client address `rules` keep out. */
export function checkAddress(req: Request, rules: AddressRules | undefined): void {
  // The address is only worked out (through trusted proxies) when there is a list to check.
  if (rules?.allow === undefined && rules?.deny === undefined) return;
  const refusal = addressRefusal(clientAddress(req), rules);
  if (refusal) throw refusal;
}

export function requireAddress(getRules: () => AddressRules | undefined): RequestHandler {
  return (req, _res, next) => {
    checkAddress(req, getRules());
    next();
  };
}

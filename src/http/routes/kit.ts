// What every route file uses: readiness, body reading under the shared budget, inbound
// address lists and auth per endpoint, and the 400 for a payload its source refuses.
import type { RequestHandler } from "express";
import type { Config } from "../../config/schema.js";
import type { Parsed } from "../../sources/validate.js";
import { checkAddress } from "../access-list.js";
import { requireAuth } from "../auth.js";
import { HttpError } from "../errors.js";
import { BodyBudget, rawBody } from "../raw-body.js";

export type AuthEndpoint = keyof Config["auth"];

export interface RouteKit {
  /** 503 with the reason while the relay cannot take work. */
  notReady: RequestHandler;
  /** The raw body, bounded by max_body and the shared budget. */
  readBody: RequestHandler;
  /** Every body read at once, for routers that read their own. */
  budget: BodyBudget;
  /**
   * The endpoint's `auth.<source>.allow` / `.deny` (403), then its credentials (401); before
   * the body is read. GitHub's signature covers the body, so it is checked after reading.
   */
  auth(endpoint: AuthEndpoint): RequestHandler;
}

export interface KitDeps {
  server(): Config["server"];
  auth(): Config["auth"];
  ready(): boolean;
  notReadyReason(): string | undefined;
}

export function createRouteKit(deps: KitDeps): RouteKit {
  const budget = new BodyBudget(() => deps.server().max_buffered);
  return {
    budget,
    readBody: rawBody(() => deps.server().max_body, budget),
    auth: (endpoint) => {
      const credentials = endpoint === "github" ? undefined : requireAuth(() => deps.auth()[endpoint]);
      return (req, res, next) => {
        checkAddress(req, deps.auth()[endpoint]);
        return credentials ? credentials(req, res, next) : next();
      };
    },
    notReady: (_req, _res, next) => {
      if (!deps.ready()) throw new HttpError(503, "not ready", { detail: { reason: deps.notReadyReason() }, reason: "not_ready" });
      next();
    },
  };
}

/** The parsed value, or a 400 naming the offending field. */
export function valueOrBadRequest<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new HttpError(400, parsed.error, { detail: { field: parsed.field }, reason: "bad_payload" });
  return parsed.value;
}

// The signed action page of one alert group (for robots, which cannot carry buttons):
// GET shows the group and its silence buttons, POST silences or unsilences it. Nothing
// changes on GET, so a link preview fetching the URL does nothing; a POST needs the
// signed link and the form's token, which also sits in a cookie only this page set.
import type { Express, Request, Response } from "express";
import type { Actions } from "../../actions/actions.js";
import { errorPage, groupPage, resultPage } from "../../actions/pages.js";
import { csrfToken, GROUP_ID, sameToken, verifyActionLink } from "../../actions/signed-link.js";
import type { Config } from "../../config/schema.js";

import { HttpError } from "../errors.js";
import { formFields, sendPage } from "../html-answers.js";
import type { RouteKit } from "./kit.js";
import { cookie } from "../cookies.js";

export interface ActionPageDeps {
  actions: Pick<Actions, "view" | "fromPage" | "silenceLengths">;
  config(): Config;
  now(): number;
  /** Counts a refused link (forged, expired) with the other rejections. */
  refused(reason: "forged" | "expired" | "malformed"): void;
}

const FORM_TYPE = "application/x-www-form-urlencoded";

function cookieName(groupId: string): string {
  return `wr_action_${groupId}`;
}

function groupParam(req: Request): string {
  const value = req.params.group;
  return typeof value === "string" ? value : "";
}

export function actionPageRoutes(app: Express, kit: RouteKit, deps: ActionPageDeps): void {
  /** The link's checks, shared by GET and POST; answers the error page itself and returns false. */
  const checkLink = (req: Request, res: Response): boolean => {
    const secret = deps.config().actions?.secret;
    const groupId = groupParam(req);
    if (secret === undefined) {
      sendPage(res, 404, errorPage({ status: 404, title: "Not available", message: "Action links are not enabled on this relay." }));
      return false;
    }
    const check = GROUP_ID.test(groupId) ? verifyActionLink(secret, groupId, req.query.e, req.query.s, deps.now()) : ({ ok: false, reason: "malformed" } as const);
    if (check.ok) return true;
    deps.refused(check.reason);
    if (check.reason === "expired") {
      sendPage(res, 410, errorPage({ status: 410, title: "Link expired", message: "This action link has expired. Use the link in a newer message, or Alertmanager itself." }));
    } else {
      sendPage(res, 403, errorPage({ status: 403, title: "Invalid link", message: "This action link is not valid: it was altered or not made by this relay. Nothing was changed." }));
    }
    return false;
  };

  const formAction = (req: Request) => `${encodeURIComponent(groupParam(req))}?${new URLSearchParams({ e: String(req.query.e), s: String(req.query.s) })}`;

  app.get("/actions/:group", async (req, res) => {
    if (!checkLink(req, res)) return;
    const groupId = groupParam(req);
    const view = await deps.actions.view(groupId);
    if (!view) return sendPage(res, 404, errorPage({ status: 404, title: "Unknown alert group", message: "This alert group is no longer known to the relay." }));
    if (view.status === "resolved") return sendPage(res, 410, errorPage({ status: 410, title: "Resolved", message: "This alert group has resolved; the link no longer acts." }));
    const csrf = csrfToken();
    const secure = deps.config().actions?.public_url?.startsWith("https:") ? "; Secure" : "";
    sendPage(res, 200, groupPage(view, { action: formAction(req), csrf, durations: deps.actions.silenceLengths().map((length) => length.label) }), {
      "Set-Cookie": `${cookieName(groupId)}=${csrf}; HttpOnly; SameSite=Strict; Max-Age=3600${secure}`,
    });
  });

  app.post("/actions/:group", kit.readBody, async (req, res) => {
    if (!checkLink(req, res)) return;
    const groupId = groupParam(req);
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== FORM_TYPE) throw new HttpError(415, `unsupported content type "${type || "(none)"}"`, { detail: { expected: FORM_TYPE }, reason: "bad_content_type" });
    const form = formFields(req);
    const token = form.get("csrf");
    if (!sameToken(token, cookie(req, cookieName(groupId)))) {
      deps.refused("forged");
      return sendPage(res, 403, errorPage({ status: 403, title: "Form expired", message: "Open the link again and resend the form. Nothing was changed." }));
    }
    const by = (form.get("by") ?? "").trim().slice(0, 64);
    const note = (form.get("note") ?? "").trim().slice(0, 200);
    if (by === "") return sendPage(res, 400, errorPage({ status: 400, title: "Name needed", message: "Say who you are: the silence records it." }));
    const unsilence = form.get("action") === "unsilence";
    const duration = form.get("duration");
    const outcome = await deps.actions.fromPage(groupId, {
      action: unsilence ? "unsilence" : "silence",
      ...(duration !== null && { length: duration }),
      by,
      ...(note !== "" && { note }),
      formToken: token!,
    });
    const back = formAction(req);
    if (outcome.ok) return sendPage(res, 200, resultPage({ title: outcome.title, message: outcome.message, backUrl: back }));
    sendPage(res, outcome.status, errorPage(outcome));
  });
}

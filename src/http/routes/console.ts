// The web console under /ui: server-rendered views over the same Store, routes and
// templates the relay runs with. Behind the `auth.api` credentials: a request carrying
// them is served, a browser logs in once for a session cookie; without either, every view
// redirects to the login and shows nothing. Forms that change something carry a token.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Express, Request, RequestHandler, Response } from "express";
import type { Actions } from "../../actions/actions.js";
import { errorPage } from "../../actions/pages.js";
import type { Config } from "../../config/schema.js";
import type { Store } from "../../outbox/contract.js";
import type { Relay } from "../../relay.js";
import { preview, PREVIEW_FORMATS, type Preview } from "../../render/preview.js";
import { SOURCE_NAMES } from "../../sources/index.js";
import type { Format } from "../../types.js";
import { byteLimit } from "../../wecom-limits.js";
import { consolePage } from "../../web/frame.js";
import { grafanaPanelUrl } from "../../web/grafana-links.js";
import { loginPage } from "../../web/login-view.js";
import { searchMessages, type MessageQuery } from "../../web/message-search.js";
import { deadLettersView, messagesView, messageView } from "../../web/messages-view.js";
import { credentialsMatch, formToken, formTokenMatches, jwtOnly, newSession, SESSION_COOKIE, SESSION_TTL_MS, viewerOf, type Viewer } from "../../web/session.js";
import { silencesView } from "../../web/silences-view.js";
import { targetsView, type TargetRow } from "../../web/targets-view.js";
import { routesView, templatesView, type TemplateForm } from "../../web/tools-view.js";
import { parseJson } from "../body.js";
import { formFields, sendPage } from "../html-answers.js";
import type { RouteKit } from "./kit.js";

export interface ConsoleDeps {
  config(): Config;
  relay(): Relay;
  store: Pick<Store, "depthByTarget" | "pausedUntil" | "targetActivity" | "browse" | "requestStatus" | "listDead">;
  retry(deliveryIds: readonly string[]): Promise<number>;
  actions: Pick<Actions, "list">;
  /** Folder of the shipped example payloads, offered on the template view. */
  examplesDir: string;
  now(): number;
  /** Counts a refused console request (no credentials, a bad login, a missing form token). */
  rejected(reason: "unauthorized" | "bad_signature"): void;
  /** Limits the login form's attempts per client, as for the API. */
  loginLimit: RequestHandler;
}

/** Dead letters one "retry all" click puts back at most. */
const RETRY_ALL_MAX = 1000;

function param(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** Only paths of this console: no open redirect through the login's `next`. */
function safeNext(next: string | null | undefined): string {
  return next && /^\/ui(\/[\w\-./?=&%]*)?$/.test(next) && !next.includes("//") ? next : "/ui";
}

function utc(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(/Z$|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

export function messageQuery(req: Request): MessageQuery {
  const label = param(req, "label");
  const eq = label?.indexOf("=") ?? -1;
  const state = param(req, "state");
  const since = utc(param(req, "since"));
  const until = utc(param(req, "until"));
  const alert = param(req, "alert");
  const source = param(req, "source");
  const target = param(req, "target");
  const before = param(req, "before");
  return {
    ...(alert !== undefined && { alert }),
    ...(label !== undefined && eq > 0 && { label: { name: label.slice(0, eq).trim(), value: label.slice(eq + 1).trim() } }),
    ...(source !== undefined && { source }),
    ...((state === "queued" || state === "sent" || state === "dead") && { state }),
    ...(target !== undefined && { target }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
    ...(before !== undefined && { before }),
  };
}

export function consoleRoutes(app: Express, kit: RouteKit, deps: ConsoleDeps): void {
  const viewers = new WeakMap<Request, Viewer>();
  const auth = () => deps.config().auth.api;
  const grafana = (metric: string, variables?: Record<string, string>) => {
    const { console: settings } = deps.config();
    return grafanaPanelUrl(settings.grafana_url, settings.dashboard_uid, metric, variables);
  };
  const page = (req: Request, res: Response, title: string, body: string, current: string, status = 200) => {
    const viewer = viewers.get(req)!;
    sendPage(res, status, consolePage(title, body, { current, ...(viewer.session && { logoutToken: formToken(auth(), viewer) }) }));
  };
  const tokenOf = (req: Request) => formToken(auth(), viewers.get(req)!);

  /** Every view: a viewer, or the login (GET) / a refusal (anything else). */
  const requireViewer: RequestHandler = (req, res, next) => {
    const viewer = viewerOf(req, auth(), deps.now());
    if (viewer) {
      viewers.set(req, viewer);
      return next();
    }
    deps.rejected("unauthorized");
    if (req.method === "GET") return res.redirect(303, `/ui/login?${new URLSearchParams({ next: req.originalUrl })}`);
    sendPage(res, 401, errorPage({ status: 401, title: "Log in first", message: "Your session has ended. Log in again." }));
  };
  /** A form that changes something must carry this viewer's token. */
  const requireFormToken: RequestHandler = (req, res, next) => {
    if (formTokenMatches(auth(), viewers.get(req)!, formFields(req).get("csrf"))) return next();
    deps.rejected("bad_signature");
    sendPage(res, 403, errorPage({ status: 403, title: "Form expired", message: "Open the page again and resend the form. Nothing was changed." }));
  };

  app.get("/ui/login", (req, res) => {
    const configured = auth();
    if (jwtOnly(configured)) {
      return sendPage(res, 403, errorPage({ status: 403, title: "Console closed", message: "The API takes JWTs only; the console needs auth.api.bearer_token or basic_auth to log in with." }));
    }
    if (!configured || (configured.bearer_token === undefined && configured.basic_auth === undefined)) return res.redirect(303, "/ui");
    sendPage(res, 200, loginPage(configured.bearer_token !== undefined ? "token" : "basic", safeNext(param(req, "next"))));
  });

  app.post("/ui/login", deps.loginLimit, kit.readBody, (req, res) => {
    const fields = formFields(req);
    const next = safeNext(fields.get("next"));
    const configured = auth();
    const typed = { token: fields.get("token") ?? "", username: fields.get("username") ?? "", password: fields.get("password") ?? "" };
    if (!credentialsMatch(configured, typed)) {
      deps.rejected("unauthorized");
      return sendPage(res, 401, loginPage(configured?.bearer_token !== undefined ? "token" : "basic", next, "Those credentials are not the relay's API credentials."));
    }
    const secure = req.secure ? "; Secure" : "";
    res.set("Set-Cookie", `${SESSION_COOKIE}=${newSession(configured, deps.now())}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${secure}`);
    res.redirect(303, next);
  });

  app.use("/ui", requireViewer);

  app.post("/ui/logout", kit.readBody, requireFormToken, (_req, res) => {
    res.set("Set-Cookie", `${SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0`);
    res.redirect(303, "/ui/login");
  });

  app.get("/ui", async (req, res) => {
    const relay = deps.relay();
    const config = deps.config();
    const depths = await deps.store.depthByTarget();
    const now = deps.now();
    const targets: TargetRow[] = [];
    for (const [name, target] of Object.entries(config.targets)) {
      const runtime = relay.targets.get(name);
      const pausedUntil = runtime ? await deps.store.pausedUntil(runtime.paceKey) : undefined;
      const link = grafana("wecom_relay_outbox_depth", { target: name });
      targets.push({
        name,
        type: target.type,
        depth: depths.get(name) ?? 0,
        pace: { max: target.rate_limit.max, perMs: target.rate_limit.per },
        ...(pausedUntil !== undefined && { pausedUntil }),
        activity: await deps.store.targetActivity(name),
        ...(link !== undefined && { grafana: link }),
      });
    }
    const receivers = config.receivers.map((receiver) => ({
      name: receiver.name,
      targets: receiver.targets,
      ...(receiver.throttle && { throttle: { max: receiver.throttle.max, perMs: receiver.throttle.per } }),
    }));
    page(req, res, "Targets", targetsView(targets, receivers, now, grafana("wecom_relay_outbox_depth")), "/ui");
  });

  app.get("/ui/messages", async (req, res) => {
    const query = messageQuery(req);
    const result = await searchMessages(deps.store, query);
    const link = grafana("wecom_relay_messages_delivered_total", query.target ? { target: query.target } : {});
    page(req, res, "Messages", messagesView(query, result, { targets: Object.keys(deps.config().targets), sources: [...SOURCE_NAMES, "api"], ...(link && { grafana: link }) }), "/ui/messages");
  });

  app.get("/ui/messages/:id", async (req, res) => {
    const id = String(req.params.id);
    const status = await deps.store.requestStatus(id);
    if (!status) return page(req, res, "Unknown message", `<p>No message or request has the id ${id.replace(/[^\w-]/g, "")}.</p>`, "/ui/messages", 404);
    const relay = deps.relay();
    const limit = (delivery: { message: { target: string; msgtype: Parameters<typeof byteLimit>[1] } }) => byteLimit(relay.targets.get(delivery.message.target)?.kind ?? "robot", delivery.message.msgtype);
    page(req, res, "Message", messageView(status, limit, tokenOf(req)), "/ui/messages");
  });

  app.post("/ui/messages/:id/retry", kit.readBody, requireFormToken, async (req, res) => {
    const id = String(req.params.id);
    await deps.retry([id]);
    res.redirect(303, `/ui/messages/${encodeURIComponent(id)}`);
  });

  app.get("/ui/dead-letters", async (req, res) => {
    const link = grafana("wecom_relay_dead_letters_total");
    page(req, res, "Dead letters", deadLettersView(await deps.store.listDead(200), tokenOf(req), link), "/ui/dead-letters");
  });

  app.post("/ui/dead-letters/retry", kit.readBody, requireFormToken, async (req, res) => {
    const target = formFields(req).get("target") ?? "";
    const dead = await deps.store.listDead(RETRY_ALL_MAX, target);
    await deps.retry(dead.map((delivery) => delivery.id));
    res.redirect(303, "/ui/dead-letters");
  });

  app.get("/ui/routes", (req, res) => {
    const input = param(req, "labels") ?? "";
    let result: Parameters<typeof routesView>[1];
    if (input !== "") {
      const labels: Record<string, string> = {};
      const bad = input
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter(Boolean)
        .find((line) => {
          const eq = line.indexOf("=");
          if (eq <= 0) return true;
          labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
          return false;
        });
      const relay = deps.relay();
      result = bad !== undefined ? { error: `expected name=value, got "${bad}"` } : { ...relay.routes.explain(labels), targets: (receiver) => relay.receiver(receiver)?.targets ?? [] };
    }
    page(req, res, "Routes", routesView(input, result, grafana("wecom_relay_events_routed_total")), "/ui/routes");
  });

  const examples = (): string[] => {
    try {
      return readdirSync(deps.examplesDir).filter((file) => file.endsWith(".json")).sort();
    } catch {
      return [];
    }
  };
  const templateChoices = () => ({ sources: [...SOURCE_NAMES], examples: examples(), templates: deps.relay().templates.names(), formats: PREVIEW_FORMATS });

  app.get("/ui/templates", (req, res) => {
    const blank: TemplateForm = { source: "alertmanager", example: "alertmanager-firing.json", payload: "", event: "", template: "", format: "" };
    page(req, res, "Templates", templatesView(blank, templateChoices(), undefined), "/ui/templates");
  });

  app.post("/ui/templates", kit.readBody, (req, res) => {
    const fields = formFields(req);
    const chosen: TemplateForm = {
      source: fields.get("source") ?? "alertmanager",
      example: fields.get("example") ?? "",
      payload: fields.get("payload") ?? "",
      event: (fields.get("event") ?? "").trim(),
      template: fields.get("template") ?? "",
      format: fields.get("format") ?? "",
    };
    let result: Preview;
    try {
      const known = examples();
      const example = known.includes(chosen.example) ? chosen.example : undefined;
      const body = parseJson(example !== undefined ? readFileSync(join(deps.examplesDir, example), "utf8") : chosen.payload);
      // An example's name says its GitHub event: github-push.json is a push.
      const event = chosen.event || (example?.startsWith("github-") ? example.slice("github-".length, -".json".length) : "");
      result = preview(deps.relay(), {
        source: chosen.source,
        body,
        ...(event !== "" && { event }),
        ...(chosen.template !== "" && { template: chosen.template }),
        ...(PREVIEW_FORMATS.includes(chosen.format as Format) && { format: chosen.format as Format }),
      });
    } catch (err) {
      result = { ok: false, error: `payload: ${(err as Error).message}` };
    }
    page(req, res, "Templates", templatesView(chosen, templateChoices(), result), "/ui/templates");
  });

  app.get("/ui/silences", async (req, res) => {
    page(req, res, "Silences", silencesView(await deps.actions.list(200), deps.now(), grafana("wecom_relay_actions_total")), "/ui/silences");
  });
}

// Operator endpoints: liveness, readiness (with the reason), reload and the metrics scrape.
import type { Express } from "express";
import { HttpError, sendError } from "../errors.js";
import type { RouteKit } from "./kit.js";

export interface ProbeDeps {
  ready(): boolean;
  notReadyReason(): string | undefined;
  reload(): { ok: true } | { ok: false; errors: string[] };
  scrape(): Promise<string>;
}

export function probeRoutes(app: Express, kit: RouteKit, deps: ProbeDeps): void {
  app.get("/-/healthy", (_req, res) => {
    res.json({ status: "healthy" });
  });
  app.get("/-/ready", (_req, res) => {
    if (deps.ready()) res.json({ status: "ready" });
    else sendError(res, new HttpError(503, "not ready", { detail: { reason: deps.notReadyReason() } }));
  });
  app.post("/-/reload", kit.auth("api"), (_req, res) => {
    const result = deps.reload();
    if (result.ok) res.json({ status: "reloaded" });
    else sendError(res, new HttpError(500, "config reload failed; the previous config stays active", { detail: result.errors }));
  });
  app.get("/metrics", async (_req, res) => {
    res.type("text/plain; version=0.0.4").send(await deps.scrape());
  });
}

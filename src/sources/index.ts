// Source adapters by name, for the CLI's render command and hostile-input tests.
import type { Event } from "../types.js";
import { alertmanagerEvents } from "./alertmanager.js";
import { githubEvents } from "./github.js";
import { grafanaEvents } from "./grafana.js";
import type { Parsed } from "./validate.js";

/** What some sources read from headers (GitHub's X-GitHub-Event and X-GitHub-Delivery). */
export interface SourceMeta {
  event?: string;
  delivery?: string;
}

export type SourceAdapter = (body: unknown, meta: SourceMeta) => Parsed<Event[]>;

export const sourceAdapters: Record<string, SourceAdapter> = {
  alertmanager: (body) => alertmanagerEvents(body),
  grafana: (body) => grafanaEvents(body),
  github: (body, meta) =>
    githubEvents({ event: meta.event ?? "", body, ...(meta.delivery !== undefined && { delivery: meta.delivery }) }),
};

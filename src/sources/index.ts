// Source adapters by name: the one way a payload becomes events, for the webhooks, the
// CLI's render command and hostile-input tests.
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

export const SOURCE_NAMES = ["alertmanager", "grafana", "github"] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export const sourceAdapters: Readonly<Record<SourceName, SourceAdapter>> = {
  alertmanager: (body) => alertmanagerEvents(body),
  grafana: (body) => grafanaEvents(body),
  github: (body, meta) =>
    githubEvents({ event: meta.event ?? "", body, ...(meta.delivery !== undefined && { delivery: meta.delivery }) }),
};

export function isSourceName(name: string): name is SourceName {
  return Object.hasOwn(sourceAdapters, name);
}

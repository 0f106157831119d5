// Source adapters by name, for the CLI's render command and the server.
import type { Event } from "../types.js";
import { alertmanagerEvents } from "./alertmanager.js";
import type { Parsed } from "./validate.js";

export type SourceAdapter = (body: unknown) => Parsed<Event[]>;

export const sourceAdapters: Record<string, SourceAdapter> = {
  alertmanager: alertmanagerEvents,
};

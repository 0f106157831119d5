// POST /api/v1/messages: a message addressed to a receiver by name, bypassing routes.
import { z } from "zod";
import type { Event, Format } from "../types.js";
import { eventId } from "./event-id.js";
import { keepChars } from "../truncate.js";
import { firstLink } from "./link.js";
import { parsePayload, type Parsed } from "./validate.js";

const common = {
  receiver: z.string().min(1),
  mention: z.array(z.string().min(1)).default([]),
};

const requestSchema = z.union([
  z.strictObject({ ...common, text: z.string().min(1) }),
  z.strictObject({ ...common, markdown: z.string().min(1) }),
  z.strictObject({
    ...common,
    template: z.string().regex(/^[A-Za-z0-9_-]+$/),
    format: z.enum(["text", "markdown", "textcard"]).default("markdown"),
    data: z.record(z.string(), z.unknown()).default({}),
  }),
], { error: 'expected {"receiver", "text"}, {"receiver", "markdown"} or {"receiver", "template", "data"}' });

export interface ApiMessage {
  event: Event;
  receiver: string;
  template: string;
  format: Format;
  mention: string[];
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]!.trim();
  return Array.from(line).length > 80 ? keepChars(line, 79) : line;
}

export function apiMessage(body: unknown): Parsed<ApiMessage> {
  const parsed = parsePayload(requestSchema, body);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const { receiver, mention } = request;
  const [template, format, data] =
    "text" in request
      ? ["api", "text" as const, { text: request.text }]
      : "markdown" in request
        ? ["api", "markdown" as const, { text: request.markdown }]
        : [request.template, request.format, request.data];
  const text = typeof data.text === "string" ? data.text : typeof data.title === "string" ? data.title : template;
  const event: Event = {
    id: eventId("api", request, Date.now()),
    source: "api",
    labels: { source: "api", receiver },
    data,
    summary: firstLine(text),
  };
  const link = firstLink(data.url);
  if (link !== undefined) event.link = link;
  return { ok: true, value: { event, receiver, template, format, mention } };
}

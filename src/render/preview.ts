// What a payload would become, without sending: parsed by its source, routed, rendered and
// split, each part with its size against the target's byte limit. `render` (CLI) and the
// console's template page both show this.
import type { Relay } from "../relay.js";
import { isSourceName, sourceAdapters } from "../sources/index.js";
import type { Format, Match, MessageType } from "../types.js";
import { byteLimit } from "../wecom-limits.js";

export interface PreviewRequest {
  source: string;
  body: unknown;
  /** X-GitHub-Event, for GitHub payloads. */
  event?: string;
  /** Render with this template (and format) instead of the routes' choice. */
  template?: string;
  format?: Format;
}

export interface PreviewPart {
  receiver: string;
  target: string;
  msgtype: MessageType;
  part: number;
  parts: number;
  bytes: number;
  /** The target kind's limit for this message type. */
  limit: number;
  content: string;
  mention: string[];
  card?: { title: string; url: string };
}

export type Preview =
  | { ok: true; parts: PreviewPart[]; fallbacks: { template: string; error: string }[]; acknowledgedOnly: boolean }
  | { ok: false; error: string };

export const PREVIEW_FORMATS: readonly Format[] = ["text", "markdown", "textcard", "card"];

export function preview(relay: Relay, request: PreviewRequest): Preview {
  if (!isSourceName(request.source)) return { ok: false, error: `unknown source "${request.source}" (one of ${Object.keys(sourceAdapters).join(", ")})` };
  if (request.source === "github" && !request.event) return { ok: false, error: "a GitHub payload needs its event name (the X-GitHub-Event header, e.g. push)" };
  const parsed = sourceAdapters[request.source](request.body, { ...(request.event !== undefined && { event: request.event }) });
  if (!parsed.ok) return { ok: false, error: parsed.error };
  const parts: PreviewPart[] = [];
  const fallbacks: { template: string; error: string }[] = [];
  for (const event of parsed.value) {
    const matches: Match[] = relay.routes.match(event.labels).map((match) => ({
      ...match,
      ...(request.template !== undefined && { template: request.template }),
      ...(request.format !== undefined && { format: request.format }),
    }));
    for (const match of matches) {
      if (!relay.templates.has(match.template, match.format)) return { ok: false, error: `no template "${match.template}" for format ${match.format}` };
    }
    const rendered = relay.render(event, matches);
    fallbacks.push(...rendered.fallbacks);
    const totals = new Map<string, number>();
    for (const message of rendered.messages) totals.set(`${message.receiver}/${message.target}`, (totals.get(`${message.receiver}/${message.target}`) ?? 0) + 1);
    const seen = new Map<string, number>();
    for (const message of rendered.messages) {
      const key = `${message.receiver}/${message.target}`;
      const part = (seen.get(key) ?? 0) + 1;
      seen.set(key, part);
      parts.push({
        receiver: message.receiver,
        target: message.target,
        msgtype: message.msgtype,
        part,
        parts: totals.get(key)!,
        bytes: Buffer.byteLength(message.content),
        limit: byteLimit(relay.targets.get(message.target)?.kind ?? "robot", message.msgtype),
        content: message.content,
        mention: message.mention,
        ...(message.card !== undefined && { card: message.card }),
      });
    }
  }
  return { ok: true, parts, fallbacks, acknowledgedOnly: parsed.value.length === 0 };
}

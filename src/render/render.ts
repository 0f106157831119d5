// Turns one routed event into the messages for each target of the receiver: render the
// template once, add mentions, then split per target's byte limit.
import type { Event, Format, Match, Message, MessageType } from "../types.js";
import { oneLine } from "./helpers.js";
import { fitBytes } from "../truncate.js";
import { byteLimit, TEXTCARD_TITLE_LIMIT, TEXTCARD_URL_LIMIT, type ChannelKind } from "../wecom-limits.js";
import { splitByBytes } from "./split.js";
import { TemplateRenderError, type TemplateSet } from "./templates.js";

export interface RenderTarget {
  name: string;
  kind: ChannelKind;
}

/** A template_card for one app target: its JSON and the group and task it acts on. */
export interface RenderedCard {
  content: string;
  action: { group: string; task: string };
}

export interface RenderResult {
  messages: Message[];
  /**
   * Set when the template failed (or rendered nothing) and the plain fallback was sent
   * instead: the reason, for logs and a metric. The messages are complete either way.
   */
  fallback?: string;
}

/**
 * Templates see `event.data` as their context and the event itself as the data variable
 * `@event` (`{{@event.labels.severity}}`, `{{@event.status}}`, `{{@event.summary}}`,
 * `{{@event.source}}`, `{{@event.id}}`), so payload fields and event fields never collide.
 */
export function renderMessages(
  event: Event,
  match: Match,
  targets: RenderTarget[],
  templates: TemplateSet,
  /** For `format: card`: the card for one app target, or undefined where none can be made. */
  card?: () => RenderedCard | undefined,
): RenderResult {
  const { body, fallback } = renderBody(event, match, templates);
  const messages: Message[] = [];
  const partsByKey = new Map<string, string[]>();
  for (const target of targets) {
    const rendered = match.format === "card" && target.kind === "app" ? card?.() : undefined;
    if (rendered !== undefined) {
      messages.push({ target: target.name, receiver: match.receiver, msgtype: "template_card", content: rendered.content, mention: [], summary: event.summary, eventIds: [event.id], labels: event.labels, action: rendered.action });
      continue;
    }
    const msgtype = messageType(match.format, target.kind, event);
    const content = msgtype === "markdown" ? withMarkdownMentions(body, match.mention) : body;
    if (msgtype === "textcard") {
      messages.push(...textcards(body, event, match, target));
      continue;
    }
    const limit = byteLimit(target.kind, msgtype);
    const key = `${msgtype}:${limit}`;
    let parts = partsByKey.get(key);
    if (parts === undefined) {
      parts = splitByBytes(content, limit);
      partsByKey.set(key, parts);
    }
    parts.forEach((part, index) => {
      messages.push({
        target: target.name,
        receiver: match.receiver,
        msgtype,
        content: part,
        // Text mentions go in mentioned_list, once (first part); markdown ones are already
        // <@id> tokens in the last part, and are listed there too so digests can keep them.
        mention: index === (msgtype === "text" ? 0 : parts.length - 1) ? [...match.mention] : [],
        summary: event.summary,
        eventIds: [event.id], labels: event.labels,
      });
    });
  }
  return fallback === undefined ? { messages } : { messages, fallback };
}

/**
 * What a target gets for a route's format: a textcard needs an app target and a link to
 * open; otherwise the same text goes out as a text message. A card that could not be made
 * (not an alert group, no Alertmanager to silence in) is sent the same way.
 */
function messageType(format: Format, kind: ChannelKind, event: Event): MessageType {
  if (format !== "textcard" && format !== "card") return format;
  const linkable = event.link !== undefined && Buffer.byteLength(event.link) <= TEXTCARD_URL_LIMIT;
  return kind === "app" && linkable ? "textcard" : "text";
}

/**
 * The rendered text as textcards: its first line is the title (cut to 128 bytes, in
 * which case the description repeats it whole), the rest the description, split into
 * numbered cards of 512 bytes; each card opens the event's link.
 */
function textcards(body: string, event: Event, match: Match, target: RenderTarget): Message[] {
  const newline = body.indexOf("\n");
  const firstLine = (newline === -1 ? body : body.slice(0, newline)).trim();
  const rest = newline === -1 ? "" : body.slice(newline + 1).trim();
  const title = fitBytes(firstLine, TEXTCARD_TITLE_LIMIT);
  const description = title === firstLine ? rest || firstLine : body.trim();
  return splitByBytes(description, byteLimit(target.kind, "textcard")).map((part) => ({
    target: target.name,
    receiver: match.receiver,
    msgtype: "textcard" as const,
    content: part,
    mention: [],
    summary: event.summary,
    eventIds: [event.id], labels: event.labels,
    card: { title, url: event.link! },
  }));
}

function renderBody(event: Event, match: Match, templates: TemplateSet): { body: string; fallback?: string } {
  const format: Format = match.format;
  let body: string;
  // In markdown, nothing from the payload may ping: the data, the event's own fields and
  // the plain fallback all pass through neutralizeMentions.
  const safe = format === "markdown" ? neutralizeMentions : <T,>(value: T) => value;
  const fallbackBody = () => safe(plainRendering(event));
  try {
    body = templates.render(match.template, format, safe(event.data), {
      event: safe({ id: event.id, source: event.source, labels: event.labels, status: event.status, summary: event.summary }),
    });
  } catch (err) {
    // The alert must still go out: send what the event itself says.
    const reason = err instanceof TemplateRenderError ? err.message : new TemplateRenderError(match.template, format, String((err as Error)?.message ?? err)).message;
    return { body: fallbackBody(), fallback: reason };
  }
  if (body.trim() === "") {
    // WeCom rejects empty content (44004); an empty template output would lose the alert.
    return { body: fallbackBody(), fallback: `template ${match.template} (${format}) rendered nothing` };
  }
  return { body };
}

/**
 * In WeCom markdown, `<@userid>` anywhere in the content pings that user. Text from a
 * payload (an issue title, an annotation, a field's name, which a template may print as
 * `{{@key}}`) must not be able to page people, so its `<@` gets a zero-width space;
 * mentions come only from the route's `mention`. Copies only what changes.
 */
export function neutralizeMentions<T>(value: T): T {
  if (typeof value === "string") return (value.includes("<@") ? value.replaceAll("<@", "<\u200b@") : value) as T;
  if (Array.isArray(value)) {
    const items = value.map(neutralizeMentions);
    return (items.some((item, i) => item !== value[i]) ? items : value) as T;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    const safe = entries.map(([key, item]) => [neutralizeMentions(key), neutralizeMentions(item)] as const);
    const changed = safe.some(([key, item], i) => key !== entries[i]![0] || item !== entries[i]![1]);
    return (changed ? Object.fromEntries(safe) : value) as T;
  }
  return value;
}

/**
 * The event's summary and labels, one `key=value` per line: readable as text and markdown.
 * Each stays on its line, so a label value cannot start one (a forged heading).
 */
export function plainRendering(event: Event): string {
  const labelLines = Object.entries(event.labels).map(([name, value]) => `${oneLine(name)}=${oneLine(value)}`);
  return [oneLine(event.summary), ...labelLines].join("\n");
}

/**
 * WeCom markdown mentions only through `<@userid>` in the content. It has no @all (robot
 * markdown ignores mentioned_list), so "@all" is left out here: it only works for text.
 */
function withMarkdownMentions(body: string, mention: readonly string[]): string {
  const tokens = mention.filter((id) => id !== "@all").map((id) => `<@${id}>`);
  return tokens.length === 0 ? body : `${body}\n${tokens.join(" ")}`;
}

// Renders events with the shipped default templates, the way the relay does after routing.
import { renderMessages, type RenderTarget } from "../../src/render/render.js";
import { loadTemplates, shippedTemplatesDir, type TemplateSet } from "../../src/render/templates.js";
import type { Event, Format, Match, Message } from "../../src/types.js";

let cached: TemplateSet | undefined;

export function shippedTemplates(): TemplateSet {
  if (cached === undefined) {
    const loaded = loadTemplates({ dirs: [shippedTemplatesDir()], timezone: "Asia/Shanghai" });
    if ("errors" in loaded) throw new Error(`shipped templates do not load: ${JSON.stringify(loaded.errors)}`);
    cached = loaded.templates;
  }
  return cached;
}

export const ROBOT: RenderTarget = { name: "sre-robot", kind: "robot" };

export interface Rendered {
  messages: Message[];
  fallback?: string;
  /** Every part joined, for content checks. */
  content: string;
}

/** Renders `event` with its source's template (or `template`) for one target. */
export function renderShipped(event: Event, format: Format, options: { target?: RenderTarget; template?: string } = {}): Rendered {
  const match: Match = { receiver: "sre", template: options.template ?? event.source, format, mention: [], route: "route" };
  const result = renderMessages(event, match, [options.target ?? ROBOT], shippedTemplates());
  return { ...result, content: result.messages.map((message) => message.content).join("\n") };
}

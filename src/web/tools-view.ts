// The console's tools: a label set through the routing tree (as `routes test`), and a
// payload through a template (as `render`), each with the form that asks for it.
import type { Preview } from "../render/preview.js";
import type { RouteStep } from "../routing/tree.js";
import type { Match } from "../types.js";
import { escapeHtml } from "./html.js";
import { grafanaLink, table } from "./frame.js";

export function routesView(input: string, result: { matches: Match[]; steps: RouteStep[]; targets: (receiver: string) => string[] } | { error: string } | undefined, grafana?: string): string {
  const form =
    `<form method="get" action="/ui/routes" aria-label="Test routes"><label for="labels">Labels, one name=value per line</label>` +
    `<textarea id="labels" name="labels" placeholder="source=alertmanager&#10;severity=critical&#10;status=firing">${escapeHtml(input)}</textarea>` +
    `<div class="buttons"><button type="submit">Test routes</button></div></form>`;
  if (result === undefined) return form;
  if ("error" in result) return form + `<p class="over" role="alert">${escapeHtml(result.error)}</p>`;
  const path = result.steps
    .map(
      (step) =>
        `<li style="margin-left:${step.depth * 1.25}rem" class="${step.matched ? "" : "step-miss"}">${step.matched ? "✓" : "✗"} <code>${escapeHtml(step.route)}</code>` +
        ` → ${escapeHtml(step.receiver)}${step.matchers.length > 0 ? ` <span class="muted">${escapeHtml(step.matchers.join(", "))}</span>` : ""}${step.continue ? " <span class=\"muted\">continue</span>" : ""}</li>`,
    )
    .join("");
  const rows = result.matches.map((match) => [
    escapeHtml(match.receiver),
    escapeHtml(result.targets(match.receiver).join(", ")),
    escapeHtml(match.template),
    escapeHtml(match.format),
    escapeHtml(match.mention.join(", ") || "—"),
    `<code>${escapeHtml(match.route)}</code>`,
  ]);
  return (
    form +
    `<section aria-labelledby="path-h"><h2 id="path-h">The way through the tree</h2><ul>${path}</ul></section>` +
    `<section aria-labelledby="match-h"><h2 id="match-h">Receivers</h2>${table("What an event with these labels reaches.", ["Receiver", "Targets", "Template", "Format", "Mention", "Route"], rows)}${grafanaLink(grafana, "Events routed in Grafana")}</section>`
  );
}

export interface TemplateForm {
  source: string;
  example: string;
  payload: string;
  event: string;
  template: string;
  format: string;
}

function options(values: readonly string[], chosen: string, any?: string): string {
  return [...(any !== undefined ? [`<option value="">${escapeHtml(any)}</option>`] : []), ...values.map((value) => `<option${value === chosen ? " selected" : ""}>${escapeHtml(value)}</option>`)].join("");
}

export function templatesView(form: TemplateForm, choices: { sources: string[]; examples: string[]; templates: string[]; formats: readonly string[] }, result: Preview | undefined): string {
  const html =
    `<form method="post" action="/ui/templates" aria-label="Preview a template">` +
    `<div class="grid"><div><label for="source">Source</label><select id="source" name="source">${options(choices.sources, form.source)}</select></div>` +
    `<div><label for="example">Example payload</label><select id="example" name="example">${options(choices.examples, form.example, "pasted below")}</select></div>` +
    `<div><label for="event">GitHub event</label><input type="text" id="event" name="event" value="${escapeHtml(form.event)}" placeholder="push"></div>` +
    `<div><label for="template">Template</label><select id="template" name="template">${options(choices.templates, form.template, "as routed")}</select></div>` +
    `<div><label for="format">Format</label><select id="format" name="format">${options(choices.formats, form.format, "as routed")}</select></div></div>` +
    `<label for="payload">Payload (JSON), used when no example is chosen</label><textarea id="payload" name="payload">${escapeHtml(form.payload)}</textarea>` +
    `<div class="buttons"><button type="submit">Render</button></div></form>`;
  if (result === undefined) return html;
  if (!result.ok) return html + `<p class="over" role="alert">${escapeHtml(result.error)}</p>`;
  const fallbacks = result.fallbacks.map((fallback) => `<p class="over" role="alert">Template ${escapeHtml(fallback.template)} failed (sent in plain form): ${escapeHtml(fallback.error)}</p>`).join("");
  const parts = result.parts.map(
    (part) =>
      `<section aria-label="${escapeHtml(`${part.target} part ${part.part} of ${part.parts}`)}"><h3>${escapeHtml(part.target)} · ${escapeHtml(part.msgtype)} · part ${part.part}/${part.parts}</h3>` +
      `<p><span class="${part.bytes > part.limit ? "over" : "ok"}" data-bytes="${part.bytes}">${part.bytes} of ${part.limit} bytes</span> · receiver ${escapeHtml(part.receiver)}${part.mention.length > 0 ? ` · mentions ${escapeHtml(part.mention.join(", "))}` : ""}</p>` +
      `<pre>${escapeHtml(part.content)}</pre></section>`,
  );
  return (
    html +
    `<section aria-labelledby="rendered-h"><h2 id="rendered-h">${result.acknowledgedOnly ? "No message: this event is acknowledged without one" : `${result.parts.length} part${result.parts.length === 1 ? "" : "s"}`}</h2>${fallbacks}${parts.join("")}</section>`
  );
}

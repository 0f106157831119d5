// The console's messages: a search form with its results (newest first, a page at a
// time), one request with every part as it was rendered and what WeCom said to each, and
// the dead letters with their retry buttons.
import type { RequestStatus, StoredDelivery } from "../outbox/contract.js";
import { escapeHtml, labelList } from "./html.js";
import { grafanaLink, hiddenToken, table, time } from "./frame.js";
import type { MessagePage, MessageQuery } from "./message-search.js";

const STATES = ["queued", "sent", "dead"] as const;

function select(id: string, label: string, options: readonly string[], chosen: string | undefined, any = "any"): string {
  const items = [`<option value="">${escapeHtml(any)}</option>`, ...options.map((option) => `<option${option === chosen ? " selected" : ""}>${escapeHtml(option)}</option>`)];
  return `<div><label for="${id}">${escapeHtml(label)}</label><select id="${id}" name="${id}">${items.join("")}</select></div>`;
}

function text(id: string, label: string, value: string | undefined, extra = ""): string {
  return `<div><label for="${id}">${escapeHtml(label)}</label><input type="text" id="${id}" name="${id}" value="${escapeHtml(value ?? "")}"${extra}></div>`;
}

function localTime(id: string, label: string, epochMs: number | undefined): string {
  const value = epochMs === undefined ? "" : new Date(epochMs).toISOString().slice(0, 16);
  return `<div><label for="${id}">${escapeHtml(label)} (UTC)</label><input type="datetime-local" id="${id}" name="${id}" value="${value}"></div>`;
}

/** The query as URL parameters, for the "older" link. */
export function queryParams(query: MessageQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.alert) params.set("alert", query.alert);
  if (query.label) params.set("label", `${query.label.name}=${query.label.value}`);
  if (query.source) params.set("source", query.source);
  if (query.state) params.set("state", query.state);
  if (query.target) params.set("target", query.target);
  if (query.since !== undefined) params.set("since", new Date(query.since).toISOString().slice(0, 16));
  if (query.until !== undefined) params.set("until", new Date(query.until).toISOString().slice(0, 16));
  return params;
}

function stateCell(delivery: StoredDelivery): string {
  const css = delivery.state === "dead" ? "over" : delivery.state === "sent" ? "ok" : "";
  return `<span class="${css}">${escapeHtml(delivery.state)}</span>`;
}

export function messagesView(query: MessageQuery, page: MessagePage, options: { targets: string[]; sources: string[]; grafana?: string }): string {
  const form =
    `<form method="get" action="/ui/messages" aria-label="Search messages"><div class="grid">` +
    text("alert", "Alert name", query.alert) +
    text("label", "Label (name=value)", query.label && `${query.label.name}=${query.label.value}`, ' placeholder="severity=critical"') +
    select("source", "Source", options.sources, query.source) +
    select("state", "State", STATES, query.state) +
    select("target", "Target", options.targets, query.target) +
    localTime("since", "From", query.since) +
    localTime("until", "To", query.until) +
    `</div><div class="buttons"><button type="submit">Search</button></div></form>`;
  const rows = page.messages.map((delivery) => [
    `<a href="/ui/messages/${encodeURIComponent(delivery.id)}">${escapeHtml(time(delivery.createdAt))}</a>`,
    stateCell(delivery),
    escapeHtml(delivery.message.target),
    escapeHtml(delivery.message.receiver),
    escapeHtml(delivery.message.summary),
    String(delivery.attempts),
  ]);
  const older =
    page.next !== undefined
      ? `<p><a href="/ui/messages?${escapeHtml(new URLSearchParams({ ...Object.fromEntries(queryParams(query)), before: page.next }).toString())}">Older messages</a> <span class="muted">(${page.examined} looked at)</span></p>`
      : `<p class="muted">No older messages.</p>`;
  return (
    form +
    `<section aria-labelledby="results-h"><h2 id="results-h">${page.messages.length === 0 ? "No messages found" : `${page.messages.length} message${page.messages.length === 1 ? "" : "s"}`}</h2>` +
    (rows.length > 0 ? table("Newest first. Open one for its rendered text, attempts and errors.", ["Created", "State", "Target", "Receiver", "Summary", "Attempts"], rows) : "") +
    older +
    grafanaLink(options.grafana, "Messages delivered in Grafana") +
    `</section>`
  );
}

export function messageView(status: RequestStatus, limits: (delivery: StoredDelivery) => number, token: string): string {
  const parts = status.deliveries.map((delivery, index) => {
    const bytes = Buffer.byteLength(delivery.message.content);
    const limit = limits(delivery);
    const retry =
      delivery.state === "dead"
        ? `<form method="post" action="/ui/messages/${encodeURIComponent(delivery.id)}/retry">${hiddenToken(token)}<div class="buttons"><button type="submit">Retry this part</button></div></form>`
        : "";
    return (
      `<section aria-labelledby="part-${index}"><h2 id="part-${index}">Part ${index + 1} of ${status.deliveries.length}: ${escapeHtml(delivery.message.target)}</h2>` +
      `<p>${stateCell(delivery)} · ${escapeHtml(delivery.message.msgtype)} · <span class="${bytes > limit ? "over" : ""}">${bytes} of ${limit} bytes</span> · ${delivery.attempts} attempt${delivery.attempts === 1 ? "" : "s"}</p>` +
      `<p class="muted">Delivery ${escapeHtml(delivery.id)} · receiver ${escapeHtml(delivery.message.receiver)} · created ${escapeHtml(time(delivery.createdAt))} · ` +
      (delivery.state === "sent" ? `sent ${escapeHtml(time(delivery.sentAt))}` : `next attempt ${escapeHtml(time(delivery.nextAttemptAt))}`) +
      `</p>` +
      (delivery.lastError !== undefined ? `<p><strong>Last error:</strong> ${escapeHtml(delivery.lastError)}</p>` : "") +
      (delivery.message.mention.length > 0 ? `<p>Mentions: ${escapeHtml(delivery.message.mention.join(", "))}</p>` : "") +
      labelList(delivery.message.labels ?? {}, "Event labels") +
      `<pre>${escapeHtml(delivery.message.content)}</pre>` +
      retry +
      `</section>`
    );
  });
  return `<p>Request ${escapeHtml(status.id)} · <strong>${escapeHtml(status.state)}</strong> · received ${escapeHtml(time(status.createdAt))}</p>${parts.join("")}`;
}

export function deadLettersView(dead: readonly StoredDelivery[], token: string, grafana?: string): string {
  if (dead.length === 0) return `<p>No dead letters.</p>${grafanaLink(grafana, "Dead letters in Grafana")}`;
  const byTarget = [...new Set(dead.map((delivery) => delivery.message.target))];
  const rows = dead.map((delivery) => [
    `<a href="/ui/messages/${encodeURIComponent(delivery.id)}">${escapeHtml(time(delivery.createdAt))}</a>`,
    escapeHtml(delivery.message.target),
    escapeHtml(delivery.message.summary),
    escapeHtml(delivery.lastError ?? ""),
    `<form method="post" action="/ui/messages/${encodeURIComponent(delivery.id)}/retry">${hiddenToken(token)}<button type="submit" aria-label="Retry ${escapeHtml(delivery.message.summary)} to ${escapeHtml(delivery.message.target)}">Retry</button></form>`,
  ]);
  const all = byTarget
    .map(
      (target) =>
        `<form method="post" action="/ui/dead-letters/retry">${hiddenToken(token)}<input type="hidden" name="target" value="${escapeHtml(target)}"><button type="submit" class="secondary">Retry all of ${escapeHtml(target)}</button></form>`,
    )
    .join("");
  return table("Newest first.", ["Created", "Target", "Summary", "Error", ""], rows) + `<div class="buttons">${all}</div>` + grafanaLink(grafana, "Dead letters in Grafana");
}

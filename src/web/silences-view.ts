// Silences and acknowledgements made through the relay: who, when, until when, from where.
import type { ActionRecord } from "../outbox/action-log.js";
import { escapeHtml } from "./html.js";
import { grafanaLink, table, time } from "./frame.js";

export function silencesView(actions: readonly ActionRecord[], now: number, grafana?: string): string {
  if (actions.length === 0) return `<p>No silences or acknowledgements were made through the relay yet.</p>${grafanaLink(grafana, "Actions in Grafana")}`;
  const rows = actions.map((record) => {
    const active = record.action === "silence" && record.result === "ok" && (record.until ?? 0) > now;
    return [
      escapeHtml(time(record.at)),
      escapeHtml(record.action),
      escapeHtml(record.by),
      escapeHtml(record.via),
      record.until !== undefined ? `${escapeHtml(time(record.until))}${active ? ' <span class="ok">in force</span>' : ""}` : "—",
      `<span class="${record.result === "ok" ? "ok" : record.result === "pending" ? "" : "over"}">${escapeHtml(record.result)}</span>${record.detail ? ` <span class="muted">${escapeHtml(record.detail)}</span>` : ""}`,
      escapeHtml(record.silenceId ?? "—"),
      `<code>${escapeHtml(record.group)}</code>`,
    ];
  });
  return table("Newest first: silences, unsilences, acknowledgements and cards marked resolved.", ["When", "Action", "By", "Via", "Until", "Result", "Silence", "Group"], rows) + grafanaLink(grafana, "Actions in Grafana");
}

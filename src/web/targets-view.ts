// The console's first view: every target with its queue, pace, pause and last activity,
// then the receivers. What an SRE checks first when "the alert did not arrive".
import type { TargetActivity } from "../outbox/contract.js";
import { escapeHtml } from "./html.js";
import { grafanaLink, table, time } from "./frame.js";

export interface TargetRow {
  name: string;
  type: string;
  depth: number;
  pace: { max: number; perMs: number };
  pausedUntil?: number;
  activity: TargetActivity;
  grafana?: string;
}

export interface ReceiverRow {
  name: string;
  targets: string[];
  throttle?: { max: number; perMs: number };
}

function pace(rate: { max: number; perMs: number }): string {
  const per = rate.perMs % 60_000 === 0 ? `${rate.perMs / 60_000}m` : rate.perMs % 1000 === 0 ? `${rate.perMs / 1000}s` : `${rate.perMs}ms`;
  return `${rate.max} per ${per}`;
}

export function targetsView(targets: readonly TargetRow[], receivers: readonly ReceiverRow[], now: number, grafana?: string): string {
  const rows = targets.map((target) => {
    const paused = target.pausedUntil !== undefined && target.pausedUntil > now ? `<span class="over">until ${escapeHtml(time(target.pausedUntil))}</span>` : "no";
    const error = target.activity.lastError;
    return [
      `<a href="/ui/messages?target=${encodeURIComponent(target.name)}">${escapeHtml(target.name)}</a>`,
      escapeHtml(target.type),
      `<span data-depth="${target.depth}">${target.depth}</span>${target.depth > 0 ? ` · <a href="/ui/messages?target=${encodeURIComponent(target.name)}&amp;state=queued">queued</a>` : ""}`,
      escapeHtml(pace(target.pace)),
      paused,
      escapeHtml(time(target.activity.lastSentAt)),
      error ? `${escapeHtml(error.error)} <span class="muted">(${escapeHtml(time(error.at))})</span>` : "—",
      target.grafana ? `<a href="${escapeHtml(target.grafana)}" rel="noopener noreferrer">graph</a>` : "",
    ];
  });
  const receiverRows = receivers.map((receiver) => [
    escapeHtml(receiver.name),
    receiver.targets.map((name) => escapeHtml(name)).join(", "),
    receiver.throttle ? escapeHtml(pace(receiver.throttle)) : "—",
  ]);
  return (
    `<section aria-labelledby="targets-h"><h2 id="targets-h">Targets</h2>` +
    table("Queue depth, pace (rate_limit), pause after WeCom's 45009, last accepted send and latest error, per target.", ["Target", "Type", "Queued", "Pace", "Paused", "Last send", "Last error", ""], rows) +
    grafanaLink(grafana, "Outbox depth in Grafana") +
    `</section><section aria-labelledby="receivers-h"><h2 id="receivers-h">Receivers</h2>` +
    table("Receivers and the targets they deliver to.", ["Receiver", "Targets", "Throttle"], receiverRows) +
    `</section>`
  );
}

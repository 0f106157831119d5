// The pages behind an alert message's action link: one alert group, a form to silence it,
// and the result or error pages.
import { escapeHtml, labelList, layout, stateBadge } from "../web/html.js";

export interface GroupView {
  groupId: string;
  status: "firing" | "resolved";
  title: string;
  alerts: { name: string; labels: Record<string, string>; summary?: string; startsAt?: string; status: string }[];
  /** What the silence will match, by equality. */
  matchers: Record<string, string>;
  /** An active silence created through the relay, if any. */
  silence?: { id: string; createdBy: string; endsAt: string };
}

export function groupPage(
  view: GroupView,
  form: { action: string; csrf: string; durations: string[] },
): string {
  const alerts = view.alerts
    .map(
      (alert) =>
        `<li><h3>${escapeHtml(alert.name)} ${stateBadge(alert.status)}</h3>` +
        (alert.summary ? `<p>${escapeHtml(alert.summary)}</p>` : "") +
        (alert.startsAt ? `<p class="muted">Since ${escapeHtml(alert.startsAt)}</p>` : "") +
        labelList(alert.labels, "Labels") +
        `</li>`,
    )
    .join("");

  const silenced = view.silence
    ? `<section class="notice" aria-labelledby="silenced-h"><h2 id="silenced-h">Silenced</h2>` +
      `<p>Silenced by ${escapeHtml(view.silence.createdBy)} until ${escapeHtml(view.silence.endsAt)}.</p>` +
      `<p class="muted">Silence ${escapeHtml(view.silence.id)}</p></section>`
    : "";

  // Alertmanager refuses a silence without matchers (it would match everything), so
  // without any the page offers no silence buttons.
  const hasMatchers = Object.keys(view.matchers).length > 0;
  const matchers = hasMatchers
    ? `<p>A silence matches alerts with all of these labels:</p>${labelList(view.matchers, "Silence matchers")}`
    : `<p>This group has no labels to match, so it cannot be silenced here.</p>`;

  const durationButtons = hasMatchers
    ? form.durations
        .map((d) => `<button type="submit" name="duration" value="${escapeHtml(d)}">Silence ${escapeHtml(d)}</button>`)
        .join("")
    : "";
  const unsilence = view.silence
    ? `<button type="submit" class="secondary" name="action" value="unsilence">Unsilence</button>`
    : "";

  const formHtml =
    durationButtons || unsilence
      ? `<form method="post" action="${escapeHtml(form.action)}" aria-labelledby="form-h">` +
        `<h2 id="form-h">${view.silence ? "Change the silence" : "Silence this group"}</h2>` +
        `<input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">` +
        `<label for="by">Your name</label>` +
        `<input type="text" id="by" name="by" required maxlength="64" autocomplete="name">` +
        `<label for="note">Note (optional)</label>` +
        `<input type="text" id="note" name="note" maxlength="200" autocomplete="off">` +
        `<div class="buttons">${durationButtons}${unsilence}</div></form>`
      : "";

  return layout(
    view.title,
    `<h1>${escapeHtml(view.title)}</h1>` +
      `<p>${stateBadge(view.status)} <span class="muted">Group ${escapeHtml(view.groupId)}</span></p>` +
      silenced +
      `<section aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts (${view.alerts.length})</h2><ul class="alerts">${alerts}</ul></section>` +
      `<section aria-labelledby="matchers-h"><h2 id="matchers-h">What will be silenced</h2>${matchers}</section>` +
      formHtml,
  );
}

export function resultPage(opts: { title: string; message: string; backUrl?: string }): string {
  return layout(
    opts.title,
    `<section><h1>${escapeHtml(opts.title)}</h1><p>${escapeHtml(opts.message)}</p>` +
      (opts.backUrl ? `<p><a href="${escapeHtml(opts.backUrl)}">Back to the alert group</a></p>` : "") +
      `</section>`,
  );
}

/** For forged, expired or resolved links: plain words; the caller passes no detail that would help forge one. */
export function errorPage(opts: { status: number; title: string; message: string }): string {
  return layout(
    opts.title,
    `<section><h1>${escapeHtml(opts.title)}</h1><p>${escapeHtml(opts.message)}</p>` +
      `<p class="muted">HTTP ${escapeHtml(opts.status)}</p></section>`,
  );
}

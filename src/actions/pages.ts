// The pages behind an alert message's action link: one alert group, a form to silence it,
// and the result or error pages. Plain server-rendered HTML: no scripts, no external
// assets (the relay often runs on a closed network), readable on a phone.

/** Every value put into a page goes through this; safe in text and in quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Headers to send with every page here. No scripts at all, styles only inline, forms post
 * only to this origin, never framed (the form is a click target), and no Referer: the
 * page's own URL carries the link signature. no-store keeps a shared device's cache from
 * keeping the link or the CSRF token.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Type": "text/html; charset=utf-8",
  "Content-Security-Policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
});

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

// Colours keep at least 4.5:1 contrast for text (WCAG AA); the focus ring is thick and dark.
// overflow-wrap:anywhere keeps long label values (URLs, hashes) inside a 360 px screen.
const STYLE = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f4f5f7;color:#1b1f24;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei",sans-serif;overflow-wrap:anywhere}
main{max-width:42rem;margin:0 auto;padding:1rem}
h1{font-size:1.3rem;line-height:1.3;margin:.25rem 0 .5rem}
h2{font-size:1.1rem;margin:0 0 .5rem}
h3{font-size:1rem;margin:0}
section,form{background:#fff;border:1px solid #c9ced6;border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem}
ul{margin:0;padding:0;list-style:none}
.alerts>li{padding:.5rem 0;border-top:1px solid #e3e6ea}
.alerts>li:first-child{border-top:0;padding-top:0}
.labels{display:flex;flex-wrap:wrap;gap:.25rem;margin:.25rem 0}
.labels li{background:#eef0f3;border:1px solid #c9ced6;border-radius:4px;padding:0 .35rem;font:.85rem/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;max-width:100%}
.muted{color:#4a525c;font-size:.9rem}
.state{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:.85rem;font-weight:600;color:#fff;background:#4a525c}
.state-firing{background:#b3261e}
.state-resolved{background:#1b6e3a}
.notice{background:#fff8e1;border-color:#8a6d00}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text]{display:block;width:100%;font:inherit;color:inherit;background:#fff;padding:.5rem .6rem;border:1px solid #5f6873;border-radius:6px}
.buttons{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}
button{font:inherit;font-weight:600;min-height:44px;padding:.5rem 1rem;border-radius:6px;border:2px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b57d0}
a{color:#0b57d0}
:focus-visible{outline:3px solid #1b1f24;outline-offset:2px}
input[type=text]:focus-visible{border-color:#0b57d0}
`;

function layout(title: string, body: string): string {
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    // Repeats the header for a proxy that drops it: the URL carries a signature.
    `<meta name="referrer" content="no-referrer">` +
    `<meta name="robots" content="noindex, nofollow">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body><main>${body}</main></body></html>\n`
  );
}

function labelList(labels: Record<string, string>, name: string): string {
  const items = Object.entries(labels)
    .map(([key, value]) => `<li>${escapeHtml(key)}="${escapeHtml(value)}"</li>`)
    .join("");
  return items ? `<ul class="labels" aria-label="${escapeHtml(name)}">${items}</ul>` : "";
}

function stateBadge(status: string): string {
  const known = status === "firing" || status === "resolved" ? ` state-${status}` : "";
  return `<span class="state${known}">${escapeHtml(status)}</span>`;
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

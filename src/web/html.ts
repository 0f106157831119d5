// Server-rendered HTML for the relay's pages (the console and the action pages): escaping,
// security headers, one style sheet and the page frame. No scripts, no external assets
// (the relay often runs on a closed network), readable on a phone.

/** Every value put into a page goes through this; safe in text and in quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Headers to send with every page. No scripts at all, styles only inline, forms post
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
input[type=password],input[type=datetime-local],select,textarea{display:block;width:100%;font:inherit;color:inherit;background:#fff;padding:.5rem .6rem;border:1px solid #5f6873;border-radius:6px}
textarea{font:.9rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;min-height:8rem}
main.wide{max-width:72rem}
nav.console{background:#1b1f24;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}
nav.console a{color:#fff;text-decoration:none;padding:.35rem 0;font-weight:600}
nav.console a[aria-current=page]{text-decoration:underline;text-underline-offset:.3rem}
nav.console form{margin:0 0 0 auto;padding:0;background:none;border:0}
nav.console button{min-height:auto;padding:.2rem .6rem;background:#fff;color:#1b1f24;border-color:#fff}
nav.console :focus-visible{outline-color:#fff}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #e3e6ea}
th{background:#eef0f3}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f8fa;border:1px solid #c9ced6;border-radius:6px;padding:.5rem;font:.85rem/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:0 1rem}
.over{color:#b3261e;font-weight:600}
.ok{color:#1b6e3a;font-weight:600}
.step-miss{color:#4a525c}
`;

export function layout(title: string, body: string, nav = "", mainClass = ""): string {
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    // Repeats the header for a proxy that drops it: the URL carries a signature.
    `<meta name="referrer" content="no-referrer">` +
    `<meta name="robots" content="noindex, nofollow">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body>${nav}<main${mainClass ? ` class="${mainClass}"` : ""}>${body}</main></body></html>\n`
  );
}

export function labelList(labels: Record<string, string>, name: string): string {
  const items = Object.entries(labels)
    .map(([key, value]) => `<li>${escapeHtml(key)}="${escapeHtml(value)}"</li>`)
    .join("");
  return items ? `<ul class="labels" aria-label="${escapeHtml(name)}">${items}</ul>` : "";
}

export function stateBadge(status: string): string {
  const known = status === "firing" || status === "resolved" ? ` state-${status}` : "";
  return `<span class="state${known}">${escapeHtml(status)}</span>`;
}


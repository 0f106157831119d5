// The console's page frame: the navigation every view is reached from, and small pieces
// the views share (times, links to Grafana, form tokens).
import { escapeHtml, layout } from "./html.js";

export const VIEWS = [
  { path: "/ui", name: "Targets" },
  { path: "/ui/messages", name: "Messages" },
  { path: "/ui/dead-letters", name: "Dead letters" },
  { path: "/ui/routes", name: "Routes" },
  { path: "/ui/templates", name: "Templates" },
  { path: "/ui/silences", name: "Silences" },
] as const;

export interface FrameOptions {
  /** The view's path, marked in the navigation. */
  current: string;
  /** The viewer's form token, for the log-out button (sessions only). */
  logoutToken?: string;
}

export function consolePage(title: string, body: string, options: FrameOptions): string {
  const links = VIEWS.map(
    (view) => `<a href="${view.path}"${view.path === options.current ? ' aria-current="page"' : ""}>${escapeHtml(view.name)}</a>`,
  ).join("");
  const logout =
    options.logoutToken !== undefined
      ? `<form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="${escapeHtml(options.logoutToken)}"><button type="submit">Log out</button></form>`
      : "";
  const nav = `<nav class="console" aria-label="Console">${links}${logout}</nav>`;
  return layout(`${title} · wecom-relay`, `<h1>${escapeHtml(title)}</h1>${body}`, nav, "wide");
}

/** An ISO time, short and readable; "—" for none. */
export function time(epochMs: number | undefined): string {
  if (epochMs === undefined) return "—";
  return new Date(epochMs).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function grafanaLink(url: string | undefined, text = "Open in Grafana"): string {
  return url === undefined ? "" : `<p><a href="${escapeHtml(url)}" rel="noopener noreferrer">${escapeHtml(text)}</a></p>`;
}

export function hiddenToken(token: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(token)}">`;
}

/** A table, scrollable sideways on a phone; `rows` are already escaped HTML cells. */
export function table(caption: string, headers: readonly string[], rows: readonly string[][]): string {
  const head = headers.map((header) => `<th scope="col">${escapeHtml(header)}</th>`).join("");
  const body = rows.map((cells) => `<tr>${cells.map((cell) => `<td>${cell}</td>`).join("")}</tr>`).join("");
  return `<div class="table"><table><caption class="muted">${escapeHtml(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

// The console's login: the `auth.api` token (or user and password) traded for a session.
import { escapeHtml, layout } from "./html.js";

export function loginPage(kind: "token" | "basic", next: string, error?: string): string {
  const fields =
    kind === "token"
      ? `<label for="token">API token</label><input type="password" id="token" name="token" required autocomplete="current-password">`
      : `<label for="username">User name</label><input type="text" id="username" name="username" required autocomplete="username">` +
        `<label for="password">Password</label><input type="password" id="password" name="password" required autocomplete="current-password">`;
  return layout(
    "Log in · wecom-relay",
    `<h1>wecom-relay console</h1>` +
      (error ? `<p class="over" role="alert">${escapeHtml(error)}</p>` : "") +
      `<form method="post" action="/ui/login" aria-label="Log in"><p>Log in with the relay's API credentials (<code>auth.api</code>).</p>` +
      `<input type="hidden" name="next" value="${escapeHtml(next)}">${fields}<div class="buttons"><button type="submit">Log in</button></div></form>`,
  );
}

// The action pages in a real browser: the form posts what the route expects, every input
// is labelled, the CSP stops injected script, and the page fits a 360 px phone.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { errorPage, groupPage, resultPage, type GroupView } from "../../src/actions/pages.js";
import { PAGE_HEADERS } from "../../src/web/html.js";
import { signActionLink, verifyActionLink } from "../../src/actions/signed-link.js";
import { findChromium, launchBrowser } from "../support/browser.js";

const chromiumPath = findChromium();
const SECRET = "browser-test-secret";
const CSRF = "csrf-token-for-the-browser-test";
const GROUP = "g_browser_1";
// Sets a flag if it ever runs; escaping and the CSP must both keep it from running.
const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"'`;
const LONG = `https://grafana.example.com/d/abcdef/${"very-long-dashboard-path-".repeat(8)}?orgId=1&var-instance=${"x".repeat(120)}`;

const VIEW: GroupView = {
  groupId: GROUP,
  status: "firing",
  title: "[FIRING:2] HighLatency",
  alerts: [
    {
      name: "HighLatency",
      labels: { alertname: "HighLatency", service: "checkout", note: HOSTILE, dashboard: LONG },
      summary: `p99 above 2s for 10 minutes on ${"checkout-".repeat(20)}`,
      startsAt: "2026-01-15 15:04 +08:00",
      status: "firing",
    },
    { name: "HighLatency", labels: { alertname: "HighLatency", service: "cart" }, status: "firing" },
  ],
  matchers: { alertname: "HighLatency", service: "checkout" },
  silence: { id: "8f1c0d", createdBy: "Ana Li", endsAt: "16:04 +08:00" },
};

type Posted = { path: string; fields: [string, string][] };

describe.skipIf(!chromiumPath)("action pages in Chromium", () => {
  let browser: Browser;
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const posted: Posted[] = [];

  function send(res: ServerResponse, status: number, html: string, headers: Record<string, string> = PAGE_HEADERS): void {
    res.writeHead(status, headers).end(html);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", base);
    const match = /^\/actions\/([^/]+)$/.exec(url.pathname);
    if (match) {
      const check = verifyActionLink(SECRET, match[1]!, url.searchParams.get("e") ?? undefined, url.searchParams.get("s") ?? undefined, Date.now());
      if (!check.ok) return send(res, 403, errorPage({ status: 403, title: "This link is not valid", message: "Open the latest alert message for a fresh link." }));
      if (req.method === "POST") {
        let body = "";
        for await (const chunk of req) body += String(chunk);
        posted.push({ path: `${url.pathname}${url.search}`, fields: [...new URLSearchParams(body)] });
        return send(res, 200, resultPage({ title: "Silenced until 17:04 +08:00", message: "Recorded." }));
      }
      return send(res, 200, groupPage(VIEW, { action: url.href, csrf: CSRF, durations: ["1h", "4h", "24h"] }));
    }
    // The group page with script injected past the escaping, as if escaping had a bug:
    // only the CSP stands in the way. The control is the same page without the headers.
    if (url.pathname === "/injected" || url.pathname === "/injected-no-csp") {
      const html = groupPage(VIEW, { action: "/actions/none", csrf: CSRF, durations: ["1h"] }).replace(
        "<main>",
        `<main><img src=x onerror="window.__pwned='attr'"><script>window.__pwnedInline='inline'</script>`,
      );
      return send(res, 200, html, url.pathname === "/injected" ? PAGE_HEADERS : { "Content-Type": "text/html; charset=utf-8" });
    }
    res.writeHead(404).end();
  }

  function link(): string {
    return signActionLink({ publicUrl: base, secret: SECRET, groupId: GROUP, expiresAt: Date.now() + 3600_000 });
  }

  beforeAll(async () => {
    server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  beforeEach(async () => {
    posted.length = 0;
    context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context.close();
  });

  it("sends the security headers and posts name, duration and CSRF token for the button clicked", async () => {
    const url = link();
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    const headers = response!.headers();
    expect(headers["content-security-policy"]).toBe(PAGE_HEADERS["Content-Security-Policy"]);
    expect(headers["referrer-policy"]).toBe("no-referrer");

    // The name is required: the browser does not submit without it.
    await page.getByRole("button", { name: "Silence 1h", exact: true }).click();
    expect(posted).toHaveLength(0);

    await page.getByLabel("Your name").fill("Ana Li");
    await page.getByLabel("Note").fill("deploying the fix");
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.getByRole("button", { name: "Silence 1h", exact: true }).click(),
    ]);
    await expect.poll(() => page.getByRole("heading", { name: "Silenced until 17:04 +08:00" }).count()).toBe(1);

    expect(posted).toHaveLength(1);
    expect(posted[0]!.path).toBe(url.slice(base.length));
    expect(Object.fromEntries(posted[0]!.fields)).toEqual({ csrf: CSRF, by: "Ana Li", note: "deploying the fix", duration: "1h" });
    // Only the clicked button's value is sent.
    expect(posted[0]!.fields.filter(([k]) => k === "duration" || k === "action")).toEqual([["duration", "1h"]]);
  });

  it("posts action=unsilence from the Unsilence button", async () => {
    await page.goto(link());
    await page.getByLabel("Your name").fill("Bo");
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Unsilence", exact: true }).click()]);
    expect(posted).toHaveLength(1);
    expect(Object.fromEntries(posted[0]!.fields)).toEqual({ csrf: CSRF, by: "Bo", note: "", action: "unsilence" });
  });

  it("gives every input and button an accessible name, and shows keyboard focus", async () => {
    await page.goto(link());
    expect(await page.getByLabel("Your name", { exact: true }).getAttribute("name")).toBe("by");
    expect(await page.getByLabel("Note (optional)", { exact: true }).getAttribute("name")).toBe("note");
    for (const name of ["Silence 1h", "Silence 4h", "Silence 24h", "Unsilence"]) {
      expect(await page.getByRole("button", { name, exact: true }).count(), name).toBe(1);
    }
    // Every visible input appears in the accessibility tree with a name.
    const visibleInputs = await page.locator("input:not([type=hidden])").count();
    const tree = await page.locator("form").ariaSnapshot();
    expect(tree.match(/- textbox "[^"]+"/g) ?? []).toHaveLength(visibleInputs);
    expect(tree).not.toMatch(/- (textbox|button)(?! ")/);

    // The first Tab lands on the name field, and the focus ring is drawn.
    await page.keyboard.press("Tab");
    const focus = await page.evaluate<{ id: string; outline: string }>(
      "({ id: document.activeElement.id, outline: getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth })",
    );
    expect(focus).toEqual({ id: "by", outline: "solid 3px" });
  });

  it("shows hostile label values as text without running them", async () => {
    await page.goto(link());
    await expect.poll(() => page.getByText(HOSTILE).count()).toBe(1);
    expect(await page.evaluate<unknown>("window.__pwned")).toBeUndefined();
    expect(await page.locator("main img, main script").count()).toBe(0);
  });

  it("lets the CSP block inline script that got past the escaping", async () => {
    // Records violations from outside the page's own script context (init scripts are not subject to the CSP).
    await page.addInitScript(
      "window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.effectiveDirective))",
    );
    await page.goto(`${base}/injected`);
    await expect.poll(() => page.evaluate<string[]>("window.__violations")).toEqual(expect.arrayContaining(["script-src-elem", "script-src-attr"]));
    expect(await page.evaluate<unknown>("[window.__pwned, window.__pwnedInline]")).toEqual([undefined, undefined]);

    // Control: without the headers the same markup does run, so the check above can fail.
    const control = await context.newPage();
    await control.goto(`${base}/injected-no-csp`);
    await expect.poll(() => control.evaluate<unknown>("[window.__pwned, window.__pwnedInline]")).toEqual(["attr", "inline"]);
  });

  it("fits a 360 px wide screen without horizontal scrolling", async () => {
    await page.goto(link());
    const widths = await page.evaluate<{ scroll: number; client: number }>(
      "({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })",
    );
    expect(widths.client).toBe(360);
    expect(widths.scroll).toBeLessThanOrEqual(360);
    // The long label is on the page, wrapped rather than cut.
    expect(await page.getByText(LONG, { exact: false }).count()).toBe(1);
  });

  it("shows the error page for a forged link", async () => {
    const forged = link().replace(/s=./, (m) => (m.endsWith("A") ? "s=B" : "s=A"));
    const response = await page.goto(forged);
    expect(response?.status()).toBe(403);
    expect(await page.getByRole("heading", { name: "This link is not valid" }).count()).toBe(1);
    expect(await page.locator("form").count()).toBe(0);
  });
});

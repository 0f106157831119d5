// The console in a real browser (Debian's Chromium): logging in, the views an SRE uses
// when an alert did not arrive, and the accessibility basics (labels, focus, contrast).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findChromium, launchBrowser } from "../support/browser.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

const TOKEN = "console-browser-token-0123456789";
const VIEWS = ["/ui", "/ui/messages", "/ui/dead-letters", "/ui/routes", "/ui/templates", "/ui/silences"];

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = color.match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number).map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe.skipIf(!findChromium())("the web console in Chromium", () => {
  let browser: Browser;
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let page: Page;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 1000, perMs: 1000 } });
    relay = await startRelay(`
wecom: { api_base: "${wecom.url}", timeout: 2s }
delivery: { retry_initial: 50ms, retry_max: 200ms }
auth:
  api: { bearer_token: ${TOKEN} }
targets:
  ops-robot: { type: robot, webhook: "${wecom.robotWebhook("k1")}", rate_limit: { max: 100, per: 1s } }
receivers:
  - name: ops
    targets: [ops-robot]
route:
  receiver: ops
`);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  });
  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await wecom?.close();
  });

  /** Every visible form control has a label a screen reader announces. */
  async function expectLabelled(): Promise<void> {
    // Evaluated in the page (DOM types are not part of this Node project).
    const unlabelled = await page.evaluate<string[]>(
      `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
        .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label"))
        .map((el) => el.outerHTML)`,
    );
    expect(unlabelled).toEqual([]);
  }

  it("shows nothing without credentials: every view leads to the login", async () => {
    const anonymous = await browser.newPage();
    try {
      for (const view of VIEWS) {
        await anonymous.goto(relay.url + view);
        expect(new URL(anonymous.url()).pathname, view).toBe("/ui/login");
        expect(await anonymous.textContent("body"), view).not.toContain("ops-robot");
      }
    } finally {
      await anonymous.close();
    }
  });

  it("logs in and shows the target with its queue depth", async () => {
    wecom.failNext(1, "hang");
    expect((await relay.post("/api/v1/messages", { receiver: "ops", text: "browser queued" }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    await page.goto(`${relay.url}/ui`);
    await expectLabelled();
    await page.getByLabel("API token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${relay.url}/ui`);
    const row = page.getByRole("row", { name: /ops-robot/ });
    expect(await row.getByRole("cell").nth(2).textContent()).toMatch(/^1/);
    await expectLabelled();
  });

  it("finds a message by alert name and opens its rendered text", async () => {
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "BrowserDiskFull" }]))).status).toBe(200);
    await until(() => wecom.robotMessages("k1").some((m) => m.content.includes("BrowserDiskFull")), "the alert delivered", 10_000);
    await page.getByRole("link", { name: "Messages" }).click();
    await page.getByLabel("Alert name").fill("BrowserDisk");
    await page.getByRole("button", { name: "Search" }).click();
    const rows = page.getByRole("row", { name: /BrowserDiskFull/ });
    expect(await rows.count()).toBe(1);
    await rows.getByRole("link").click();
    expect(await page.locator("pre").first().textContent()).toContain("BrowserDiskFull");
    expect(await page.textContent("main")).toMatch(/\d+ of 4096 bytes/);
    await expectLabelled();
  });

  it("retries a dead letter and sees it sent", async () => {
    wecom.failNext(1, { errcode: 93000, errmsg: "invalid webhook url" }, "robot");
    expect((await relay.post("/api/v1/messages", { receiver: "ops", text: "browser dead letter" }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    await until(async () => (await relay.service.store.listDead(10, "ops-robot")).length === 1, "the dead letter", 10_000);
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.getByRole("button", { name: /^Retry browser dead letter/ }).click();
    await until(() => wecom.robotMessages("k1").some((m) => m.content.includes("browser dead letter")), "the retried message delivered", 10_000);
    await page.getByRole("link", { name: "Messages" }).click();
    await page.getByLabel("State").selectOption("sent");
    await page.getByRole("button", { name: "Search" }).click();
    expect(await page.getByRole("row", { name: /browser dead letter/ }).textContent()).toContain("sent");
  });

  it("runs a route test", async () => {
    await page.getByRole("link", { name: "Routes" }).click();
    await page.getByLabel("Labels, one name=value per line").fill("source=alertmanager\nseverity=critical");
    await page.getByRole("button", { name: "Test routes" }).click();
    expect(await page.getByRole("row", { name: /ops-robot/ }).textContent()).toContain("alertmanager");
    await expectLabelled();
  });

  it("previews a template with byte counts", async () => {
    await page.getByRole("link", { name: "Templates" }).click();
    await expectLabelled();
    await page.getByLabel("Example payload").selectOption("alertmanager-resolved.json");
    await page.getByLabel("Format").selectOption("text");
    await page.getByRole("button", { name: "Render" }).click();
    expect(await page.textContent("main")).toMatch(/\d+ of 2048 bytes/);
    expect(await page.locator("pre").first().textContent()).toContain("RESOLVED");
  });

  it("meets the accessibility basics: visible focus and readable contrast", async () => {
    await page.goto(`${relay.url}/ui/messages`);
    await page.keyboard.press("Tab");
    const focus = await page.evaluate<{ tag: string; outline: string; width: number }>(
      `(() => { const el = document.activeElement; const style = getComputedStyle(el);
        return { tag: el.tagName, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) }; })()`,
    );
    expect(focus.tag).toBe("A");
    expect(focus.outline).not.toBe("none");
    expect(focus.width).toBeGreaterThanOrEqual(2);
    const colours = await page.evaluate<Record<string, { fg: string; bg: string }>>(
      `(() => { const of = (selector) => { const el = document.querySelector(selector); return { fg: getComputedStyle(el).color, bg: getComputedStyle(el).backgroundColor }; };
        const nav = getComputedStyle(document.querySelector("nav")).backgroundColor;
        return { body: of("body"), navLink: { fg: getComputedStyle(document.querySelector("nav a")).color, bg: nav }, button: of("main button") }; })()`,
    );
    for (const [what, pair] of Object.entries(colours)) expect(contrast(pair.fg, pair.bg), what).toBeGreaterThanOrEqual(4.5);
    // Readable on a phone: nothing wider than the screen but the tables, which scroll.
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
  });
});

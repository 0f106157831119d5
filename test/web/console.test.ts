// The web console's views and its door, over HTTP against the real relay: what a viewer
// without credentials gets (nothing), logging in, and each view's answers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

const TOKEN = "console-api-token-0123456789";
const VIEWS = ["/ui", "/ui/messages", "/ui/messages/some-id", "/ui/dead-letters", "/ui/routes", "/ui/templates", "/ui/silences"];

describe("the web console", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let cookie: string;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 1000, perMs: 1000 } });
    relay = await startRelay(`
wecom: { api_base: "${wecom.url}", timeout: 2s }
delivery: { retry_initial: 50ms, retry_max: 200ms }
auth:
  api: { bearer_token: ${TOKEN} }
console: { grafana_url: "https://grafana.example.com/" }
targets:
  ops-robot: { type: robot, webhook: "${wecom.robotWebhook("k1")}", rate_limit: { max: 100, per: 1s } }
  db-robot: { type: robot, webhook: "${wecom.robotWebhook("k2")}", rate_limit: { max: 100, per: 1s } }
receivers:
  - name: ops
    targets: [ops-robot]
  - name: db
    targets: [db-robot]
route:
  receiver: ops
  routes:
    - receiver: db
      matchers: ['team="db"']
`);
  });
  afterAll(async () => {
    await relay?.close();
    await wecom?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(relay.url + path, { redirect: "manual", headers: { ...(cookie && { cookie }), ...headers } });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(relay.url + path, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie && { cookie }), ...headers }, body: new URLSearchParams(fields).toString() });
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;

  it("sends every view to the login without credentials, and shows no data", async () => {
    for (const view of VIEWS) {
      const res = await fetch(relay.url + view, { redirect: "manual" });
      expect(res.status, view).toBe(303);
      expect(res.headers.get("location"), view).toBe(`/ui/login?${new URLSearchParams({ next: view })}`);
      expect(await res.text(), view).not.toContain("ops-robot");
    }
    const retry = await fetch(`${relay.url}/ui/dead-letters/retry`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "target=ops-robot" });
    expect(retry.status).toBe(401);
    // A forged session cookie is no session.
    const forged = await fetch(`${relay.url}/ui`, { redirect: "manual", headers: { cookie: `wr_console=${Date.now() + 3_600_000}.abc.${"A".repeat(43)}` } });
    expect(forged.status).toBe(303);
    expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "ui", reason: "unauthorized" })).toBeGreaterThanOrEqual(VIEWS.length + 2);
  });

  it("refuses wrong credentials at the login and trades the right ones for an HttpOnly, SameSite session", async () => {
    const page = await (await fetch(`${relay.url}/ui/login?next=/ui/routes`)).text();
    expect(page).toContain('<label for="token">API token</label>');
    const wrong = await post("/ui/login", { token: "not-the-token", next: "/ui/routes" });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(TOKEN);
    const right = await post("/ui/login", { token: TOKEN, next: "/ui/routes" });
    expect(right.status).toBe(303);
    expect(right.headers.get("location")).toBe("/ui/routes");
    const setCookie = right.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^wr_console=\d+\.[\w-]+\.[\w-]{43}; Path=\/ui; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(setCookie).not.toContain(TOKEN);
    cookie = setCookie.split(";")[0]!;
    expect((await get("/ui")).status).toBe(200);
    // The login never redirects away from the console.
    const away = await post("/ui/login", { token: TOKEN, next: "//evil.example.com/ui" });
    expect(away.headers.get("location")).toBe("/ui");
  });

  it("serves a request carrying the API credentials without a session", async () => {
    const res = await fetch(`${relay.url}/ui`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("shows each target with its queue depth, pace and last send, and links to its Grafana panel", async () => {
    wecom.failNext(1, "hang");
    expect((await relay.post("/api/v1/messages", { receiver: "ops", text: "console depth check" }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    // WeCom hangs on the first send: the message waits in the queue meanwhile.
    await until(async () => /ops-robot<\/a><\/td><td>robot<\/td><td><span data-depth="1">/.test(await (await get("/ui")).text()), "a queue depth of 1");
    const html = await (await get("/ui")).text();
    expect(html).toContain("100 per 1s");
    expect(html).toMatch(/href="https:\/\/grafana\.example\.com\/d\/wecom-relay\/wecom-relay\?viewPanel=\d+&amp;var-target=ops-robot"/);
    await until(() => wecom.robotMessages("k1").some((m) => m.content.includes("console depth check")), "the message delivered", 10_000);
    await until(async () => /ops-robot[\s\S]*?\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/.test(await (await get("/ui")).text()), "the last send shown");
  });

  it("finds messages by alert name, label, source and state, newest first, with their rendered text", async () => {
    const payload = (name: string, team: string) => alertmanagerPayload([{ name, labels: { team } }], { commonLabels: { alertname: name, team } });
    for (const [name, team] of [["ConsoleDisk", "db"], ["ConsoleCpu", "web"], ["ConsoleDisk2", "db"]] as const) {
      expect((await relay.post("/webhook/alertmanager", payload(name, team))).status).toBe(200);
    }
    const byName = await (await get("/ui/messages?alert=consoledisk")).text();
    // Newest first.
    expect([...byName.matchAll(/\] (ConsoleDisk2?) ·/g)].map((m) => m[1])).toEqual(["ConsoleDisk2", "ConsoleDisk"]);
    expect(byName).not.toContain("ConsoleCpu");
    const byLabel = await (await get(`/ui/messages?${new URLSearchParams({ label: "team=web" })}`)).text();
    expect(byLabel).toContain("ConsoleCpu");
    expect(byLabel).not.toContain("ConsoleDisk");
    expect(byName).toMatch(/href="https:\/\/grafana\.example\.com\/d\/wecom-relay\/wecom-relay\?viewPanel=\d+"[^>]*>Messages delivered in Grafana/);
    const bySource = await (await get("/ui/messages?source=github")).text();
    expect(bySource).toContain("No messages found");

    const link = /href="\/ui\/messages\/([\w-]+)"/.exec(byLabel)![1]!;
    const detail = await (await get(`/ui/messages/${link}`)).text();
    expect(detail).toContain("ConsoleCpu");
    expect(detail).toMatch(/\d+ of 4096 bytes/);
    expect(detail).toContain('team="web"');
    expect((await get("/ui/messages/no-such-id")).status).toBe(404);
  });

  it("lists a dead letter, refuses a retry without the form token, and retries it with one", async () => {
    wecom.failNext(1, { errcode: 93000, errmsg: "invalid webhook url" }, "robot");
    expect((await relay.post("/api/v1/messages", { receiver: "db", text: "console dead letter" }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    await until(async () => (await (await get("/ui/dead-letters")).text()).includes("console dead letter"), "the dead letter listed", 10_000);
    const html = await (await get("/ui/dead-letters")).text();
    expect(html).toContain("errcode 93000");
    const id = /action="\/ui\/messages\/([\w-]+)\/retry"/.exec(html)![1]!;
    expect((await post(`/ui/messages/${id}/retry`, { csrf: "forged" })).status).toBe(403);
    expect((await post(`/ui/messages/${id}/retry`, { csrf: csrfOf(html) })).status).toBe(303);
    await until(() => wecom.robotMessages("k2").some((m) => m.content.includes("console dead letter")), "the retried message delivered", 10_000);
    const after = await (await get(`/ui/messages?state=sent&target=db-robot`)).text();
    expect(after).toContain("console dead letter");
  });

  it("retries every dead letter of a target at once", async () => {
    wecom.failNext(2, { errcode: 93000, errmsg: "invalid webhook url" }, "robot");
    for (const text of ["all one", "all two"]) expect((await relay.post("/api/v1/messages", { receiver: "db", text }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    await until(async () => (await relay.service.store.listDead(10, "db-robot")).length === 2, "two dead letters");
    const html = await (await get("/ui/dead-letters")).text();
    expect(html).toContain("Retry all of db-robot");
    expect((await post("/ui/dead-letters/retry", { csrf: csrfOf(html), target: "db-robot" })).status).toBe(303);
    await until(() => ["all one", "all two"].every((text) => wecom.robotMessages("k2").some((m) => m.content.includes(text))), "both delivered", 10_000);
  });

  it("shows the way through the routing tree for a label set, as routes test does", async () => {
    const html = await (await get(`/ui/routes?${new URLSearchParams({ labels: "source=alertmanager\nteam=db" })}`)).text();
    expect(html).toContain("✓ <code>route</code>");
    expect(html).toContain("✓ <code>route.routes[0]</code>");
    expect(html).toMatch(/<td>db<\/td><td>db-robot<\/td><td>alertmanager<\/td><td>markdown<\/td>/);
    const other = await (await get(`/ui/routes?${new URLSearchParams({ labels: "team=web" })}`)).text();
    expect(other).toContain("✗ <code>route.routes[0]</code>");
    expect(other).toMatch(/<td>ops<\/td><td>ops-robot<\/td>/);
    expect(await (await get(`/ui/routes?${new URLSearchParams({ labels: "no equals sign" })}`)).text()).toContain("expected name=value, got &quot;no equals sign&quot;");
  });

  it("renders an example payload with each part's byte count against the target's limit", async () => {
    const page = await (await get("/ui/templates")).text();
    expect(page).toContain("alertmanager-firing.json");
    const html = await (await post("/ui/templates", { source: "alertmanager", example: "alertmanager-firing.json", payload: "", event: "", template: "", format: "text" })).text();
    expect(html).toMatch(/data-bytes="(\d+)">\1 of 2048 bytes/);
    expect(html).toContain("DiskFull");
    const pasted = await (await post("/ui/templates", { source: "alertmanager", example: "", payload: "{not json", event: "", template: "", format: "" })).text();
    expect(pasted).toContain('role="alert"');
    const github = await (await post("/ui/templates", { source: "github", example: "github-push.json", payload: "", event: "", template: "", format: "" })).text();
    expect(github).toMatch(/of 4096 bytes/);
  });

  it("lists silences made through the relay, with who and until when", async () => {
    const now = Date.now();
    await relay.service.store.actions.begin({ id: "a-console-1", group: "gConsole", action: "silence", via: "link", by: "wangwu", at: now });
    await relay.service.store.actions.finish("a-console-1", { result: "ok", silenceId: "5d1c2e5a-0000-4000-8000-000000000001", until: now + 3_600_000 });
    const html = await (await get("/ui/silences")).text();
    expect(html).toContain("wangwu");
    expect(html).toContain("in force");
    expect(html).toContain("5d1c2e5a-0000-4000-8000-000000000001");
  });

  it("logs out with the form token, and the session ends", async () => {
    const html = await (await get("/ui")).text();
    expect((await post("/ui/logout", { csrf: "forged" })).status).toBe(403);
    const out = await post("/ui/logout", { csrf: csrfOf(html) });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
  });
});

import { createServer as createHttpServer, type Server } from "node:http";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alertmanagerSilences, grafanaSilences, type NewSilence, type SilencesApi } from "../../src/actions/silences.js";
import { alertmanagerBinary, freePort, startAlertmanager, type RunningAlertmanager } from "../support/alertmanager.js";
import { until } from "../support/wait.js";

function newSilence(overrides: Partial<NewSilence> = {}): NewSilence {
  const startsAt = new Date();
  return {
    matchers: [
      { name: "alertname", value: "DiskFull", isRegex: false, isEqual: true },
      { name: "instance", value: "db1:9100", isRegex: false, isEqual: true },
    ],
    startsAt,
    endsAt: new Date(startsAt.getTime() + 60 * 60_000),
    createdBy: "alice",
    comment: "disk swap in progress",
    ...overrides,
  };
}

// The real thing, behind a route prefix: what it stores, what it suppresses, what it
// answers to expiries.
describe.skipIf(!alertmanagerBinary)("silences on a real Alertmanager", () => {
  let alertmanager: RunningAlertmanager;
  let root: string;
  let api: SilencesApi;

  beforeAll(async () => {
    alertmanager = await startAlertmanager(`route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n`, { routePrefix: "/am/" });
    root = alertmanager.url;
    api = alertmanagerSilences({ url: `${root}/`, timeout: 5000 });
  });

  afterAll(async () => {
    await alertmanager?.stop();
  });

  async function getJson<T>(path: string): Promise<T> {
    const res = await fetch(`${root}/api/v2${path}`);
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  }

  interface StoredSilence {
    id: string;
    status: { state: string };
    matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
    createdBy: string;
    comment: string;
    startsAt: string;
    endsAt: string;
  }

  async function createOk(silence: NewSilence): Promise<string> {
    const result = await api.create(silence);
    if (!result.ok) throw new Error(`create failed: ${result.error}`);
    return result.id;
  }

  it("creates a silence that Alertmanager stores as sent, active", async () => {
    const silence = newSilence();
    const result = await api.create(silence);

    expect(result).toEqual({ ok: true, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const stored = await getJson<StoredSilence>(`/silence/${(result as { id: string }).id}`);
    expect(stored.id).toBe((result as { id: string }).id);
    expect(stored.matchers).toEqual(expect.arrayContaining(silence.matchers));
    expect(stored.matchers).toHaveLength(2);
    expect(stored.createdBy).toBe("alice");
    expect(stored.comment).toBe("disk swap in progress");
    expect(Math.abs(Date.parse(stored.startsAt) - silence.startsAt.getTime())).toBeLessThanOrEqual(1000);
    expect(Math.abs(Date.parse(stored.endsAt) - silence.endsAt.getTime())).toBeLessThanOrEqual(1000);
    expect(stored.status.state).toBe("active");
  });

  it("suppresses an alert with the silenced labels", async () => {
    const labels = { alertname: "SilencedByRelay", instance: "web7:9100", severity: "critical" };
    const id = await createOk(
      newSilence({
        matchers: [
          { name: "alertname", value: labels.alertname, isRegex: false, isEqual: true },
          { name: "instance", value: labels.instance, isRegex: false, isEqual: true },
        ],
      }),
    );
    const posted = await fetch(`${root}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ labels, annotations: { summary: "web7 is down" }, startsAt: new Date().toISOString() }]),
    });
    expect(posted.status).toBe(200);

    type ApiAlert = { labels: Record<string, string>; status: { state: string; silencedBy: string[] } };
    let alert: ApiAlert | undefined;
    await until(
      () => alert?.status.state === "suppressed",
      () => `alert state is ${JSON.stringify(alert?.status)}`,
      5000,
      async () => {
        const alerts = await getJson<ApiAlert[]>("/alerts");
        alert = alerts.find((a) => a.labels.alertname === labels.alertname);
      },
    );
    expect(alert!.status.silencedBy).toContain(id);
  });

  it("expires a silence, and expiring it again is still ok", async () => {
    const id = await createOk(newSilence({ comment: "to be expired" }));

    expect(await api.expire(id)).toEqual({ ok: true });
    let state = "";
    await until(
      () => state === "expired",
      () => `silence state is ${state}`,
      5000,
      async () => {
        state = (await getJson<StoredSilence>(`/silence/${id}`)).status.state;
      },
    );
    // Alertmanager 0.25 answers 200 to the second DELETE; older ones 500 "already expired".
    expect(await api.expire(id)).toEqual({ ok: true });
    expect((await getJson<StoredSilence>(`/silence/${id}`)).status.state).toBe("expired");
  });

  it("reports an unknown silence id as no such silence", async () => {
    const result = await api.expire("0b6a5e0c-2d4f-4e8a-9c1b-7f3e2d1a0b9c");

    // Alertmanager 0.25 answers 500 "silence not found"; later versions 404.
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^no such silence 0b6a5e0c-2d4f-4e8a-9c1b-7f3e2d1a0b9c/) });
    expect([404, 500]).toContain((result as { status?: number }).status);
  });

  it("returns Alertmanager's reason for a silence it rejects", async () => {
    const result = await api.create(newSilence({ matchers: [{ name: "job", value: "(", isRegex: true, isEqual: true }] }));

    expect(result).toMatchObject({ ok: false, status: 400, error: expect.stringContaining("HTTP 400: silence invalid: invalid label matcher 0") });
  });
});

// Single exchanges, stated with nock: what is sent, and what each answer becomes.
describe("silences API: one exchange", () => {
  const AM = "http://alertmanager.test";
  const ID = "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c";
  const TOKEN = "am-bearer-token-0123456789";
  const am = (extra: Partial<Parameters<typeof alertmanagerSilences>[0]> = {}) =>
    alertmanagerSilences({ url: AM, timeout: 2000, ...extra });

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });

  it("sends the silence as API v2 JSON with the bearer token", async () => {
    const silence = newSilence();
    const scope = nock(AM)
      .post("/api/v2/silences", {
        matchers: silence.matchers.map((matcher) => ({ ...matcher })),
        startsAt: silence.startsAt.toISOString(),
        endsAt: silence.endsAt.toISOString(),
        createdBy: "alice",
        comment: "disk swap in progress",
      })
      .matchHeader("authorization", `Bearer ${TOKEN}`)
      .matchHeader("content-type", /^application\/json/)
      .reply(200, { silenceID: ID });

    const api = am({ bearer_token: TOKEN });

    expect(api.kind).toBe("alertmanager");
    expect(await api.create(silence)).toEqual({ ok: true, id: ID });
    expect(scope.isDone()).toBe(true);
  });

  it("sends basic auth from the config", async () => {
    const basic = `Basic ${Buffer.from("relay:pa55word").toString("base64")}`;
    const scope = nock(AM)
      .post("/api/v2/silences")
      .matchHeader("authorization", basic)
      .reply(200, { silenceID: ID })
      .delete(`/api/v2/silence/${ID}`)
      .matchHeader("authorization", basic)
      .reply(200);

    const api = am({ basic_auth: { username: "relay", password: "pa55word" } });

    expect(await api.create(newSilence())).toEqual({ ok: true, id: ID });
    expect(await api.expire(ID)).toEqual({ ok: true });
    expect(scope.isDone()).toBe(true);
  });

  it("turns URL userinfo into basic auth", async () => {
    const scope = nock(AM)
      .post("/api/v2/silences")
      .matchHeader("authorization", `Basic ${Buffer.from("relay:url-secret-pass").toString("base64")}`)
      .reply(200, { silenceID: ID });

    expect(await am({ url: "http://relay:url-secret-pass@alertmanager.test" }).create(newSilence())).toEqual({ ok: true, id: ID });
    expect(scope.isDone()).toBe(true);
  });

  it("keeps a route prefix and ignores a trailing slash", async () => {
    const scope = nock(AM).post("/am/api/v2/silences").reply(200, { silenceID: ID }).delete(`/am/api/v2/silence/${ID}`).reply(200);

    const api = am({ url: `${AM}/am//` });

    expect(await api.create(newSilence())).toEqual({ ok: true, id: ID });
    expect(await api.expire(ID)).toEqual({ ok: true });
    expect(scope.isDone()).toBe(true);
  });

  it("uses Grafana's Alertmanager path and its token", async () => {
    const GRAFANA = "https://grafana.test";
    const token = "glsa_0123456789abcdef0123456789abcdef_0a1b2c3d";
    const scope = nock(GRAFANA)
      .post("/api/alertmanager/grafana/api/v2/silences")
      .matchHeader("authorization", `Bearer ${token}`)
      .reply(202, { silenceID: ID })
      .delete(`/api/alertmanager/grafana/api/v2/silence/${ID}`)
      .matchHeader("authorization", `Bearer ${token}`)
      .reply(200, { message: "silence deleted" });

    const api = grafanaSilences({ url: `${GRAFANA}/`, token, timeout: 2000 });

    expect(api.kind).toBe("grafana");
    expect(await api.create(newSilence())).toEqual({ ok: true, id: ID });
    expect(await api.expire(ID)).toEqual({ ok: true });
    expect(scope.isDone()).toBe(true);
  });

  it("returns Alertmanager's error text with the status", async () => {
    nock(AM)
      .post("/api/v2/silences")
      .reply(400, JSON.stringify("silence invalid: invalid label matcher 0: invalid regular expression \"(\""), {
        "content-type": "application/json",
      });

    expect(await am().create(newSilence())).toEqual({
      ok: false,
      status: 400,
      error: 'creating the silence failed: HTTP 400: silence invalid: invalid label matcher 0: invalid regular expression "("',
    });
  });

  it("cuts a long, multi-line error answer to one short line", async () => {
    nock(AM).post("/api/v2/silences").reply(502, `<html>\n<body>Bad Gateway</body>\n${"x".repeat(5000)}</html>`);

    const result = await am().create(newSilence());

    expect(result).toMatchObject({ ok: false, status: 502, error: expect.stringContaining("HTTP 502: <html> <body>Bad Gateway</body> xxx") });
    const { error } = result as { error: string };
    expect(error).not.toMatch(/[\r\n]/);
    expect(error.length).toBeLessThan(300);
    expect(error.endsWith("…")).toBe(true);
  });

  it("never repeats the bearer token an answer echoes", async () => {
    nock(AM)
      .post("/api/v2/silences")
      .reply(401, JSON.stringify({ code: 401, message: `token ${TOKEN} rejected (header: Authorization: Bearer ${TOKEN})` }));

    const result = await am({ bearer_token: TOKEN }).create(newSilence());

    expect(result).toMatchObject({ ok: false, status: 401, error: expect.stringContaining("HTTP 401: token [REDACTED] rejected") });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it("never repeats a basic-auth password or URL userinfo an answer echoes, in any spelling", async () => {
    const password = "s3cret/pa ss";
    nock(AM)
      .post("/api/v2/silences")
      .reply(403, `denied: password=${encodeURIComponent(password)} or ${password}`)
      .post("/api/v2/silences")
      .reply(403, "denied for relay with url-secret-pass");

    const fromConfig = await am({ basic_auth: { username: "relay", password } }).create(newSilence());
    const fromUrl = await am({ url: "http://relay:url-secret-pass@alertmanager.test/" }).create(newSilence());

    expect(fromConfig).toMatchObject({ ok: false, status: 403, error: expect.stringContaining("denied: password=[REDACTED] or [REDACTED]") });
    expect(JSON.stringify(fromConfig)).not.toContain("s3cret");
    expect(fromUrl).toMatchObject({ ok: false, status: 403, error: expect.stringContaining("denied for [REDACTED] with [REDACTED]") });
    expect(JSON.stringify(fromUrl)).not.toContain("url-secret-pass");
  });

  it.each([
    { answer: {}, what: "no silenceID" },
    { answer: { silenceID: "../../api/v1/status" }, what: "a silenceID that is not a plain id" },
    { answer: "created", what: "no JSON" },
  ])("refuses a 2xx answer with $what", async ({ answer }) => {
    nock(AM).post("/api/v2/silences").reply(200, answer);

    expect(await am().create(newSilence())).toEqual({
      ok: false,
      status: 200,
      error: "HTTP 200 answer from alertmanager.test carries no valid silenceID",
    });
  });

  it("reports a redirect instead of following it with the credentials", async () => {
    nock(AM).post("/api/v2/silences").reply(302, "", { location: "http://login.test/" });

    expect(await am({ bearer_token: TOKEN }).create(newSilence())).toMatchObject({ ok: false, status: 302 });
  });

  it("reports 404 on expiry as no such silence", async () => {
    nock(AM).delete(`/api/v2/silence/${ID}`).reply(404, JSON.stringify("silence not found"));

    expect(await am().expire(ID)).toEqual({ ok: false, status: 404, error: `no such silence ${ID} (HTTP 404: silence not found)` });
  });

  it("takes an older Alertmanager's 'already expired' refusal as done", async () => {
    nock(AM).delete(`/api/v2/silence/${ID}`).reply(500, JSON.stringify(`silence ${ID} already expired`));

    expect(await am().expire(ID)).toEqual({ ok: true });
  });

  it("reports any other expiry failure with its status", async () => {
    nock(AM).delete(`/api/v2/silence/${ID}`).reply(500, JSON.stringify("snapshot write failed"));

    expect(await am().expire(ID)).toEqual({ ok: false, status: 500, error: `expiring silence ${ID} failed: HTTP 500: snapshot write failed` });
  });

  it.each<{ what: string; change: Partial<NewSilence> }>([
    { what: "no matchers", change: { matchers: [] } },
    { what: "a matcher without a name", change: { matchers: [{ name: " ", value: "x", isRegex: false, isEqual: true }] } },
    { what: "endsAt equal to startsAt", change: { startsAt: new Date(1e12), endsAt: new Date(1e12) } },
    { what: "endsAt before startsAt", change: { startsAt: new Date(2e12), endsAt: new Date(1e12) } },
    { what: "an invalid date", change: { endsAt: new Date("soon") } },
    { what: "an empty createdBy", change: { createdBy: "" } },
  ])("sends nothing for a silence with $what", async ({ change }) => {
    const scope = nock(AM).post("/api/v2/silences").reply(200, { silenceID: ID });

    const result = await am().create(newSilence(change));

    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid silence: /) });
    expect(scope.isDone()).toBe(false);
  });

  it.each(["../silences", `${ID}/../../status`, "a%2F..%2Fb", `${ID}?x=1`, "", "x".repeat(200)])(
    "refuses to expire the id %j without a request",
    async (id) => {
      const scope = nock(AM)
        .delete(() => true)
        .reply(200);

      expect(await am().expire(id)).toEqual({ ok: false, error: "invalid silence id: expected letters, digits and dashes" });
      expect(scope.isDone()).toBe(false);
    },
  );

  it.each([
    { url: "alertmanager:9093", error: "the API URL must be http or https" },
    { url: "not a url", error: "the API URL is not a valid URL" },
  ])("fails each call, without throwing, for the URL $url", async ({ url, error }) => {
    const api = am({ url });

    expect(await api.create(newSilence())).toEqual({ ok: false, error });
    expect(await api.expire(ID)).toEqual({ ok: false, error });
  });
});

// Transport failures against local sockets: a closed port and a server that never answers.
describe("silences API: transport failures", () => {
  let silent: Server | undefined;

  afterEach(async () => {
    if (silent) {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent!.close(() => resolve()));
      silent = undefined;
    }
  });

  it("reports a refused connection", async () => {
    const port = await freePort();
    const api = alertmanagerSilences({ url: `http://127.0.0.1:${port}/`, bearer_token: "refused-token-0123456789", timeout: 2000 });

    expect(await api.create(newSilence())).toEqual({ ok: false, error: `cannot reach 127.0.0.1:${port}: ECONNREFUSED` });
    expect(await api.expire("3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c")).toEqual({ ok: false, error: `cannot reach 127.0.0.1:${port}: ECONNREFUSED` });
  });

  it("gives up on a server that never answers after the timeout", async () => {
    let requests = 0;
    silent = createHttpServer(() => {
      requests += 1; // and never answers
    });
    await new Promise<void>((resolve) => silent!.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const api = alertmanagerSilences({ url: `http://127.0.0.1:${port}`, timeout: 100 });

    const started = Date.now();
    const result = await api.create(newSilence());

    expect(result).toEqual({ ok: false, error: `127.0.0.1:${port} did not answer within 100 ms` });
    expect(requests).toBe(1);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

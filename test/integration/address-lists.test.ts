import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { metricValue, robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

const API_TOKEN = "api-token-0123456789";

/** The relay's config with `server` and `auth` sections put in front of its targets. */
function configWith(wecomUrl: string, sections: string): string {
  return robotConfig(wecomUrl).replace("targets:", `${sections}\ntargets:`);
}

/** Read in-process: a scrape over HTTP may be refused by the lists under test. */
const rejected = async (relay: RunningRelay, labels: Record<string, string>) => metricValue(await relay.service.scrape(), "wecom_relay_requests_rejected_total", labels);

let seq = 0;
/** A new notification each time (the same one would be answered as a duplicate). */
const alert = () => alertmanagerPayload([{ name: `Addr${(seq += 1)}` }]);

async function postFrom(baseUrl: string, path: string, headers: Record<string, string> = {}, body: unknown = alert()): Promise<Response> {
  return fetch(baseUrl + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

describe("address lists", () => {
  let wecom: FakeWeCom;
  beforeAll(async () => {
    wecom = await startFakeWeCom();
  });
  afterAll(async () => {
    await wecom.close();
  });

  async function withRelay(sections: string, run: (relay: RunningRelay, v6Url: string) => Promise<void>): Promise<void> {
    // Listening on "::": IPv4 clients arrive as IPv4-mapped addresses (::ffff:127.0.0.1).
    const relay = await startRelay(configWith(wecom.url, sections), { host: "::" });
    try {
      await run(relay, relay.url.replace("127.0.0.1", "[::1]"));
    } finally {
      await relay.close();
    }
  }

  it("server.allow lets in listed addresses only: IPv6 ::1 in, an IPv4 client (seen IPv4-mapped) refused with 403 naming its address", async () => {
    await withRelay("server: { allow: ['::1/128'] }", async (relay, v6) => {
      expect((await postFrom(v6, "/webhook/alertmanager")).status).toBe(200);
      const refused = await postFrom(relay.url, "/webhook/alertmanager");
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({ error: "client address not allowed", detail: { address: "::ffff:127.0.0.1" } });
      expect(await rejected(relay, { source: "alertmanager", reason: "address_not_allowed" })).toBe(1);
      // Every endpoint, not only the webhooks.
      expect((await fetch(`${relay.url}/-/healthy`)).status).toBe(403);
      expect((await fetch(`${v6}/-/healthy`)).status).toBe(200);
    });
  });

  it("server.allow with an IPv4 CIDR covers IPv4 clients that a dual-stack socket shows IPv4-mapped", async () => {
    await withRelay("server: { allow: [127.0.0.0/8] }", async (relay, v6) => {
      expect((await postFrom(relay.url, "/webhook/alertmanager")).status).toBe(200);
      expect((await postFrom(v6, "/webhook/alertmanager")).status).toBe(403);
    });
  });

  it("server.deny refuses listed addresses (an IPv4 CIDR against the mapped form) and counts them under address_denied", async () => {
    await withRelay("server: { deny: [127.0.0.0/8] }", async (relay, v6) => {
      const denied = await postFrom(relay.url, "/webhook/alertmanager");
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: string }).error).toBe("client address denied");
      expect((await postFrom(v6, "/webhook/alertmanager")).status).toBe(200);
      expect(await rejected(relay, { source: "alertmanager", reason: "address_denied" })).toBe(1);
    });
  });

  it("per-source lists apply on top of the global ones, to their source only", async () => {
    const sections = `server: { allow: ['127.0.0.1', '::1'] }
auth:
  alertmanager: { allow: ['::1'] }
  api: { bearer_token: "${API_TOKEN}", deny: ['::1'] }`;
    await withRelay(sections, async (relay, v6) => {
      const api = { authorization: `Bearer ${API_TOKEN}` };
      const message = { receiver: "sre", text: "hello" };
      expect((await postFrom(v6, "/webhook/alertmanager")).status).toBe(200);
      expect((await postFrom(relay.url, "/webhook/alertmanager")).status).toBe(403);
      expect((await postFrom(relay.url, "/api/v1/messages", api, message)).status).toBe(202);
      expect((await postFrom(v6, "/api/v1/messages", api, message)).status).toBe(403);
      // Sources without lists follow the global ones only.
      expect((await postFrom(relay.url, "/webhook/grafana", {}, { not: "grafana" })).status).toBe(400);
      expect(await rejected(relay, { source: "api", reason: "address_denied" })).toBe(1);
    });
  });

  it("refuses before authenticating: a denied client learns nothing about its credentials", async () => {
    const sections = `auth:\n  api: { bearer_token: "${API_TOKEN}", allow: [192.0.2.0/24] }`;
    await withRelay(sections, async (relay) => {
      const res = await postFrom(relay.url, "/api/v1/messages", { authorization: "Bearer wrong" }, { receiver: "sre", text: "x" });
      expect(res.status).toBe(403);
    });
  });

  it("answers 403 before the body is read: headers alone get the answer, and the connection is closed", async () => {
    await withRelay("auth:\n  github: { allow: [192.0.2.0/24] }", async (relay) => {
      const { port } = new URL(relay.url);
      const answer = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        // Announces a megabyte and never sends a byte of it: only a refusal before reading can answer.
        const req = request({ host: "127.0.0.1", port, method: "POST", path: "/webhook/github", headers: { "content-type": "application/json", "content-length": "1000000" } });
        req.on("response", (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        });
        req.on("error", reject);
        req.flushHeaders();
      });
      expect(answer.status).toBe(403);
      expect(answer.connection).toBe("close");
      expect((JSON.parse(answer.body) as { error: string }).error).toBe("client address not allowed");
    });
  });

  describe("behind proxies", () => {
    const sections = (extra: string) => `server: { allow: [203.0.113.0/24, '2001:db8::/32']${extra} }`;

    it("with server.trust_proxy, checks the client the trusted proxy names in X-Forwarded-For (IPv4 and IPv6)", async () => {
      await withRelay(sections(", trust_proxy: [127.0.0.1]"), async (relay) => {
        expect((await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "203.0.113.7" })).status).toBe(200);
        expect((await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "2001:db8::7" })).status).toBe(200);
        const refused = await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "198.51.100.1" });
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as { detail: unknown }).detail).toEqual({ address: "198.51.100.1" });
      });
    });

    it("walks back through trusted proxies only: an address a client prepended to the header is not believed", async () => {
      await withRelay(sections(", trust_proxy: [127.0.0.1]"), async (relay) => {
        // The client at 10.0.0.5 sent "X-Forwarded-For: 203.0.113.7"; the trusted proxy appended 10.0.0.5.
        const res = await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "203.0.113.7, 10.0.0.5" });
        expect(res.status).toBe(403);
        expect(((await res.json()) as { detail: unknown }).detail).toEqual({ address: "10.0.0.5" });
      });
      await withRelay(sections(", trust_proxy: [127.0.0.1, 10.0.0.0/8]"), async (relay) => {
        // Now 10.0.0.5 is a trusted proxy too, so the address it was given counts.
        expect((await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "203.0.113.7, 10.0.0.5" })).status).toBe(200);
      });
    });

    it("ignores a spoofed X-Forwarded-For without a trusted proxy: the TCP peer is checked", async () => {
      await withRelay(sections(""), async (relay) => {
        const res = await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "203.0.113.7" });
        expect(res.status).toBe(403);
        expect(((await res.json()) as { detail: unknown }).detail).toEqual({ address: "::ffff:127.0.0.1" });
      });
      await withRelay("server: { deny: [127.0.0.0/8] }", async (relay) => {
        expect((await postFrom(relay.url, "/webhook/alertmanager", { "x-forwarded-for": "203.0.113.7" })).status).toBe(403);
      });
    });
  });

  it("refuses an empty allow list and entries that are not addresses, at their lines", async () => {
    const { parseConfig } = await import("../../src/config/load.js");
    const result = parseConfig(
      "server:\n  allow: []\n  deny: ['10.0.0.0/8', 'office']\nauth:\n  api: { allow: ['2001:db8::/129'] }\ntargets: { r: { type: log } }\nreceivers: [{ name: sre, targets: [r] }]\nroute: { receiver: sre }\n",
      "routes.yml",
      {},
    );
    expect("errors" in result && result.errors.map((e) => `${e.line}: ${e.path.join(".")}: ${e.message}`)).toEqual([
      "2: server.allow: must list at least one address or CIDR (leave allow out to let every address in)",
      "3: server.deny.1: must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8",
      "5: auth.api.allow.0: must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8",
    ]);
  });
});

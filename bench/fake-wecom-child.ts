// Child process: the fake WeCom from the test support, on 127.0.0.1, answering queries
// about what it received over IPC. argv[2] is JSON FakeWeComOptions (rate limit only).
import { startFakeWeCom, type RateWindow } from "../test/support/fake-wecom.js";

/** Parent -> child. `since` values are indexes into the fake's logs, for incremental reads. */
export type FakeQuery =
  | { id: number; type: "counts" }
  | { id: number; type: "log"; messagesSince: number; requestsSince: number };

export interface FakeCounts {
  id: number;
  messages: number;
  requests: number;
  /** Robot requests by errcode answered ("0" is success). */
  errcodes: Record<string, number>;
}

export interface FakeLog {
  id: number;
  messages: { receivedAt: number; content: string }[];
  requests: { receivedAt: number; errcode: number | undefined }[];
}

const options = JSON.parse(process.argv[2] ?? "{}") as { robotRateLimit?: RateWindow };
const wecom = await startFakeWeCom(options);

function errcodeOf(reply: ReturnType<typeof wecom.requests>[number]["reply"]): number | undefined {
  return typeof reply === "object" ? reply.errcode : undefined;
}

process.on("message", (query: FakeQuery) => {
  if (query.type === "counts") {
    const errcodes: Record<string, number> = {};
    for (const request of wecom.requests("robot")) {
      const code = String(errcodeOf(request.reply) ?? "none");
      errcodes[code] = (errcodes[code] ?? 0) + 1;
    }
    const counts: FakeCounts = { id: query.id, messages: wecom.robotMessages().length, requests: wecom.requests("robot").length, errcodes };
    process.send?.(counts);
  } else {
    const log: FakeLog = {
      id: query.id,
      messages: wecom
        .robotMessages()
        .slice(query.messagesSince)
        .map((m) => ({ receivedAt: m.receivedAt, content: m.content })),
      requests: wecom
        .requests("robot")
        .slice(query.requestsSince)
        .map((r) => ({ receivedAt: r.receivedAt, errcode: errcodeOf(r.reply) })),
    };
    process.send?.(log);
  }
});

const shutdown = () => {
  void wecom.close().then(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
// The parent went away: do not outlive it.
process.once("disconnect", shutdown);

process.send?.({ type: "ready", url: wecom.url });

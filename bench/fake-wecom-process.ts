// Parent side of the fake WeCom child: starts it and reads what it received.
import type { RateWindow } from "../test/support/fake-wecom.js";
import type { FakeCounts, FakeLog } from "./fake-wecom-child.js";
import { ipcCall, waitForMessage, type ChildSet, type ManagedChild } from "./processes.js";

export interface FakeWeComProcess {
  /** Base URL for the relay's wecom.api_base. */
  url: string;
  child: ManagedChild;
  counts(): Promise<Omit<FakeCounts, "id">>;
  /** Messages and robot requests recorded since the given log positions. */
  log(messagesSince: number, requestsSince: number): Promise<Omit<FakeLog, "id">>;
}

export async function startFakeWeComProcess(children: ChildSet, robotRateLimit: RateWindow): Promise<FakeWeComProcess> {
  const child = children.start("fake WeCom", new URL("./fake-wecom-child.js", import.meta.url), [JSON.stringify({ robotRateLimit })]);
  const url = await waitForMessage(
    child,
    (message) => {
      const m = message as { type?: unknown; url?: unknown };
      return m.type === "ready" && typeof m.url === "string" ? m.url : undefined;
    },
    10_000,
  );
  return {
    url,
    child,
    counts: () => ipcCall<FakeCounts>(child, { type: "counts" }),
    log: (messagesSince, requestsSince) => ipcCall<FakeLog>(child, { type: "log", messagesSince, requestsSince }),
  };
}

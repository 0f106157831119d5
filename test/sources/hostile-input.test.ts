// Random and malformed payloads: every source adapter answers with events or a precise
// error, never an exception.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SOURCE_NAMES, sourceAdapters, type SourceAdapter, type SourceName } from "../../src/sources/index.js";
import { apiMessage } from "../../src/sources/api.js";
import { mutated } from "../support/mutate.js";
import { pushPayload } from "../support/github-payloads.js";
import { grafanaPayload } from "../support/grafana-payloads.js";
import { alertmanagerPayload } from "../support/payloads.js";

const validBodies: Record<string, unknown> = {
  alertmanager: alertmanagerPayload([{ name: "A" }, { name: "B", status: "resolved" }]),
  grafana: grafanaPayload([{ name: "DiskFull" }, { name: "CPU", status: "resolved" }]),
  github: pushPayload(),
};
const META = { event: "push", delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958" };

function expectWellFormed(result: ReturnType<SourceAdapter>): void {
  if (result.ok) {
    for (const event of result.value) {
      expect(typeof event.id).toBe("string");
      expect(typeof event.summary).toBe("string");
      for (const value of Object.values(event.labels)) expect(typeof value).toBe("string");
    }
  } else {
    expect(result.error.length).toBeGreaterThan(0);
    expect(result.error.startsWith(result.field)).toBe(true);
  }
}

describe.each(SOURCE_NAMES)("the %s source under hostile input", (source) => {
  const adapter = sourceAdapters[source];

  it("never throws on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        expectWellFormed(adapter(body, META));
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on a valid payload with one part replaced or removed", () => {
    const valid = validBodies[source] ?? {};
    fc.assert(
      fc.property(mutated(valid), (body) => {
        expectWellFormed(adapter(body, META));
      }),
      { numRuns: 500 },
    );
  });
});

describe("the api source under hostile input", () => {
  it("never throws on arbitrary or mutated requests", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), mutated({ receiver: "sre", template: "api", data: { text: "x" } })), (body) => {
        const result = apiMessage(body);
        if (!result.ok) expect(result.error.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});

it("has a valid payload for every source adapter", () => {
  expect(Object.keys(validBodies).sort()).toEqual(Object.keys(sourceAdapters).sort());
  for (const [source, body] of Object.entries(validBodies)) expect(sourceAdapters[source as SourceName](body, META).ok).toBe(true);
});

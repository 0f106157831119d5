import { describe, expect, it } from "vitest";
import { classifyErrcode, describeErrcode } from "../../../src/channels/wecom/errcodes.js";
import { redactCredentials } from "../../../src/redact.js";

const WECOM_TAIL = ", hint: [1718000000_1_abc], from ip: 203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=";

describe("classifyErrcode", () => {
  it("treats errcode 0 as success", () => {
    expect(classifyErrcode(0, "ok")).toEqual({ kind: "ok" });
  });

  it.each([
    { errcode: -1, kind: "retry" },
    { errcode: 45033, kind: "retry" },
    { errcode: 40014, kind: "refreshToken" },
    { errcode: 42001, kind: "refreshToken" },
    { errcode: 40001, kind: "refreshToken" },
    { errcode: 41001, kind: "refreshToken" },
    { errcode: 93000, kind: "permanent" },
    { errcode: 93004, kind: "permanent" },
    { errcode: 93008, kind: "permanent" },
    { errcode: 40008, kind: "permanent" },
    { errcode: 40058, kind: "permanent" },
    { errcode: 44004, kind: "permanent" },
    { errcode: 45002, kind: "permanent" },
    { errcode: 48002, kind: "permanent" },
    { errcode: 60020, kind: "permanent" },
    { errcode: 81013, kind: "permanent" },
    { errcode: 82001, kind: "permanent" },
    { errcode: 40056, kind: "permanent" },
    { errcode: 40013, kind: "permanent" },
    { errcode: 301002, kind: "permanent" },
    { errcode: 12345, kind: "permanent" },
  ])("classifies errcode $errcode as $kind and keeps the code", ({ errcode, kind }) => {
    const result = classifyErrcode(errcode, `some reason${WECOM_TAIL}${errcode}`);
    expect(result.kind).toBe(kind);
    expect(result).toMatchObject({ errcode, error: expect.stringMatching(new RegExp(`^errcode ${errcode}: `)) });
  });

  it("waits for WeCom's 60 s window on 45009", () => {
    expect(classifyErrcode(45009, `api freq out of limit${WECOM_TAIL}45009`)).toEqual({
      kind: "retry",
      errcode: 45009,
      afterMs: 60_000,
      error: expect.stringMatching(/^errcode 45009: /),
    });
  });

  it("retries system busy without a minimum wait", () => {
    expect(classifyErrcode(-1, "system busy")).not.toHaveProperty("afterMs");
  });
});

describe("describeErrcode", () => {
  it("uses the built-in meaning for a known code instead of WeCom's errmsg", () => {
    expect(describeErrcode(93000, `invalid webhook url${WECOM_TAIL}93000`)).toBe(
      "errcode 93000: invalid webhook URL, or the robot was removed from its group",
    );
  });

  it("tells the operator how to fix an untrusted caller IP", () => {
    expect(describeErrcode(60020, "not allow to access from your ip")).toBe(
      "errcode 60020: caller IP not trusted: add this host's egress IP to the app's 企业可信IP list in the WeCom admin console",
    );
  });

  it("keeps an unknown code's reason but drops the hint, IP and link that follow it", () => {
    expect(describeErrcode(45047, `too many things${WECOM_TAIL}45047`)).toBe("errcode 45047: too many things");
  });

  it("scrubs credentials out of an unknown code's errmsg", () => {
    const text = describeErrcode(99999, "bad request to /cgi-bin/webhook/send?key=SECRET-KEY&debug=1 with access_token=TOKEN");
    expect(text).not.toContain("SECRET-KEY");
    expect(text).not.toContain("TOKEN");
    expect(text).toBe("errcode 99999: bad request to /cgi-bin/webhook/send?key=[REDACTED]&debug=1 with access_token=[REDACTED]");
  });

  it("says 'unknown error' when an unknown code comes without a reason", () => {
    expect(describeErrcode(99999, "")).toBe("errcode 99999: unknown error");
  });

  it("bounds the length of a long errmsg", () => {
    expect(describeErrcode(99999, "x".repeat(5000)).length).toBeLessThan(250);
  });
});

describe("redactCredentials", () => {
  it.each([
    ["https://h/cgi-bin/webhook/send?key=abc-123", "https://h/cgi-bin/webhook/send?key=[REDACTED]"],
    ["/cgi-bin/gettoken?corpid=ww1&corpsecret=s3cr3t", "/cgi-bin/gettoken?corpid=ww1&corpsecret=[REDACTED]"],
    ["ACCESS_TOKEN=abc def", "ACCESS_TOKEN=[REDACTED] def"],
    ["nothing secret here", "nothing secret here"],
  ])("turns %j into %j", (input, expected) => {
    expect(redactCredentials(input)).toBe(expected);
  });
});

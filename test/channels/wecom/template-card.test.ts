// The button_interaction card builder: WeCom's limits always hold, and what cutting
// cannot fix is refused with the field named.
import { afterEach, describe, expect, it } from "vitest";
import {
  buttonInteractionCard,
  CARD_LIMITS,
  isTaskId,
  type CardInput,
} from "../../../src/channels/wecom/template-card.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom } from "../../support/fake-wecom.js";
import { textWidth } from "../../../src/truncate.js";

const base: CardInput = {
  taskId: "am-7f3c-1718000000",
  title: "🔴 [FIRING:2] HighLatency",
  description: "critical · oncall",
  summary: "p99 latency above 2s for 10 minutes",
  labels: [
    ["env", "prod"],
    ["job", "api"],
  ],
  url: "https://grafana.example.com/d/abc?orgId=1",
  note: "Acked by zhangsan",
  buttons: [
    { text: "Ack", key: "ack:7f3c", style: 1 },
    { text: "Silence 1h", key: "silence:7f3c:1h", style: 2 },
  ],
};

function build(input: Partial<CardInput> = {}): Record<string, unknown> {
  const result = buttonInteractionCard({ ...base, ...input });
  if (!result.ok) throw new Error(`expected a card, got: ${result.reason}`);
  return result.card;
}

function refusal(input: Partial<CardInput>): string {
  const result = buttonInteractionCard({ ...base, ...input });
  if (result.ok) throw new Error("expected a refusal, got a card");
  return result.reason;
}

const chars = (text: string): number => Array.from(text).length;

it("fits \"Silence 24h\" on a button: Latin characters count half a 字", () => {
  const built = buttonInteractionCard({ taskId: "t1", title: "t", labels: [], buttons: [{ text: "Silence 24h", key: "s" }, { text: "静默二十四小时以上的告警", key: "z" }] });
  expect(built.ok && (built.card.button_list as { text: string }[]).map((b) => b.text)).toEqual(["Silence 24h", "静默二十四小时以上…"]);
});
/** True when no surrogate pair was split (the text survives a UTF-8 round trip). */
const whole = (text: string): boolean => Buffer.from(text, "utf8").toString("utf8") === text;

type Row = { keyname: string; value: string; type?: number; url?: string };
const rowsOf = (card: Record<string, unknown>): Row[] => (card.horizontal_content_list as Row[] | undefined) ?? [];

/** Every text the card shows, with the character limit it must keep to (button texts: width in 字, see textWidth). */
function texts(card: Record<string, unknown>): Array<[string, string, number]> {
  const mainTitle = card.main_title as { title: string; desc?: string };
  const out: Array<[string, string, number]> = [["main_title.title", mainTitle.title, CARD_LIMITS.titleChars]];
  if (mainTitle.desc !== undefined) out.push(["main_title.desc", mainTitle.desc, CARD_LIMITS.descChars]);
  if (typeof card.sub_title_text === "string") out.push(["sub_title_text", card.sub_title_text, CARD_LIMITS.subTitleChars]);
  const quote = card.quote_area as { quote_text: string } | undefined;
  if (quote) out.push(["quote_area.quote_text", quote.quote_text, CARD_LIMITS.quoteChars]);
  for (const row of rowsOf(card)) {
    out.push(["keyname", row.keyname, CARD_LIMITS.keynameChars], ["value", row.value, CARD_LIMITS.valueChars]);
  }
  for (const button of card.button_list as Array<{ text: string }>) {
    out.push(["button.text", button.text, CARD_LIMITS.buttonTextChars]);
  }
  return out;
}

describe("buttonInteractionCard", () => {
  it("builds the card WeCom's message/send expects", () => {
    expect(build()).toEqual({
      card_type: "button_interaction",
      main_title: { title: "🔴 [FIRING:2] HighLatency", desc: "critical · oncall" },
      sub_title_text: "p99 latency above 2s for 10 minutes",
      quote_area: { type: 0, quote_text: "Acked by zhangsan" },
      horizontal_content_list: [
        { keyname: "env", value: "prod" },
        { keyname: "job", value: "api" },
        { type: 1, keyname: "详情", value: "grafana.example.com", url: "https://grafana.example.com/d/abc?orgId=1" },
      ],
      card_action: { type: 1, url: "https://grafana.example.com/d/abc?orgId=1" },
      task_id: "am-7f3c-1718000000",
      button_list: [
        { text: "Ack", key: "ack:7f3c", style: 1 },
        { text: "Silence 1h", key: "silence:7f3c:1h", style: 2 },
      ],
    });
  });

  it("leaves out what the input does not have", () => {
    const { description: _d, summary: _s, url: _u, note: _n, ...bare } = base;
    const minimal = buttonInteractionCard({ ...bare, labels: [] });

    expect(minimal.ok && Object.keys(minimal.card).sort()).toEqual(["button_list", "card_type", "main_title", "task_id"]);
    expect(minimal.ok && minimal.card.main_title).toEqual({ title: base.title });
  });

  it.each([
    ["CJK", "高延迟告警".repeat(100)],
    ["emoji", "🔥🚨👩‍💻".repeat(100)],
    ["mixed", "告警🔴 alert ".repeat(100)],
  ])("keeps every text within WeCom's limits for long %s input, without splitting characters", (_label, long) => {
    const card = build({
      title: long,
      description: long,
      summary: long,
      note: long,
      labels: [
        [long, long],
        [`${long}2`, long],
      ],
      url: `https://${"a".repeat(40)}.example.com/x`,
      buttons: [
        { text: long, key: "ack" },
        { text: long, key: "silence" },
      ],
    });

    for (const [field, text, limit] of texts(card)) {
      expect(field === "button.text" ? textWidth(text) : chars(text), field).toBeLessThanOrEqual(limit);
      expect(chars(text), field).toBeGreaterThan(0);
      expect(whole(text), field).toBe(true);
      // Everything but the link row's own label came from the long input.
      if (text !== "详情") expect(text.endsWith("…"), `${field} is marked as cut`).toBe(true);
    }
    expect(Buffer.byteLength(card.task_id as string)).toBeLessThanOrEqual(CARD_LIMITS.taskIdBytes);
    for (const button of card.button_list as Array<{ key: string }>) {
      expect(Buffer.byteLength(button.key)).toBeLessThanOrEqual(CARD_LIMITS.buttonKeyBytes);
    }
  });

  it("leaves text at exactly the limit alone", () => {
    const title = "警".repeat(CARD_LIMITS.titleChars);
    const card = build({ title, buttons: [{ text: "确认收到告警并处理中", key: "k" }] });

    expect((card.main_title as { title: string }).title).toBe(title);
    expect((card.button_list as Array<{ text: string }>)[0]?.text).toBe("确认收到告警并处理中");
  });

  it("shows at most 6 labels: 7 labels give 6 rows", () => {
    const labels = Array.from({ length: 7 }, (_, i) => [`l${i}`, `v${i}`] as const);
    const { url: _url, ...noUrl } = base;
    const result = buttonInteractionCard({ ...noUrl, labels });

    expect(result.ok && rowsOf(result.card).map((row) => row.keyname)).toEqual(["l0", "l1", "l2", "l3", "l4", "l5"]);
  });

  it("keeps the last of the 6 rows for the link when there is a url", () => {
    const labels = Array.from({ length: 7 }, (_, i) => [`l${i}`, `v${i}`] as const);
    const rows = rowsOf(build({ labels }));

    expect(rows).toHaveLength(CARD_LIMITS.rows);
    expect(rows.map((row) => row.keyname)).toEqual(["l0", "l1", "l2", "l3", "l4", "详情"]);
  });

  it("skips labels with an empty value without counting them", () => {
    const labels: Array<readonly [string, string]> = [
      ["a", ""],
      ["b", "2"],
      ["", "x"],
      ["c", "3"],
    ];

    expect(rowsOf(build({ labels })).slice(0, -1)).toEqual([
      { keyname: "b", value: "2" },
      { keyname: "c", value: "3" },
    ]);
  });

  it("cuts long label names to WeCom's 5 characters", () => {
    expect(rowsOf(build({ labels: [["severity", "critical"]] }))[0]).toEqual({ keyname: "seve…", value: "critical" });
  });

  describe("buttons", () => {
    it.each([
      ["no buttons", [], /button_list needs 1-6 buttons, got 0/],
      ["7 buttons", Array.from({ length: 7 }, (_, i) => ({ text: `b${i}`, key: `k${i}` })), /button_list .*got 7/],
      ["an empty key", [{ text: "Ack", key: "" }], /button_list\[0\]\.key is empty/],
      [
        "a duplicate key",
        [
          { text: "Ack", key: "same" },
          { text: "Ack again", key: "same" },
        ],
        /button_list\[1\]\.key "same" is used twice/,
      ],
      ["a key over 1024 bytes", [{ text: "Ack", key: "键".repeat(342) }], /button_list\[0\]\.key is over 1024 bytes/],
      ["an empty text", [{ text: " ", key: "k" }], /button_list\[0\]\.text is empty/],
    ])("refuses %s", (_label, buttons, reason) => {
      expect(refusal({ buttons })).toMatch(reason);
    });

    it("accepts 6 buttons and a key of exactly 1024 bytes, unchanged", () => {
      const key = "键".repeat(341) + "k"; // 1023 + 1 bytes
      const buttons = [{ text: "Ack", key }, ...Array.from({ length: 5 }, (_, i) => ({ text: `b${i}`, key: `k${i}` }))];
      const card = build({ buttons });

      expect(Buffer.byteLength(key)).toBe(1024);
      expect((card.button_list as Array<{ key: string }>).map((b) => b.key)).toEqual(buttons.map((b) => b.key));
    });

    it("leaves style out when it is not one of WeCom's 1-4", () => {
      const card = build({ buttons: [{ text: "Ack", key: "k", style: 9 as 1 }] });

      expect(card.button_list).toEqual([{ text: "Ack", key: "k" }]);
    });
  });

  describe("task ids", () => {
    it.each([
      ["empty", ""],
      ["with a space", "am 7f3c"],
      ["with a slash", "am/7f3c"],
      ["with a dot", "am.7f3c"],
      ["not ASCII", "告警-1"],
      ["129 bytes", "a".repeat(129)],
    ])("refuses one %s", (_label, taskId) => {
      expect(isTaskId(taskId)).toBe(false);
      expect(refusal({ taskId })).toMatch(/^task_id /);
    });

    it.each([["a".repeat(128)], ["am-7f3c_1718000000@prod"], ["X"]])("accepts %s", (taskId) => {
      expect(isTaskId(taskId)).toBe(true);
      expect(build({ taskId }).task_id).toBe(taskId);
    });
  });

  describe("url", () => {
    it.each([["ftp://example.com/x"], ["javascript:alert(1)"], ["/relative/path"], ["not a url"]])(
      "refuses %s",
      (url) => {
        expect(refusal({ url })).toBe("url must be an http(s) URL");
      },
    );

    it("refuses a url over 2048 bytes rather than cutting it", () => {
      expect(refusal({ url: `https://example.com/${"a".repeat(2048)}` })).toBe("url is over 2048 bytes");
    });

    it("accepts http and https", () => {
      expect(build({ url: "http://example.com/" }).card_action).toEqual({ type: 1, url: "http://example.com/" });
    });

    it("sends the link as parsed: trimmed and percent-encoded", () => {
      const card = build({ url: " https://grafana.example.com/d/告警 " });

      expect(card.card_action).toEqual({ type: 1, url: "https://grafana.example.com/d/%E5%91%8A%E8%AD%A6" });
    });
  });

  it("refuses an empty title", () => {
    expect(refusal({ title: "  " })).toBe("main_title.title is empty");
  });
});

describe("buttonInteractionCard against the fake WeCom", () => {
  let wecom: FakeWeCom | undefined;

  afterEach(async () => {
    await wecom?.close();
    wecom = undefined;
  });

  async function send(card: Record<string, unknown>): Promise<Record<string, unknown>> {
    const fake = wecom ?? (wecom = await startFakeWeCom());
    const { corpId, secret, agentId } = DEFAULT_FAKE_APP;
    const token = (await (await fetch(`${fake.url}/cgi-bin/gettoken?corpid=${corpId}&corpsecret=${secret}`)).json()) as {
      access_token: string;
    };
    const response = await fetch(`${fake.url}/cgi-bin/message/send?access_token=${token.access_token}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ touser: "zhangsan", msgtype: "template_card", agentid: agentId, template_card: card }),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  it("sends a built card that WeCom's checks accept, and gets a response_code", async () => {
    const reply = await send(build());

    expect(reply).toMatchObject({ errcode: 0, errmsg: "ok", response_code: expect.any(String) });
    expect(wecom?.appMessages()[0]).toMatchObject({ taskId: base.taskId, responseCode: reply.response_code });
  });

  it("sends the longest possible card too: every limit is the fake's", async () => {
    const long = "告警🔴".repeat(200);
    const card = build({
      taskId: "t".repeat(128),
      title: long,
      description: long,
      summary: long,
      note: long,
      labels: Array.from({ length: 9 }, (_, i) => [`${long}${i}`, long] as const),
      buttons: Array.from({ length: 6 }, (_, i) => ({ text: long, key: `${"键".repeat(340)}${i}` })),
    });

    expect(await send(card)).toMatchObject({ errcode: 0 });
  });
});

import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CallbackCryptoError,
  decrypt,
  encrypt,
  signature,
  verifySignature,
  type SignedFields,
} from "../../../src/channels/wecom/crypto.js";

// Published vectors (see shared reference wecom.md, section c). Each pairs a signature
// over (token, timestamp, nonce, ciphertext) with the plaintext it decrypts to.
interface Vector {
  name: string;
  token: string;
  aesKey: string;
  corpId: string;
  timestamp: string;
  nonce: string;
  encrypted: string;
  msgSignature: string;
  plaintext: string;
}

const A = {
  token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
  aesKey: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
  corpId: "ww1436e0e65a779aee",
};
const B = { token: "123456", aesKey: "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", corpId: "wx49f0ab532d5d035a" };
const C = { token: "kz7Yx62CH8SaLN", aesKey: "cD0d7jx4tYvVtzqrmh3Dm3QFCXe6f8SlHoMtMh3qQEP", corpId: "ww6a112864f8022910" };
const LEGACY = { token: "QDG6eK", aesKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", corpId: "wx5823bf96d3bd56c7" };

const VECTOR_A_GET: Vector = {
  name: "A (Tencent sample), URL verification",
  ...A,
  timestamp: "1476416373",
  nonce: "47744683",
  encrypted: "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
  msgSignature: "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
  plaintext: "1288432023552776189",
};

const VECTOR_A_POST: Vector = {
  name: "A (Tencent sample), message, pad 22",
  ...A,
  timestamp: "1476422779",
  nonce: "1597212914",
  encrypted:
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+",
  msgSignature: "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
  plaintext:
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>",
};

const VECTOR_B_PLAINTEXT =
  "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";

const VECTOR_B_ENCRYPT: Vector = {
  name: "B (wechatpy), deterministic encryption",
  ...B,
  timestamp: "1411525903",
  nonce: "461056294",
  encrypted:
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3",
  msgSignature: "407518b7649e86ef23978113f92d27afa9296533",
  plaintext: VECTOR_B_PLAINTEXT,
};

const VECTORS: Vector[] = [
  VECTOR_A_GET,
  VECTOR_A_POST,
  VECTOR_B_ENCRYPT,
  {
    name: "B (wechatpy), URL verification",
    ...B,
    timestamp: "1411443780",
    nonce: "437374425",
    encrypted: "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
    msgSignature: "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
    plaintext: "5927782489442352469",
  },
  {
    name: "C (go-workwx), binary random prefix, pad 13",
    ...C,
    timestamp: "1583995625",
    nonce: "1584392382",
    encrypted:
      "EUCt7xMcNiyASzZj0Hjc5yDjFQrCum6AfQ3ntHiUzjGQ51xieKmbvtrZ40/EcB2W/W8yH0n4Lqx48gJl/T9HD/R309I0P/r5pIZucK3lyEn48FYMr4YdE0QdL2jIJ3xkcXUr6uzefzCxG6lMvwpAJaOyVCzN7sRRw47njfxy5EIqU6R9ZBhlTzfdnhhOhK/nTwzrZX3SoGlXFA9OBeZ6ru1NWpXFk76x9DUMe0lcxPPiUqK8ctnQcYXSGUHVqC6DfG7E7mab0OmruNN8cBZY5d3dYOBA4OgaH55Q0AJmUpdT8vNiXpXx+6TxT3TIjySXpDrHVyrsb772aYywgg/Nu4kUmGkALwFZlzhjNegR7wDwb9lr4ERXsSSS8JZ8lbBmaQ3F2Tq584xoPj5rIhXAF734ynm4no1g+SdHiNqR328=",
    msgSignature: "f265ae551b1932727204c3d707628d01376a6940",
    plaintext:
      "<xml><ToUserName><![CDATA[ww6a112864f8022910]]></ToUserName><FromUserName><![CDATA[foobar]]></FromUserName><CreateTime>1583995625</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x123]]></Content><MsgId>2018405441</MsgId><AgentID>1000002</AgentID></xml>",
  },
  {
    name: "legacy Tencent sample, URL verification",
    ...LEGACY,
    timestamp: "1409659589",
    nonce: "263014780",
    encrypted: "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    msgSignature: "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    plaintext: "1616140317555161061",
  },
  {
    name: "legacy Tencent sample, message, pad 30",
    ...LEGACY,
    timestamp: "1409659813",
    nonce: "1372623149",
    encrypted:
      "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==",
    msgSignature: "477715d11cdb4164915debcba66cb864d751f3e6",
    plaintext:
      "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>",
  },
];

const fieldsOf = (v: Vector): SignedFields => ({ token: v.token, timestamp: v.timestamp, nonce: v.nonce, encrypted: v.encrypted });

describe.each(VECTORS)("published vector $name", (vector) => {
  it("computes the published msg_signature", () => {
    expect(signature(fieldsOf(vector))).toBe(vector.msgSignature);
  });

  it("verifies the published msg_signature, in either letter case", () => {
    expect(verifySignature(fieldsOf(vector), vector.msgSignature)).toBe(true);
    expect(verifySignature(fieldsOf(vector), vector.msgSignature.toUpperCase())).toBe(true);
  });

  it("decrypts to the published plaintext", () => {
    expect(decrypt(vector.aesKey, vector.encrypted, vector.corpId)).toBe(vector.plaintext);
  });
});

describe("encrypt", () => {
  it("reproduces vector B's ciphertext with its fixed random prefix", () => {
    const encrypted = encrypt(B.aesKey, VECTOR_B_PLAINTEXT, B.corpId, Buffer.from("1234567890123456", "ascii"));
    expect(encrypted).toBe(VECTOR_B_ENCRYPT.encrypted);
    expect(signature({ ...fieldsOf(VECTOR_B_ENCRYPT), encrypted })).toBe(VECTOR_B_ENCRYPT.msgSignature);
  });

  it.each([
    ["an empty message", ""],
    ["a message that fills whole blocks", "x".repeat(32 * 4 - 16 - 4 - A.corpId.length)],
    ["multi-byte UTF-8", "告警：数据库延迟过高 🔥"],
    ["a long event", "<xml>" + "a".repeat(5000) + "</xml>"],
  ])("round-trips %s", (_label, message) => {
    const encrypted = encrypt(A.aesKey, message, A.corpId);
    expect(Buffer.from(encrypted, "base64").length % 32).toBe(0);
    expect(decrypt(A.aesKey, encrypted, A.corpId)).toBe(message);
  });

  it("uses a fresh random prefix each time", () => {
    expect(encrypt(A.aesKey, "same", A.corpId)).not.toBe(encrypt(A.aesKey, "same", A.corpId));
  });

  it("refuses a random prefix that is not 16 bytes", () => {
    expect(() => encrypt(A.aesKey, "m", A.corpId, Buffer.alloc(15))).toThrow(RangeError);
  });
});

describe("verifySignature", () => {
  const fields = fieldsOf(VECTOR_A_POST);

  it.each([
    ["another token", { ...fields, token: "not-the-token" }],
    ["another timestamp", { ...fields, timestamp: "1476422780" }],
    ["another nonce", { ...fields, nonce: "1597212915" }],
    ["another ciphertext", { ...fields, encrypted: VECTOR_A_GET.encrypted }],
  ])("rejects the signature over %s", (_label, changed) => {
    expect(verifySignature(changed, VECTOR_A_POST.msgSignature)).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["truncated", VECTOR_A_POST.msgSignature.slice(0, 39)],
    ["one digit off", VECTOR_A_POST.msgSignature.slice(0, 39) + "f"],
    ["not hex at all", "ünïcödé-and-longer-than-forty-characters-for-sure"],
  ])("rejects a %s signature without throwing", (_label, given) => {
    expect(verifySignature(fields, given)).toBe(false);
  });
});

describe("decrypt failures", () => {
  /** AES-CBC as WeCom does it, over raw bytes that need not be well formed. */
  function rawEncrypt(aesKey: string, plain: Buffer): string {
    const key = Buffer.from(`${aesKey}=`, "base64");
    const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(plain), cipher.final()]).toString("base64");
  }

  function plainWith(messageLength: number, message: string, tail: Buffer): Buffer {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(messageLength);
    return Buffer.concat([randomBytes(16), length, Buffer.from(message), tail]);
  }

  function expectCryptoError(run: () => unknown, reason: CallbackCryptoError["reason"]): void {
    let caught: unknown;
    try {
      run();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CallbackCryptoError);
    expect((caught as CallbackCryptoError).reason).toBe(reason);
  }

  it("rejects a message for another corp id", () => {
    expectCryptoError(() => decrypt(A.aesKey, VECTOR_A_POST.encrypted, "ww-someone-else"), "receive_id");
  });

  it("rejects a ciphertext made with another key (its padding does not check out)", () => {
    expectCryptoError(() => decrypt(B.aesKey, VECTOR_A_POST.encrypted, A.corpId), "padding");
  });

  it("rejects a tampered ciphertext", () => {
    const bytes = Buffer.from(VECTOR_A_POST.encrypted, "base64");
    // Flipping a bit in the second-to-last block scrambles the last block's padding.
    bytes[bytes.length - 17]! ^= 0x01;
    const tampered = bytes.toString("base64");
    expect(() => decrypt(A.aesKey, tampered, A.corpId)).toThrow(CallbackCryptoError);
  });

  it.each([
    ["a pad value of 0", Buffer.concat([plainWith(2, "hi", Buffer.from(A.corpId)), Buffer.alloc(32 - ((22 + A.corpId.length) % 32), 0)])],
    ["a pad value over 32", Buffer.concat([Buffer.alloc(31, 0x21), Buffer.from([33]), Buffer.alloc(32, 33)])],
    ["pad bytes that disagree", Buffer.concat([Buffer.alloc(28, 0x41), Buffer.from([1, 4, 4, 4])])],
  ])("rejects %s", (_label, plain) => {
    expectCryptoError(() => decrypt(A.aesKey, rawEncrypt(A.aesKey, plain), A.corpId), "padding");
  });

  it("rejects a message length that runs past the plaintext", () => {
    const plain = plainWith(1000, "short", Buffer.from(A.corpId));
    const pad = 32 - (plain.length % 32);
    const encrypted = rawEncrypt(A.aesKey, Buffer.concat([plain, Buffer.alloc(pad, pad)]));
    expectCryptoError(() => decrypt(A.aesKey, encrypted, A.corpId), "length");
  });

  it("rejects a plaintext too short for its header", () => {
    const encrypted = rawEncrypt(A.aesKey, Buffer.concat([Buffer.alloc(16, 7), Buffer.alloc(16, 16)]));
    expectCryptoError(() => decrypt(A.aesKey, encrypted, A.corpId), "length");
  });

  it.each([
    ["not base64", "this is not base64!", "base64"],
    ["empty", "", "length"],
    ["not whole AES blocks", Buffer.alloc(20).toString("base64"), "length"],
  ] as const)("rejects a ciphertext that is %s", (_label, encrypted, reason) => {
    expectCryptoError(() => decrypt(A.aesKey, encrypted, A.corpId), reason);
  });

  it.each([
    ["too short", A.aesKey.slice(0, 42)],
    ["too long", A.aesKey + "A"],
    ["not base64", A.aesKey.slice(0, 42) + "!"],
  ])("rejects an EncodingAESKey that is %s", (_label, key) => {
    expectCryptoError(() => decrypt(key, VECTOR_A_POST.encrypted, A.corpId), "aes_key");
    expect(() => encrypt(key, "m", A.corpId)).toThrow(CallbackCryptoError);
  });
});

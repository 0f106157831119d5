// WeCom callback crypto (WXBizMsgCrypt): the msg_signature over token, timestamp, nonce
// and ciphertext, and AES-256-CBC with a 32-byte PKCS#7 padding that Node's built-in
// unpadding (16-byte blocks) rejects, so padding is added and checked here by hand.
// Plaintext layout: 16 random bytes | 4-byte big-endian length | message | receive id.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Why a callback could not be opened; `reason` is short and safe to show a client. */
export class CallbackCryptoError extends Error {
  constructor(
    readonly reason: "aes_key" | "base64" | "padding" | "length" | "receive_id",
    message: string,
  ) {
    super(message);
    this.name = "CallbackCryptoError";
  }
}

export interface SignedFields {
  token: string;
  timestamp: string;
  nonce: string;
  /** The echostr (URL verification) or the <Encrypt> text (events). */
  encrypted: string;
}

const BLOCK = 32;
const RANDOM_PREFIX_BYTES = 16;
const LENGTH_BYTES = 4;
const ENCODING_AES_KEY = /^[A-Za-z0-9+/]{43}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** sha1 hex of the four fields sorted and joined without separator. */
export function signature({ token, timestamp, nonce, encrypted }: SignedFields): string {
  return createHash("sha1").update([token, timestamp, nonce, encrypted].sort().join("")).digest("hex");
}

/** Whether msgSignature signs these fields; compared in constant time. */
export function verifySignature(fields: SignedFields, msgSignature: string): boolean {
  const expected = Buffer.from(signature(fields), "utf8");
  const given = Buffer.from(msgSignature.toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The 32-byte AES key from the 43-character EncodingAESKey; its first 16 bytes are the IV. */
function aesKey(encodingAesKey: string): Buffer {
  if (!ENCODING_AES_KEY.test(encodingAesKey)) {
    throw new CallbackCryptoError("aes_key", "EncodingAESKey must be 43 base64 characters");
  }
  return Buffer.from(`${encodingAesKey}=`, "base64");
}

/**
 * The message inside a callback's ciphertext. Throws CallbackCryptoError when it is not
 * valid base64, not whole AES blocks, badly padded, inconsistent in length, or addressed
 * to another receive id (the corp id, for a self-built app).
 */
export function decrypt(encodingAesKey: string, encrypted: string, receiveId: string): string {
  const key = aesKey(encodingAesKey);
  if (!BASE64.test(encrypted)) throw new CallbackCryptoError("base64", "ciphertext is not base64");
  const cipherBytes = Buffer.from(encrypted, "base64");
  if (cipherBytes.length === 0 || cipherBytes.length % 16 !== 0) {
    throw new CallbackCryptoError("length", "ciphertext is not a whole number of AES blocks");
  }

  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(cipherBytes), decipher.final()]);

  const plain = padded.subarray(0, padded.length - padLength(padded));
  if (plain.length < RANDOM_PREFIX_BYTES + LENGTH_BYTES) {
    throw new CallbackCryptoError("length", "plaintext is shorter than its header");
  }
  const messageLength = plain.readUInt32BE(RANDOM_PREFIX_BYTES);
  const messageStart = RANDOM_PREFIX_BYTES + LENGTH_BYTES;
  if (messageLength > plain.length - messageStart) {
    throw new CallbackCryptoError("length", "message length exceeds the plaintext");
  }
  const message = plain.subarray(messageStart, messageStart + messageLength);
  const foundReceiveId = plain.subarray(messageStart + messageLength).toString("utf8");
  if (foundReceiveId !== receiveId) {
    throw new CallbackCryptoError("receive_id", "message is addressed to another corp id");
  }
  return message.toString("utf8");
}

/** The PKCS#7 pad length at the end of `padded`, after checking every pad byte. */
function padLength(padded: Buffer): number {
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK || pad > padded.length) {
    throw new CallbackCryptoError("padding", "invalid padding");
  }
  for (let i = padded.length - pad; i < padded.length; i += 1) {
    if (padded[i] !== pad) throw new CallbackCryptoError("padding", "invalid padding");
  }
  return pad;
}

/**
 * Encrypts a message for receiveId, as WeCom does. `randomPrefix` (16 bytes) is random
 * unless given, which only tests should do.
 */
export function encrypt(
  encodingAesKey: string,
  message: string,
  receiveId: string,
  randomPrefix: Buffer = randomBytes(RANDOM_PREFIX_BYTES),
): string {
  if (randomPrefix.length !== RANDOM_PREFIX_BYTES) {
    throw new RangeError(`random prefix must be ${RANDOM_PREFIX_BYTES} bytes`);
  }
  const key = aesKey(encodingAesKey);
  const messageBytes = Buffer.from(message, "utf8");
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(messageBytes.length);
  const plain = Buffer.concat([randomPrefix, length, messageBytes, Buffer.from(receiveId, "utf8")]);
  // Always at least one pad byte: a full block of 32 when already aligned.
  const pad = BLOCK - (plain.length % BLOCK);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);

  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString("base64");
}

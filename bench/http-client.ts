// A minimal HTTP/1.1 client for load generation: one keep-alive TCP connection, one
// request in flight, requests pre-serialised to bytes. node:http's client costs about as
// much CPU per request as a bare server, which would make the load generator the
// bottleneck on a small machine; this one only scans the answer for its status and
// Content-Length. It is only meant for servers that frame answers with Content-Length.
import { connect, type Socket } from "node:net";

const HEADER_END = Buffer.from("\r\n\r\n");
const MAX_HEADER_BYTES = 16 * 1024;

/** Serialises a POST once, so the hot loop only writes bytes. */
export function postRequestBytes(url: URL, headers: Record<string, string>, body: Buffer): Buffer {
  const lines = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    "Content-Type: application/json",
    `Content-Length: ${body.length}`,
  ];
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]);
}

/** Serialises a GET once (probes). */
export function getRequestBytes(url: URL): Buffer {
  return Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`, "latin1");
}

interface Pending {
  resolve: (status: number) => void;
  reject: (err: Error) => void;
}

export class KeepAliveConnection {
  private socket: Socket | undefined;
  private pending: Pending | undefined;
  private received: Buffer = Buffer.alloc(0);

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  /** Sends a serialised request; resolves with the status once the whole answer arrived. */
  send(request: Buffer): Promise<number> {
    if (this.pending) return Promise.reject(new Error("a request is already in flight on this connection"));
    const socket = this.socket ?? this.open();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(request);
    });
  }

  close(): void {
    const socket = this.socket;
    // Forgotten first: its late events must not touch a request on the next socket.
    this.socket = undefined;
    socket?.destroy();
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    const current = () => this.socket === socket;
    socket.setTimeout(this.timeoutMs, () => socket.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    socket.on("data", (chunk: Buffer) => {
      if (current()) this.onData(chunk);
    });
    socket.on("error", (err) => {
      if (current()) this.fail(err, true);
    });
    socket.on("close", () => {
      if (current()) this.fail(Object.assign(new Error("connection closed before the answer"), { code: "ECONNRESET" }), true);
    });
    this.socket = socket;
    this.received = Buffer.alloc(0);
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headerEnd = this.received.indexOf(HEADER_END);
    if (headerEnd < 0) {
      if (this.received.length > MAX_HEADER_BYTES) this.fail(new Error("answer headers too long"), true);
      return;
    }
    const head = this.received.toString("latin1", 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.fail(new Error("answer without Content-Length (not supported by this client)"), true);
      return;
    }
    const total = headerEnd + HEADER_END.length + Number(length[1]);
    if (this.received.length < total) return;
    const extra = this.received.length > total;
    const closing = /\r\nconnection:\s*close/i.test(head);
    this.received = Buffer.alloc(0);
    const pending = this.pending;
    this.pending = undefined;
    if (extra) {
      pending?.reject(new Error("unexpected bytes after the answer"));
      this.close();
      return;
    }
    if (closing) this.close();
    pending?.resolve(status);
  }

  private fail(err: Error, closeSocket = false): void {
    const pending = this.pending;
    this.pending = undefined;
    if (closeSocket) this.close();
    pending?.reject(err);
  }
}

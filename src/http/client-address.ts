// Who the client is: the TCP peer, unless the peer is one of `server.trust_proxy`; then
// the address that proxy put in X-Forwarded-For (walking back through trusted proxies
// only, so a client cannot choose its own address by sending the header itself).
import { BlockList, isIP } from "node:net";
import type { Request } from "express";

/** "10.0.0.0/8", "2001:db8::/32", a bare address, or undefined when not one. */
export function parseCidr(text: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const [address = "", prefixText, ...rest] = text.trim().split("/");
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) return undefined;
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

/** An IPv4 address written as IPv4-mapped IPv6 (::ffff:10.0.0.1) is that IPv4 address. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** Matches addresses against CIDRs, IPv4 and IPv6. */
export function addressList(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (address) => {
    const normalized = normalizeAddress(address);
    const version = isIP(normalized);
    return version !== 0 && list.check(normalized, version === 4 ? "ipv4" : "ipv6");
  };
}

const compiled = new WeakMap<readonly string[], (address: string) => boolean>();

/** `addressList` of a loaded config's list, built once per list (a reload brings new lists). */
export function matcherFor(cidrs: readonly string[]): (address: string) => boolean {
  let matcher = compiled.get(cidrs);
  if (matcher === undefined) {
    matcher = addressList(cidrs);
    compiled.set(cidrs, matcher);
  }
  return matcher;
}

/** The client: through trusted proxies (express's req.ip with trust_proxy), else the TCP peer. */
export function clientAddress(req: Request): string | undefined {
  return req.ip ?? req.socket.remoteAddress;
}

import { describe, expect, it } from "vitest";
import { addressRefusal } from "../../src/http/access-list.js";

const refusal = (address: string | undefined, rules: { allow?: string[]; deny?: string[] }) => {
  const refused = addressRefusal(address, rules);
  return refused && { status: refused.status, reason: refused.reason, detail: refused.detail };
};

describe("client address lists", () => {
  it("lets in an IPv4 address inside an allowed CIDR and refuses one outside with 403", () => {
    const rules = { allow: ["10.0.0.0/8", "192.0.2.7"] };
    expect(refusal("10.20.30.40", rules)).toBeUndefined();
    expect(refusal("192.0.2.7", rules)).toBeUndefined();
    expect(refusal("192.0.2.8", rules)).toEqual({ status: 403, reason: "address_not_allowed", detail: { address: "192.0.2.8" } });
    expect(refusal("11.0.0.1", rules)?.reason).toBe("address_not_allowed");
  });

  it("matches IPv6 addresses against IPv6 CIDRs, whatever their spelling", () => {
    const rules = { allow: ["2001:db8::/32"] };
    expect(refusal("2001:db8:0:0:0:0:0:42", rules)).toBeUndefined();
    expect(refusal("2001:DB8:ffff::1", rules)).toBeUndefined();
    expect(refusal("2001:db9::1", rules)?.reason).toBe("address_not_allowed");
    expect(refusal("::1", rules)?.reason).toBe("address_not_allowed");
  });

  it("treats an IPv4-mapped IPv6 address as the IPv4 address it carries, in both directions", () => {
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
    expect(refusal("::ffff:10.1.2.3", { allow: ["10.0.0.0/8"] })).toBeUndefined();
    expect(refusal("::ffff:10.1.2.3", { deny: ["10.1.2.3"] })?.reason).toBe("address_denied");
    expect(refusal("::ffff:11.1.2.3", { allow: ["10.0.0.0/8"] })?.reason).toBe("address_not_allowed");
    // A list written with mapped addresses covers plain IPv4 clients too.
    expect(refusal("10.1.2.3", { allow: ["::ffff:10.0.0.0/104"] })).toBeUndefined();
    expect(refusal("11.1.2.3", { allow: ["::ffff:10.0.0.0/104"] })?.reason).toBe("address_not_allowed");
  });

  it("refuses a denied address even when an allow list covers it: deny wins", () => {
    const rules = { allow: ["10.0.0.0/8"], deny: ["10.9.0.0/16"] };
    expect(refusal("10.8.0.1", rules)).toBeUndefined();
    expect(refusal("10.9.0.1", rules)).toEqual({ status: 403, reason: "address_denied", detail: { address: "10.9.0.1" } });
  });

  it("with only a deny list, lets in everything else", () => {
    expect(refusal("203.0.113.9", { deny: ["198.51.100.0/24", "2001:db8::/32"] })).toBeUndefined();
    expect(refusal("2001:db8::1", { deny: ["198.51.100.0/24", "2001:db8::/32"] })?.reason).toBe("address_denied");
  });

  it("refuses an unknown client address when an allow list applies, and anything that is not an address", () => {
    expect(refusal(undefined, { allow: ["0.0.0.0/0", "::/0"] })?.reason).toBe("address_not_allowed");
    expect(refusal("not-an-address", { allow: ["0.0.0.0/0", "::/0"] })?.reason).toBe("address_not_allowed");
    expect(refusal(undefined, { deny: ["10.0.0.0/8"] })).toBeUndefined();
  });

  it("closes the connection with the refusal, so the body is never read", () => {
    expect(addressRefusal("192.0.2.1", { allow: ["10.0.0.0/8"] })?.headers).toEqual({ Connection: "close" });
  });

  it("applies nothing without lists", () => {
    expect(refusal("192.0.2.1", {})).toBeUndefined();
    expect(addressRefusal("192.0.2.1", undefined)).toBeUndefined();
  });
});

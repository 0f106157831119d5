import { describe, expect, it } from "vitest";
import { backoffDelay, decideRetry, type RetryPolicy } from "../../src/delivery/retry.js";

const policy: RetryPolicy = { initialMs: 1000, maxMs: 60_000, maxAgeMs: 3_600_000 };

describe("retry policy", () => {
  it("doubles the delay each attempt, capped, with half of it jittered", () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, () => 1)).toBe(1000);
    expect(backoffDelay(3, policy, () => 1)).toBe(4000);
    expect(backoffDelay(20, policy, () => 1)).toBe(60_000);
    expect(backoffDelay(20, policy, () => 0)).toBe(30_000);
  });

  it("retries a transient failure after the backoff", () => {
    const decision = decideRetry({ kind: "retry", error: "errcode -1" }, { attempts: 0, createdAt: 0 }, 10_000, policy, () => 1);
    expect(decision).toEqual({ action: "retry", at: 11_000 });
  });

  it("waits at least the channel's floor (a rate window) even on an early attempt", () => {
    const decision = decideRetry({ kind: "retry", error: "45009", errcode: 45009, afterMs: 60_000 }, { attempts: 0, createdAt: 0 }, 0, policy);
    expect(decision).toEqual({ action: "retry", at: 60_000 });
  });

  it("treats a token refresh answer as a retry", () => {
    const decision = decideRetry({ kind: "refreshToken", error: "42001", errcode: 42001 }, { attempts: 1, createdAt: 0 }, 0, policy, () => 0);
    expect(decision.action).toBe("retry");
  });

  it("dead-letters a permanent error at once, with its errcode as the reason", () => {
    const decision = decideRetry({ kind: "permanent", error: "errcode 93000: invalid webhook url", errcode: 93000 }, { attempts: 0, createdAt: 0 }, 0, policy);
    expect(decision).toEqual({ action: "dead", reason: "errcode_93000", error: "errcode 93000: invalid webhook url" });
  });

  it("dead-letters instead of retrying past max_age", () => {
    const decision = decideRetry({ kind: "retry", error: "timeout" }, { attempts: 7, createdAt: 0 }, 3_599_000, policy, () => 1);
    expect(decision.action).toBe("dead");
    if (decision.action === "dead") {
      expect(decision.reason).toBe("max_age");
      expect(decision.error).toContain("timeout");
    }
  });
});

// Turns a zod validation failure into one precise, client-facing sentence.
import type { z } from "zod";

export interface PayloadError {
  /** What is wrong, naming the field: "alerts[0].labels: expected object, got string". */
  error: string;
  field: string;
}

export type Parsed<T> = { ok: true; value: T } | ({ ok: false } & PayloadError);

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : out === "" ? String(part) : `.${String(part)}`;
  }
  return out || "(body)";
}

export function parsePayload<S extends z.ZodType>(schema: S, body: unknown): Parsed<z.output<S>> {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0]!;
  const field = fieldPath(issue.path);
  return { ok: false, field, error: `${field}: ${issue.message}` };
}

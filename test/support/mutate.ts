// fast-check arbitraries for hostile input: a valid payload with one part replaced by
// anything JSON can hold.
import fc from "fast-check";

type Json = unknown;

/** Every path to a value inside `value` (objects and arrays), including the root. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...paths(item, [...prefix, i])));
  else if (value && typeof value === "object") for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  return out;
}

function replaceAt(value: Json, path: (string | number)[], replacement: Json): Json {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, Json>;
  copy[head!] = replaceAt(copy[head!], rest, replacement);
  return copy;
}

function removeAt(value: Json, path: (string | number)[]): Json {
  if (path.length === 0) return undefined;
  const [head, ...rest] = path;
  if (rest.length === 0) {
    if (Array.isArray(value)) return value.filter((_, i) => i !== head);
    const { [head as string]: _removed, ...others } = value as Record<string, Json>;
    return others;
  }
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, Json>;
  copy[head!] = removeAt(copy[head!], rest);
  return copy;
}

/** `valid` with one value replaced by random JSON, or one key removed. */
export function mutated(valid: Json): fc.Arbitrary<Json> {
  const all = paths(valid);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...all), fc.jsonValue()).map(([path, replacement]) => replaceAt(valid, path, replacement)),
    fc.constantFrom(...all.filter((path) => path.length > 0)).map((path) => removeAt(valid, path)),
  );
}

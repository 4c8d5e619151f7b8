/**
 * Kerchunk references in JSON, versions 0 and 1 (https://fsspec.github.io/kerchunk/spec.html), turned into one
 * table of {@link Reference}s. Pure: no I/O, so it is tested without servers.
 */
import { pathToFileURL } from 'node:url';
import { ReferenceFormatError } from './errors.js';
import { type TemplateValue, renderTemplate } from './template.js';

/** What one key of a reference set points at. */
export type Reference =
  /** Data held in the references themselves (inline text, or `base64:` binary). */
  | { readonly kind: 'inline'; readonly bytes: Uint8Array }
  /** A whole target file (`[url]`). */
  | { readonly kind: 'whole'; readonly url: string }
  /** `length` bytes of a target file from `offset` (`[url, offset, length]`). */
  | { readonly kind: 'range'; readonly url: string; readonly offset: number; readonly length: number };

/** Whether `key` names a Zarr v2 metadata document (`.zgroup`, `.zattrs`, `.zarray`, at any depth). */
export function isMetadataKey(key: string): boolean {
  return /(^|\/)\.z(group|attrs|array)$/.test(key);
}

/** A kerchunk reference set as JSON: version 0 (`{key: ref}`) or version 1 (`{version: 1, refs, templates?, gen?}`). */
export type ReferenceSpec = Readonly<Record<string, unknown>>;

const encoder = new TextEncoder();

/** Whether a target has a URL scheme (`s3:`, `https:`, `file:`, …), as against a path relative to the references. */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Resolves a target URL from a reference: absolute URLs and absolute paths as they are; a relative one against
 * `base`, the location of the reference file (kerchunk writes absolute URLs; relative ones let a reference set
 * move with its data).
 */
export function resolveTarget(url: string, base: string | undefined, key: string): string {
  if (url === '') throw new ReferenceFormatError(`reference ${JSON.stringify(key)}: empty target URL`);
  if (HAS_SCHEME.test(url) || url.startsWith('/')) return url;
  if (base === undefined) throw new ReferenceFormatError(`reference ${JSON.stringify(key)}: target ${JSON.stringify(url)} is relative, and the references were given without a base URL (pass { base })`);
  return new URL(url, HAS_SCHEME.test(base) ? base : pathToFileURL(base)).href;
}

function decodeInline(value: string): Uint8Array {
  return value.startsWith('base64:') ? new Uint8Array(Buffer.from(value.slice(7), 'base64')) : encoder.encode(value);
}

function offsetOrLength(value: unknown, what: string, key: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new ReferenceFormatError(`reference ${JSON.stringify(key)}: ${what} must be a whole number >= 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** One entry of `refs` (or of a version-0 set) as a {@link Reference}. */
function toReference(key: string, value: unknown, templates: Record<string, TemplateValue>, base: string | undefined): Reference {
  if (typeof value === 'string') return { kind: 'inline', bytes: decodeInline(value) };
  if (Array.isArray(value)) {
    const [url, offset, length] = value as unknown[];
    if (typeof url !== 'string' || (value.length !== 1 && value.length !== 3)) {
      throw new ReferenceFormatError(`reference ${JSON.stringify(key)}: expected [url] or [url, offset, length], got ${JSON.stringify(value).slice(0, 200)}`);
    }
    const target = resolveTarget(url.includes('{{') ? renderTemplate(url, templates) : url, base, key);
    if (value.length === 1) return { kind: 'whole', url: target };
    return { kind: 'range', url: target, offset: offsetOrLength(offset, 'offset', key), length: offsetOrLength(length, 'length', key) };
  }
  if (value !== null && typeof value === 'object') return { kind: 'inline', bytes: encoder.encode(JSON.stringify(value)) }; // as fsspec: JSON metadata given as an object
  throw new ReferenceFormatError(`reference ${JSON.stringify(key)}: expected a string, [url] or [url, offset, length], got ${JSON.stringify(value)}`);
}

/** The values one `gen` dimension takes: a list, or `{start?, stop, step?}` as Python's `range`. */
function dimensionValues(gen: number, name: string, spec: unknown): TemplateValue[] {
  if (Array.isArray(spec)) {
    for (const v of spec) if (typeof v !== 'number' && typeof v !== 'string') throw new ReferenceFormatError(`gen[${gen}] dimension ${JSON.stringify(name)}: values must be numbers or strings`);
    return spec as TemplateValue[];
  }
  if (spec !== null && typeof spec === 'object') {
    const { start = 0, stop, step = 1 } = spec as { start?: unknown; stop?: unknown; step?: unknown };
    for (const [what, v] of [['start', start], ['stop', stop], ['step', step]] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ReferenceFormatError(`gen[${gen}] dimension ${JSON.stringify(name)}: ${what} must be an integer, got ${JSON.stringify(v)}`);
    }
    const [a, b, s] = [start as number, stop as number, step as number];
    if (s === 0) throw new ReferenceFormatError(`gen[${gen}] dimension ${JSON.stringify(name)}: step must not be 0`);
    const values: number[] = [];
    for (let v = a; s > 0 ? v < b : v > b; v += s) values.push(v);
    return values;
  }
  throw new ReferenceFormatError(`gen[${gen}] dimension ${JSON.stringify(name)}: expected a list or {start, stop, step}, got ${JSON.stringify(spec)}`);
}

/** At most this many references from `gen` entries, so a small file cannot make the process build billions. */
const MAX_GENERATED = 50_000_000;

/** Expands `gen` entries: every combination of their dimensions' values (a cartesian product) is one reference. */
function expandGen(gens: unknown, templates: Record<string, TemplateValue>, base: string | undefined, into: Map<string, Reference>): void {
  if (gens === undefined) return;
  if (!Array.isArray(gens)) throw new ReferenceFormatError('"gen" must be a list');
  gens.forEach((entry: unknown, g) => {
    if (entry === null || typeof entry !== 'object') throw new ReferenceFormatError(`gen[${g}] must be an object`);
    const { key, url, offset, length, dimensions } = entry as Record<string, unknown>;
    if (typeof key !== 'string' || typeof url !== 'string') throw new ReferenceFormatError(`gen[${g}]: "key" and "url" must be strings`);
    if ((offset === undefined) !== (length === undefined)) throw new ReferenceFormatError(`gen[${g}]: "offset" and "length" go together`);
    if (dimensions === null || typeof dimensions !== 'object' || Array.isArray(dimensions)) throw new ReferenceFormatError(`gen[${g}]: "dimensions" must be an object`);
    const names = Object.keys(dimensions);
    const values = names.map((name) => dimensionValues(g, name, (dimensions as Record<string, unknown>)[name]));
    const count = values.reduce((n, v) => n * v.length, 1);
    if (into.size + count > MAX_GENERATED) throw new ReferenceFormatError(`gen[${g}] makes ${count} references; at most ${MAX_GENERATED} are allowed in all`);
    if (names.length === 0 || count === 0) return;
    const at = names.map(() => 0);
    const vars: Record<string, TemplateValue> = { ...templates };
    for (;;) {
      names.forEach((name, i) => (vars[name] = values[i]![at[i]!]!));
      const k = renderTemplate(key, vars);
      const target = resolveTarget(renderTemplate(url, vars), base, k);
      into.set(k, offset === undefined
        ? { kind: 'whole', url: target }
        : {
            kind: 'range', url: target,
            offset: offsetOrLength(renderTemplate(String(offset), vars), 'offset', k),
            length: offsetOrLength(renderTemplate(String(length), vars), 'length', k),
          });
      let d = names.length - 1; // the last dimension varies fastest, as itertools.product does
      while (d >= 0 && ++at[d]! === values[d]!.length) at[d--] = 0;
      if (d < 0) return;
    }
  });
}

/**
 * Turns a parsed kerchunk JSON reference set into a table of references.
 *
 * - Version 0: `{key: data | [url] | [url, offset, length]}`.
 * - Version 1: `{version: 1, refs, templates?, gen?}`: `{{name}}` in a target URL is replaced from `templates`,
 *   each `gen` entry expands its `dimensions` as a cartesian product, and its `key`, `url`, `offset` and `length`
 *   are templates evaluated with real arithmetic ({@link renderTemplate}).
 * - Data: text as UTF-8; `base64:…` as binary.
 *
 * @param base - Where the reference file is (a URL or a local path), to resolve relative target URLs.
 * @example
 * ```ts
 * const refs = parseReferences({ version: 1, templates: { u: 's3://b/f.nc' }, refs: { 'x/0': ['{{u}}', 0, 8] } });
 * refs.get('x/0'); // { kind: 'range', url: 's3://b/f.nc', offset: 0, length: 8 }
 * ```
 */
export function parseReferences(spec: ReferenceSpec, base?: string): Map<string, Reference> {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new ReferenceFormatError('references must be a JSON object');
  const out = new Map<string, Reference>();
  if (!('version' in spec)) {
    for (const [key, value] of Object.entries(spec)) out.set(key, toReference(key, value, {}, base));
    return out;
  }
  if (spec.version !== 1) throw new ReferenceFormatError(`unsupported references version ${JSON.stringify(spec.version)} (versions 0 and 1 are known)`);
  const templates: Record<string, TemplateValue> = {};
  const rawTemplates = spec.templates ?? {};
  if (rawTemplates === null || typeof rawTemplates !== 'object' || Array.isArray(rawTemplates)) throw new ReferenceFormatError('"templates" must be an object');
  for (const [name, value] of Object.entries(rawTemplates)) {
    if (typeof value !== 'string') throw new ReferenceFormatError(`template ${JSON.stringify(name)} must be a string`);
    if (value.includes('{{')) throw new ReferenceFormatError(`template ${JSON.stringify(name)}: templates with parameters (Jinja macros) are not supported`);
    templates[name] = value;
  }
  const refs = spec.refs ?? {};
  if (refs === null || typeof refs !== 'object' || Array.isArray(refs)) throw new ReferenceFormatError('"refs" must be an object');
  for (const [key, value] of Object.entries(refs)) out.set(key, toReference(key, value, templates, base));
  expandGen(spec.gen, templates, base, out);
  return out;
}

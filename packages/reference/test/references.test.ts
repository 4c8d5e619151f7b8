import { readFileSync } from 'node:fs';
import t from 'tap';
import { ReferenceFormatError, parseReferences } from '../src/index.js';

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const base = 'https://data.example.com/refs/ocean.json';

t.test('v1 (templates, gen, base64) and v0 made from the same file agree on every chunk they share', async (t) => {
  const v0 = parseReferences(fixture('ocean.v0.json'), base);
  const v1 = parseReferences(fixture('ocean.v1.json'), base);
  let compared = 0;
  for (const [key, ref] of v0) {
    if (key.startsWith('level/') || key.startsWith('time/') || key.endsWith('.zarray')) continue;
    t.same(v1.get(key), ref, key);
    compared++;
  }
  t.ok(compared > 30, `${compared} keys compared`);
  t.match(v0.get('temp/0.0.0.0'), { kind: 'range', url: 'https://data.example.com/refs/ocean.nc' }, 'relative targets resolve against the reference file');
  // level is one contiguous block in v0 and 12 gen chunks of 960 bytes in v1, which tile it exactly.
  const whole = v0.get('level/0.0.0.0') as { offset: number; length: number };
  const gen = [...v1].filter(([k]) => k.startsWith('level/') && !k.includes('.z')).map(([k, r]) => [k, r] as const);
  t.equal(gen.length, 12);
  t.same(gen.map(([k]) => k), ['0.0', '0.1', '0.2', '1.0', '1.1', '1.2', '2.0', '2.1', '2.2', '3.0', '3.1', '3.2'].map((tz) => `level/${tz}.0.0`), 'cartesian product, last dimension fastest');
  gen.forEach(([, r], i) => t.match(r, { kind: 'range', offset: whole.offset + i * 960, length: 960 }));
  t.equal(whole.length, 12 * 960);
  t.same(v1.get('time/0'), { kind: 'inline', bytes: new Uint8Array(new Int32Array([0, 31, 59, 90]).buffer) }, 'base64 inline');
});

t.test('every reference shape of the spec', async (t) => {
  const refs = parseReferences({
    version: 1,
    templates: { a: 's3://bucket/a.nc', b: 'relative/b.nc' },
    refs: { '.zgroup': '{"zarr_format":2}', 'x/.zattrs': { units: 'm' }, 'x/0': ['{{a}}'], 'x/1': ['{{b}}', 10, 20], 'x/2': ['/abs/path.nc', '5', '6'] },
    gen: [
      { key: 'y/{{i}}', url: '{{a}}', offset: '{{ i * 100 }}', length: '100', dimensions: { i: { start: 2, stop: 9, step: 3 } } },
      { key: 'z/{{f}}', url: 'file_{{f}}.bin', dimensions: { f: ['x', 'y'] } },
      { key: 'w/{{i}}', url: '{{a}}', offset: '0', length: '1', dimensions: { i: { start: 3, stop: 0, step: -2 } } },
    ],
  }, 'file:///data/refs.json');
  t.same(new TextDecoder().decode((refs.get('.zgroup') as { bytes: Uint8Array }).bytes), '{"zarr_format":2}');
  t.same(new TextDecoder().decode((refs.get('x/.zattrs') as { bytes: Uint8Array }).bytes), '{"units":"m"}', 'metadata given as an object');
  t.same(refs.get('x/0'), { kind: 'whole', url: 's3://bucket/a.nc' });
  t.same(refs.get('x/1'), { kind: 'range', url: 'file:///data/relative/b.nc', offset: 10, length: 20 });
  t.same(refs.get('x/2'), { kind: 'range', url: '/abs/path.nc', offset: 5, length: 6 });
  t.same(['y/2', 'y/5', 'y/8'].map((k) => refs.get(k)), [200, 500, 800].map((offset) => ({ kind: 'range', url: 's3://bucket/a.nc', offset, length: 100 })));
  t.equal(refs.get('y/11'), undefined);
  t.same(refs.get('z/y'), { kind: 'whole', url: 'file:///data/file_y.bin' });
  t.same(['w/3', 'w/1'].map((k) => refs.has(k)), [true, true], 'negative step');
});

t.test('malformed references are ReferenceFormatErrors that say what is wrong', async (t) => {
  const bad: [unknown, RegExp][] = [
    [[], /must be a JSON object/],
    [{ version: 3 }, /unsupported references version 3/],
    [{ k: [1, 2, 3] }, /reference "k": expected \[url\] or \[url, offset, length\]/],
    [{ k: ['s3://b/k', 1] }, /reference "k": expected \[url\] or/],
    [{ k: ['s3://b/k', -1, 2] }, /reference "k": offset must be a whole number >= 0, got -1/],
    [{ k: ['s3://b/k', 0, 1.5] }, /length must be a whole number/],
    [{ k: 5 }, /reference "k": expected a string/],
    [{ k: ['', 0, 1] }, /empty target URL/],
    [{ version: 1, refs: { k: ['{{nope}}', 0, 1] } }, /unknown variable "nope"/],
    [{ version: 1, templates: { a: '{{b}}' } }, /templates with parameters/],
    [{ version: 1, gen: {} }, /"gen" must be a list/],
    [{ version: 1, gen: [{ key: 'k', url: 'u', offset: '1', dimensions: {} }] }, /"offset" and "length" go together/],
    [{ version: 1, gen: [{ key: 'k', url: 'u', dimensions: { i: 5 } }] }, /dimension "i": expected a list or \{start, stop, step\}/],
    [{ version: 1, gen: [{ key: 'k', url: 'u', dimensions: { i: { stop: 'x' } } }] }, /dimension "i": stop must be an integer/],
    [{ version: 1, gen: [{ key: 'k', url: 'u', dimensions: { i: { stop: 1, step: 0 } } }] }, /step must not be 0/],
    [{ version: 1, gen: [{ key: 'k', url: 'u', dimensions: { a: { stop: 100_000 }, b: { stop: 100_000 } } }] }, /makes 10000000000 references/],
    [{ version: 1, gen: [{ key: 'k{{i}}', url: 's3://b/k', offset: '{{ i / 2 }}', length: '1', dimensions: { i: [1] } }] }, /reference "k1": offset must be a whole number >= 0, got "0.5"/],
  ];
  for (const [spec, message] of bad) {
    let error: unknown;
    try {
      parseReferences(spec as Record<string, unknown>, base);
    } catch (e) {
      error = e;
    }
    t.ok(ReferenceFormatError.is(error), `${JSON.stringify(spec).slice(0, 80)}: a ReferenceFormatError`);
    t.match((error as Error | undefined)?.message, message);
  }
});

import { readFileSync } from 'node:fs';
import t from 'tap';
import { ReferenceFormatError, renderTemplate } from '../src/index.js';

// Rendered by Jinja2 itself (fixtures/make-template-cases.py), as fsspec renders kerchunk `gen` templates.
const { vars, cases } = JSON.parse(readFileSync(new URL('../fixtures/template-cases.json', import.meta.url), 'utf8')) as {
  vars: Record<string, number | string>;
  cases: { template: string; rendered: string }[];
};

t.test('renders every case as Jinja2 does', async (t) => {
  t.ok(cases.length >= 30);
  for (const c of cases) t.equal(renderTemplate(c.template, vars), c.rendered, c.template);
});

t.test('the issue example: arithmetic with parentheses over several variables', async (t) => {
  t.equal(renderTemplate('{{ 100 + (t * 3 + z) }}', { t: 2, z: 1 }), '107');
  t.equal(renderTemplate('{{u}}', { u: 's3://b/k' }), 's3://b/k');
});

t.test('bad templates are ReferenceFormatErrors that name the template and the fault', async (t) => {
  const bad: [string, RegExp][] = [
    ['{{ t * }}', /ends too early/],
    ['{{ nope + 1 }}', /unknown variable "nope"/],
    ['{{ constructor }}', /unknown variable "constructor"/], // never a property of Object.prototype
    ['{{ __proto__ }}', /unknown variable "__proto__"/],
    ['{{ t.__class__ }}', /unsupported syntax at "\.__class__ }}"|unsupported syntax/],
    ['{{ t | int }}', /unsupported syntax/],
    ['{{ range(3) }}', /unknown variable "range"/],
    ['{% for i in x %}{% endfor %}', /not supported/],
    ['{{ t', /without }}/],
    ['{{ (t + 1 }}', /missing \)/],
    ['{{ t / 0 }}', /division by zero/],
    ['{{ 1 + 2 ~ 3 }}', /cannot apply \+ to a number and a string/], // Jinja2: TypeError too (`~` binds tighter)
    ['{{ 9007199254740993 }}', /beyond 2\^53/],
    ['{{ 2 ** 60 }}', /beyond 2\^53/],
    ['{{ "x }}', /unterminated string/],
    ['{{ }}', /empty expression/],
  ];
  for (const [template, message] of bad) {
    let error: unknown;
    try {
      renderTemplate(template, { t: 7 });
    } catch (e) {
      error = e;
    }
    t.ok(ReferenceFormatError.is(error), `${template}: a ReferenceFormatError`);
    t.match((error as Error | undefined)?.message, message, template);
    t.match((error as Error | undefined)?.message, /^template "/, `${template}: the message names the template`);
  }
});

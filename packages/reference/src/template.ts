/**
 * The `{{ … }}` templates of kerchunk references (version 1 `templates` and `gen`), evaluated as the Jinja2
 * expressions fsspec renders them with: integer and float arithmetic with Python's rules, parentheses, several
 * variables, string literals and `~` concatenation. It is a small parser and evaluator, never `eval` or
 * `new Function`, so a reference file cannot run code. Anything else (filters, calls, `{% %}` blocks) is a
 * {@link ReferenceFormatError} naming the template, not a silently wrong key.
 */
import { ReferenceFormatError } from './errors.js';

/** A template variable: a `gen` dimension's value, or a `templates` entry (a string). */
export type TemplateValue = number | string;

/** A value during evaluation. Python keeps ints and floats apart (`7 / 2` is `3.5`, `6 / 2` renders as `3.0`). */
type Value = { kind: 'int'; n: number } | { kind: 'float'; n: number } | { kind: 'str'; s: string };

type Token =
  | { t: 'num'; v: Value }
  | { t: 'str'; s: string }
  | { t: 'name'; s: string }
  | { t: 'op'; s: string };

const OPERATORS = ['**', '//', '+', '-', '*', '/', '%', '~', '(', ')'];

function tokenize(expr: string, template: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const number = /^(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?/.exec(expr.slice(i));
    if (number) {
      const text = number[0];
      const isFloat = /[.eE]/.test(text);
      tokens.push({ t: 'num', v: isFloat ? { kind: 'float', n: Number(text) } : { kind: 'int', n: safeInt(Number(text), template) } });
      i += text.length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i));
    if (name) {
      tokens.push({ t: 'name', s: name[0] });
      i += name[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const close = expr.indexOf(c, i + 1);
      if (close < 0) throw new ReferenceFormatError(`template ${show(template)}: unterminated string`);
      tokens.push({ t: 'str', s: expr.slice(i + 1, close) });
      i = close + 1;
      continue;
    }
    const op = OPERATORS.find((o) => expr.startsWith(o, i));
    if (!op) throw new ReferenceFormatError(`template ${show(template)}: unsupported syntax at ${show(expr.slice(i))} (only arithmetic, ~, parentheses, numbers, strings and names)`);
    tokens.push({ t: 'op', s: op });
    i += op.length;
  }
  return tokens;
}

/** A recursive-descent parser that evaluates as it parses, with Jinja2's precedence: `+ -` < `~` < `* / // %` < `**` < unary. */
class Evaluator {
  #pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly vars: (name: string) => TemplateValue | undefined,
    private readonly template: string,
  ) {}

  evaluate(): Value {
    if (this.tokens.length === 0) throw this.#error('empty expression');
    const value = this.#additive();
    if (this.#pos < this.tokens.length) throw this.#error(`unexpected ${describe(this.tokens[this.#pos]!)}`);
    return value;
  }

  #peekOp(...ops: readonly string[]): string | undefined {
    const token = this.tokens[this.#pos];
    return token?.t === 'op' && ops.includes(token.s) ? token.s : undefined;
  }

  /** `operand (op operand)*` for `ops`, folded from the left with `combine` (arithmetic by default). */
  #binary(ops: readonly string[], operand: () => Value, combine = (op: string, a: Value, b: Value): Value => this.#arith(op, a, b)): Value {
    let left = operand();
    for (let op = this.#peekOp(...ops); op; op = this.#peekOp(...ops)) {
      this.#pos++;
      left = combine(op, left, operand());
    }
    return left;
  }

  #additive(): Value {
    return this.#binary(['+', '-'], () => this.#concat());
  }

  #concat(): Value {
    return this.#binary(['~'], () => this.#multiplicative(), (_, a, b) => ({ kind: 'str', s: render(a) + render(b) }));
  }

  #multiplicative(): Value {
    return this.#binary(['*', '/', '//', '%'], () => this.#power());
  }

  /** Left-associative, with unary minus binding tighter, as in Jinja2: `-2 ** 2` is 4, `2 ** 3 ** 2` is 64. */
  #power(): Value {
    return this.#binary(['**'], () => this.#unary());
  }

  #unary(): Value {
    const op = this.#peekOp('-', '+');
    if (!op) return this.#primary();
    this.#pos++;
    const operand = this.#unary();
    if (operand.kind === 'str') throw this.#error(`bad operand for unary ${op}: a string`);
    return op === '-' ? { ...operand, n: -operand.n } : operand;
  }

  #primary(): Value {
    const token = this.tokens[this.#pos++];
    if (!token) throw this.#error('the expression ends too early');
    if (token.t === 'num') return token.v;
    if (token.t === 'str') return { kind: 'str', s: token.s };
    if (token.t === 'name') {
      const value = this.vars(token.s);
      if (value === undefined) throw this.#error(`unknown variable ${show(token.s)}`);
      if (typeof value === 'string') return { kind: 'str', s: value };
      return Number.isInteger(value) ? { kind: 'int', n: safeInt(value, this.template) } : { kind: 'float', n: value };
    }
    if (token.s === '(') {
      const inner = this.#additive();
      if (!this.#peekOp(')')) throw this.#error('missing )');
      this.#pos++;
      return inner;
    }
    throw this.#error(`unexpected ${describe(token)}`);
  }

  #arith(op: string, a: Value, b: Value): Value {
    if (a.kind === 'str' || b.kind === 'str') {
      if (op === '+' && a.kind === 'str' && b.kind === 'str') return { kind: 'str', s: a.s + b.s };
      throw this.#error(`cannot apply ${op} to ${a.kind === 'str' ? 'a string' : 'a number'} and ${b.kind === 'str' ? 'a string' : 'a number'} (use ~ to join text)`);
    }
    const ints = a.kind === 'int' && b.kind === 'int';
    const x = a.n;
    const y = b.n;
    if ((op === '/' || op === '//' || op === '%') && y === 0) throw this.#error('division by zero');
    switch (op) {
      case '+':
        return this.#number(x + y, ints);
      case '-':
        return this.#number(x - y, ints);
      case '*':
        return this.#number(x * y, ints);
      case '/':
        return { kind: 'float', n: x / y };
      case '//':
        return this.#number(Math.floor(x / y), ints);
      case '%':
        return this.#number(x - y * Math.floor(x / y), ints); // Python: the result takes the divisor's sign
      default: // '**'
        return this.#number(x ** y, ints && y >= 0);
    }
  }

  #number(n: number, int: boolean): Value {
    if (!int) return { kind: 'float', n };
    return { kind: 'int', n: safeInt(n, this.template) };
  }

  #error(reason: string): ReferenceFormatError {
    return new ReferenceFormatError(`template ${show(this.template)}: ${reason}`);
  }
}

function safeInt(n: number, template: string): number {
  if (!Number.isSafeInteger(n)) throw new ReferenceFormatError(`template ${show(template)}: integer ${n} is beyond 2^53, the largest exact integer`);
  return n;
}

/** Renders a value as Jinja2 (that is, Python's `str`) does: `3`, `3.0`, `0.5`, text as it is. */
function render(v: Value): string {
  if (v.kind === 'str') return v.s;
  if (v.kind === 'int') return String(v.n);
  if (Number.isNaN(v.n)) return 'nan';
  if (!Number.isFinite(v.n)) return v.n > 0 ? 'inf' : '-inf';
  return Number.isInteger(v.n) && Math.abs(v.n) < 1e16 ? `${v.n}.0` : String(v.n);
}

function describe(token: Token): string {
  if (token.t === 'num') return `number ${render(token.v)}`;
  if (token.t === 'str') return `string ${show(token.s)}`;
  return token.t === 'name' ? `name ${show(token.s)}` : show(token.s);
}

function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

/**
 * Renders a template: text outside `{{ }}` as it is, each `{{ expression }}` evaluated over `vars`.
 *
 * @example
 * ```ts
 * renderTemplate('{{ 100 + (t * 3 + z) }}', { t: 2, z: 1 }); // "107"
 * renderTemplate('{{u}}/data_{{ i // 10 }}.nc', { u: 's3://bucket', i: 42 }); // "s3://bucket/data_4.nc"
 * ```
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, TemplateValue>>): string {
  if (template.includes('{%') || template.includes('{#')) throw new ReferenceFormatError(`template ${show(template)}: {% %} blocks and {# #} comments are not supported`);
  const lookup = (name: string): TemplateValue | undefined => (Object.hasOwn(vars, name) ? vars[name] : undefined);
  let out = '';
  let at = 0;
  for (;;) {
    const open = template.indexOf('{{', at);
    if (open < 0) return out + template.slice(at);
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw new ReferenceFormatError(`template ${show(template)}: {{ without }}`);
    out += template.slice(at, open) + render(new Evaluator(tokenize(template.slice(open + 2, close), template), lookup, template).evaluate());
    at = close + 2;
  }
}

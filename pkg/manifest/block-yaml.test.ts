// The block-style reader must give exactly what js-yaml gives, or decline. Checked on hand-picked
// cases and on thousands of random documents in the styles tools write (and broken variants of them).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import jsyaml from 'js-yaml';
import { parseBlockYaml } from './block-yaml.js';
import { parseDocuments } from './yaml.js';

const implicit = (jsyaml.CORE_SCHEMA as unknown as { implicit: jsyaml.Type[] }).implicit;
const resolve = (s: string): unknown => {
  for (const t of implicit) if (t.resolve(s)) return t.construct(s) as unknown;
  return s;
};
const fast = (text: string) => parseBlockYaml(text, resolve);

/** js-yaml's documents, or the error it throws. */
function reference(text: string): { docs?: unknown[]; error?: string } {
  try {
    return { docs: jsyaml.loadAll(text, undefined, { schema: jsyaml.CORE_SCHEMA }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Fast results equal js-yaml's whenever the fast reader answers; returns whether it did. */
function agrees(text: string): boolean {
  const got = fast(text);
  if (got === undefined) return false;
  const want = reference(text);
  assert.equal(want.error, undefined, `accepted what js-yaml refuses: ${JSON.stringify(text)}`);
  assert.deepStrictEqual(got, want.docs, `differs from js-yaml: ${JSON.stringify(text)}`);
  return true;
}

describe('block-style YAML reader', () => {
  test('reads the common forms exactly as js-yaml does', { timeout: 10_000 }, () => {
    const accepted = [
      '',
      '---',
      '---\n',
      'a: 1\n---\n',
      '---\na: 1\n',
      '\n---\n---\n',
      '# c\n---\na: 1',
      'x\n',
      'a:\n- x\n- y\nb: 1',
      'a:\n  - x\nb:',
      '- a: 1\n  b: 2\n- c',
      '-   a: 1\n    b:\n    - 2\n-\n- [] \n- {}',
      'a:   x  \r\nb: "q"  \r\n',
      "a: 'it''s'\nb: ''\nc: \"\"",
      '"80": a\n1.0: b\ntrue: c\nnull: d',
      'a: 0o17\nb: 012\nc: 1_000\nd: .5\ne: 1e3\nf: +1\ng: 0x1F\nh: -0\ni: 1.5_\nj: .inf\nk: 1.\nl: ~\nm: True\nn: no\no: 10.96.0.1',
      '-1: x\nimage: repo/img#tag\nurl: http://x:80/y',
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels:\n    app.kubernetes.io/name: x\nspec:\n  ports:\n  - name: http\n    port: 80\n',
      '  indented: 1\n  root: 2\n',
      'a:\n    b:\n        c: 1\n    d: 2\ne: 3',
      'k: {}\nl: []\n',
    ];
    for (const t of accepted) assert.ok(agrees(t), `declined ${JSON.stringify(t)}`);
  });

  test('declines what it does not read, valid or not, and never parses an error away', { timeout: 10_000 }, () => {
    const declined = [
      'a: [1, 2]', 'a: {b: 1}', 'a: &x 1\nb: *x', 'a: !!str 1', 'a: |\n  x', 'a: >\n  x', 'k: v\n  w', 'a: b # c', 'a: "x\\ty"',
      'a:\n  b: 1\n c: 2', 'a: -\nb: 1', '? a\n: b', 'a: b: c', '- - 1', 'a: 1\na: 2', '__proto__: {}', '--- x', '%YAML 1.2\n---\na: 1',
      'a: 1\n...\n', 'a:\tb', 'a: "open', "a: 'open", 'key:\n  value', '"a" : 1', '\ufeffa: 1', 'a: 1\rb: 2', 'a: x\n- y',
    ];
    for (const t of declined) assert.equal(fast(t), undefined, `accepted ${JSON.stringify(t)}`);
    // What it declines still reads (or fails) as with js-yaml alone.
    assert.deepEqual(parseDocuments('a: [1, 2]\n'), [{ a: [1, 2] }]);
    assert.throws(() => parseDocuments('a: 1\na: 2\n'), /duplicated mapping key/);
  });

  test('agrees with js-yaml on random documents in the styles tools write, and on broken variants', { timeout: 60_000 }, () => {
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const scalars = ['x', 'default', 'TCP', '10.244.1.5', '80', '-1', '0', '012', '1_000', '0x1F', '1.5', '.inf', 'true', 'False', 'null', '~', 'yes', '',
      ' lead', 'trail ', 'a: b', 'a #b', 'a#b', "it's", 'say "hi"', 'back\\slash', 'multi\nline', 'ünï', '-', '- x', '[x]', '{x}', '*x', '&x', '!x', '@x',
      'http://h:1/p', 'key:', '#', '?', ':x', 'True', '1e3', '+1', '.5', '1.'];
    const keys = ['name', 'port', 'app.kubernetes.io/name', '80', 'true', 'null', 'a b', 'a:b', 'a: b', '-k', "k'", 'k"', '', '1.0', '__proto__x'];
    const value = (depth: number): unknown => {
      const r = rnd(10);
      if (depth > 3 || r < 4) {
        const k = rnd(4);
        if (k === 0) return rnd(2000) - 1000;
        if (k === 1) return [true, false, null][rnd(3)];
        if (k === 2) return rnd(100) / 8;
        return scalars[rnd(scalars.length)];
      }
      if (r < 7) return Array.from({ length: rnd(4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = rnd(5); i > 0; i--) o[keys[rnd(keys.length)]] = value(depth + 1);
      return o;
    };
    let accepted = 0;
    let total = 0;
    for (let n = 0; n < 1500; n++) {
      const docs = Array.from({ length: 1 + rnd(3) }, () => value(0));
      const style = rnd(4);
      const opts: jsyaml.DumpOptions = { schema: jsyaml.CORE_SCHEMA, noArrayIndent: style === 1, quotingType: style === 2 ? '"' : "'", forceQuotes: style === 3, lineWidth: -1 };
      const text = docs.map((d) => jsyaml.dump(d, opts)).join('---\n');
      total++;
      if (agrees(text)) accepted++;
      // Broken or unusual variants: a line dropped, an indentation changed, a comment, CRLF.
      const lines = text.split('\n');
      const k = rnd(Math.max(1, lines.length));
      const variants = [
        lines.filter((_, i) => i !== k).join('\n'),
        lines.map((l, i) => (i === k ? ` ${l}` : l)).join('\n'),
        lines.map((l, i) => (i === k ? `${l} # note` : l)).join('\n'),
        lines.map((l, i) => (i === k ? `# note\n${l}` : l)).join('\n'),
        text.replace(/\n/g, '\r\n'),
      ];
      for (const v of variants) {
        total++;
        if (agrees(v)) accepted++;
      }
    }
    // Most of what tools write is taken by the fast reader (the rest is quoting and scalars it leaves to js-yaml).
    assert.ok(accepted > total / 4, `only ${accepted} of ${total} texts accepted`);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { YamlSyntaxError, parseDocument, parseDocuments, parseText } from './index.js';

describe('manifest documents', () => {
  test('multi-document YAML, empty documents kept as null so indexes match', () => {
    assert.deepEqual(parseDocuments('a: 1\n---\n---\nb: [x, y]\n'), [{ a: 1 }, null, { b: ['x', 'y'] }]);
  });

  test('JSON takes the fast path, and broken JSON still gets a positioned error', () => {
    assert.deepEqual(parseDocuments('  {"kind": "List", "items": []}'), [{ kind: 'List', items: [] }]);
    assert.throws(() => parseDocuments('{"a": 1,,}'), YamlSyntaxError);
    // parseText says which way the text was read.
    assert.deepEqual(parseText('\n[1, 2]\n'), { documents: [[1, 2]], json: true });
    assert.deepEqual(parseText('{a: 1}'), { documents: [{ a: 1 }], json: false }, 'flow YAML, not JSON');
    assert.deepEqual(parseText('a: 1\n'), { documents: [{ a: 1 }], json: false });
  });

  test('syntax errors name the document and line', () => {
    assert.throws(
      () => parseDocuments('a: 1\n---\nb: 2\n---\nc: [unclosed\n'),
      (e: unknown) => e instanceof YamlSyntaxError && e.document === 2 && e.line >= 5,
    );
    assert.throws(() => parseDocuments('a: 1\na: 2\n'), /duplicated mapping key/);
  });

  test('an alias bomb is refused instead of walked', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 12; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
    assert.throws(() => parseDocuments(lines.join('\n')), /too many YAML aliases/);
  });

  test('a config file is one document', () => {
    assert.deepEqual(parseDocument('log-level: debug\n'), { 'log-level': 'debug' });
    assert.throws(() => parseDocument('a: 1\n---\nb: 2\n'), /expected one document/);
  });
});

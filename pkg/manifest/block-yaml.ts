// A fast reader for the block-style YAML that tools write and people copy: `kubectl get -o yaml`,
// js-yaml's dump, hand-written manifests. Mappings and sequences by indentation (a sequence may sit at
// its key's indentation, as kubectl writes it), plain and quoted one-line scalars, `{}` and `[]`,
// comment lines, `---` between documents. js-yaml takes ~0.3 s for a 6.5 MB manifest of 20,000
// objects; this reads it in a fraction of that, working on positions in the text (a line is three
// numbers, not a string) and cutting out only keys and values.
//
// It gives exactly what js-yaml gives or declines: anything else (flow collections, anchors and
// aliases, tags, block and multi-line scalars, escapes in double quotes, comments after a value,
// tabs, duplicate keys, odd indentation, directives) makes it return undefined, and the caller reads
// the text with js-yaml, whose results and error messages then stand. Plain scalars (values and keys)
// are typed by the schema's own implicit resolvers (null, bool, int, float), so typing cannot drift.

/** The reader gave up: the text is not (only) the block style handled here. */
class Decline extends Error {}

const decline = (): never => {
  throw new Decline();
};

/** Turns a plain scalar into its value (the schema's implicit types: null, bool, int, float, else a string). */
export type PlainResolver = (text: string) => unknown;

const SPACE = 32;
const DASH = 45;
const COLON = 58;
const HASH = 35;
const SQUOTE = 39;
const DQUOTE = 34;

/** Whether a plain scalar may not start with this character here (YAML indicators, or forms this reader declines). */
function declinedStart(c: number): boolean {
  switch (c) {
    case 91: // [
    case 93: // ]
    case 123: // {
    case 125: // }
    case 44: // ,
    case HASH:
    case 38: // &
    case 42: // *
    case 33: // !
    case 124: // |
    case 62: // >
    case SQUOTE:
    case DQUOTE:
    case 37: // %
    case 64: // @
    case 96: // `
    case 63: // ?
    case COLON:
      return true;
    default:
      return false;
  }
}

/**
 * The documents of `text`, as js-yaml's loadAll with the same schema would return them, or undefined
 * when the text uses YAML this reader does not handle (read it with js-yaml then).
 */
export function parseBlockYaml(text: string, resolvePlain: PlainResolver): unknown[] | undefined {
  // Tabs, a byte order mark and a \r that does not end a line: left to js-yaml.
  if (text.includes('\t') || text.charCodeAt(0) === 0xfeff || (text.includes('\r') && /\r(?!\n)/.test(text))) return undefined;
  try {
    return new Reader(text, resolvePlain).documents();
  } catch (err) {
    if (err instanceof Decline) return undefined;
    throw err;
  }
}

class Reader {
  /** Content lines of the current document: first character, end (trailing spaces cut), indentation. */
  private starts: number[] = [];
  private ends: number[] = [];
  private indents: number[] = [];
  /** The current line of the document being read. */
  private i = 0;

  constructor(
    private readonly text: string,
    private readonly resolvePlain: PlainResolver,
  ) {}

  documents(): unknown[] {
    const text = this.text;
    const docs: unknown[] = [];
    let started = false; // a `---` was seen: what follows is a document even when empty
    let pos = 0;
    while (pos <= text.length) {
      let eol = text.indexOf('\n', pos);
      if (eol < 0) eol = text.length;
      let end = eol;
      if (end > pos && text.charCodeAt(end - 1) === 13) end--; // \r\n
      const lineStart = pos;
      pos = eol + 1;
      let start = lineStart;
      while (start < end && text.charCodeAt(start) === SPACE) start++;
      if (start === end || text.charCodeAt(start) === HASH) continue; // blank or comment line
      if (start === lineStart) {
        const c = text.charCodeAt(start);
        if (c === DASH && text.startsWith('---', start)) {
          for (let k = start + 3; k < end; k++) if (text.charCodeAt(k) !== SPACE) decline(); // `--- value`, `--- # c`
          if (this.starts.length || started) docs.push(this.document());
          started = true;
          continue;
        }
        if (c === 37 /* % */ || (c === 46 /* . */ && text.startsWith('...', start))) decline();
      }
      while (text.charCodeAt(end - 1) === SPACE) end--;
      this.starts.push(start);
      this.ends.push(end);
      this.indents.push(start - lineStart);
    }
    if (this.starts.length || started) docs.push(this.document());
    return docs;
  }

  /** Reads the collected lines as one document (null when there are none) and clears them. */
  private document(): unknown {
    const n = this.starts.length;
    let value: unknown = null;
    if (n) {
      this.i = 0;
      const s = this.starts[0];
      const e = this.ends[0];
      if (this.isItem(s, e) || this.keyEnd(s, e) >= 0) {
        value = this.node(this.indents[0]);
      } else {
        value = this.scalar(s, e); // a document that is one scalar
        this.i = 1;
      }
      if (this.i !== n) decline(); // lines left over: indentation this reader does not follow
    }
    this.starts = [];
    this.ends = [];
    this.indents = [];
    return value;
  }

  /** The block node starting at the current line, which is indented exactly `indent`. */
  private node(indent: number): unknown {
    if (this.indents[this.i] !== indent) decline();
    const s = this.starts[this.i];
    return this.isItem(s, this.ends[this.i]) ? this.sequence(indent) : this.mapping(indent, s);
  }

  /**
   * A mapping whose keys are at column `indent`; its first entry starts at `from` on the current line
   * (the line's first character, or what follows `- ` on a sequence item's line).
   */
  private mapping(indent: number, from: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let s = from;
    for (;;) {
      const e = this.ends[this.i];
      const colon = this.keyEnd(s, e);
      if (colon < 0) decline();
      const key = this.key(s, colon);
      // Duplicates are an error for js-yaml; `__proto__` needs defineProperty: both left to js-yaml.
      if (key === '__proto__' || Object.prototype.hasOwnProperty.call(out, key)) decline();
      let v = colon + 1;
      while (v < e && this.text.charCodeAt(v) === SPACE) v++;
      this.i++;
      out[key] = v === e ? this.nested(indent, true) : this.inline(v, e, indent);
      if (this.i === this.starts.length) return out;
      const next = this.indents[this.i];
      if (next < indent) return out;
      s = this.starts[this.i];
      if (next > indent || this.isItem(s, this.ends[this.i])) decline();
    }
  }

  /** A sequence whose dashes are at column `indent`, starting at the current line. */
  private sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const s = this.starts[this.i];
      const e = this.ends[this.i];
      let content = s + 1;
      while (content < e && this.text.charCodeAt(content) === SPACE) content++;
      if (content === e) {
        this.i++;
        out.push(this.nested(indent, false));
      } else if (this.isItem(content, e)) {
        decline(); // `- - x`
      } else if (this.keyEnd(content, e) >= 0) {
        out.push(this.mapping(indent + (content - s), content));
      } else {
        this.i++;
        out.push(this.inline(content, e, indent));
      }
      if (this.i === this.starts.length || this.indents[this.i] < indent) return out;
      if (this.indents[this.i] > indent) decline();
      // A key at the dashes' column ends a sequence that is that mapping's value (kubectl's style);
      // anywhere else the caller finds the line left over and declines.
      if (!this.isItem(this.starts[this.i], this.ends[this.i])) return out;
    }
  }

  /**
   * The value of a key (`ofKey`) or dash with nothing after it on its line (the current line is the
   * next one): a more indented block, for a key a sequence at the key's own column (as kubectl writes
   * `ports:` / `- name:`), else null.
   */
  private nested(indent: number, ofKey: boolean): unknown {
    if (this.i === this.starts.length) return null;
    const next = this.indents[this.i];
    if (next > indent) return this.node(next);
    if (ofKey && next === indent && this.isItem(this.starts[this.i], this.ends[this.i])) return this.sequence(indent);
    return null;
  }

  /** A one-line value at [s, e) after `key: ` or `- `; the next line must not continue it. */
  private inline(s: number, e: number, indent: number): unknown {
    if (this.i < this.starts.length && this.indents[this.i] > indent) decline(); // a multi-line scalar, or bad indentation
    const text = this.text;
    if (e - s === 2) {
      const a = text.charCodeAt(s);
      const b = text.charCodeAt(s + 1);
      if (a === 123 && b === 125) return {}; // {}
      if (a === 91 && b === 93) return []; // []
    }
    return this.scalar(s, e);
  }

  /** A scalar filling [s, e): quoted (a string as written) or plain (typed). */
  private scalar(s: number, e: number): unknown {
    const c = this.text.charCodeAt(s);
    if (c === DQUOTE || c === SQUOTE) {
      const [value, end] = this.quoted(s, e);
      if (end !== e) decline();
      return value;
    }
    return this.resolvePlain(this.plain(s, e));
  }

  /** A mapping key at [s, e): quoted (a string as written) or plain (typed, then its string form, as js-yaml does). */
  private key(s: number, e: number): string {
    const c = this.text.charCodeAt(s);
    if (c === DQUOTE || c === SQUOTE) {
      const [value, end] = this.quoted(s, e);
      if (end !== e) decline();
      return value;
    }
    return String(this.resolvePlain(this.plain(s, e)));
  }

  /** Whether [s, e) is a block sequence item (`- x` or a lone `-`). */
  private isItem(s: number, e: number): boolean {
    return this.text.charCodeAt(s) === DASH && (s + 1 === e || this.text.charCodeAt(s + 1) === SPACE);
  }

  /**
   * The position of the colon ending the key of a mapping entry in [s, e) (`key: value` or `key:`),
   * or -1 when it is not one. A quoted key is skipped over as a whole.
   */
  private keyEnd(s: number, e: number): number {
    const text = this.text;
    let from = s;
    const c = text.charCodeAt(s);
    if (c === DQUOTE || c === SQUOTE) {
      try {
        from = this.quoted(s, e)[1];
      } catch (err) {
        if (err instanceof Decline) return -1;
        throw err;
      }
      if (text.charCodeAt(from) !== COLON) return -1;
    }
    for (let k = text.indexOf(':', from); k >= 0 && k < e; k = text.indexOf(':', k + 1)) {
      if (k === e - 1 || text.charCodeAt(k + 1) === SPACE) return k;
    }
    return -1;
  }

  /** The plain scalar [s, e), checked in one pass: no indicator first, no `: `, ` #` or trailing space inside. */
  private plain(s: number, e: number): string {
    const text = this.text;
    if (s >= e) decline();
    const first = text.charCodeAt(s);
    if (declinedStart(first) || (first === DASH && (s + 1 === e || text.charCodeAt(s + 1) === SPACE))) decline();
    for (let k = s + 1; k < e; k++) {
      const c = text.charCodeAt(k);
      if (c === SPACE) {
        const d = text.charCodeAt(k + 1);
        if (k + 1 === e || d === HASH) decline(); // trailing space, or a comment after the value
      } else if (c === COLON && (k + 1 === e || text.charCodeAt(k + 1) === SPACE)) {
        decline(); // `a: b: c`
      }
    }
    return text.slice(s, e);
  }

  /**
   * The quoted scalar starting at `s` (single- or double-quoted, ending before `e`): its value and the
   * position after the closing quote. Declines backslashes in double quotes (escapes).
   */
  private quoted(s: number, e: number): [string, number] {
    const text = this.text;
    const q = text[s];
    let out = '';
    let k = s + 1;
    for (;;) {
      const end = text.indexOf(q, k);
      if (end < 0 || end >= e) decline(); // not closed on this line
      if (q === '"') {
        const body = text.slice(k, end);
        if (body.includes('\\')) decline();
        return [out + body, end + 1];
      }
      if (end + 1 < e && text.charCodeAt(end + 1) === SQUOTE) {
        out += text.slice(k, end) + "'";
        k = end + 2;
        continue;
      }
      return [out + text.slice(k, end), end + 1];
    }
  }
}

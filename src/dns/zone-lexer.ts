// Splits RFC 1035 master-file text into entries of tokens: comments dropped, parentheses
// joined across lines, quoted strings and backslash escapes decoded to bytes.
// Knows nothing about record types; zone-file.ts gives the tokens meaning.

export class ZoneFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ZoneFileError';
  }
}

export interface ZoneToken {
  /** the decoded bytes (escapes applied, quotes removed) */
  readonly bytes: Buffer;
  /** the text as written, for names and numbers */
  readonly text: string;
  readonly quoted: boolean;
}

export interface ZoneEntry {
  /** 1-based line the entry starts on */
  readonly line: number;
  /** a line starting with blank space reuses the previous owner name */
  readonly ownerOmitted: boolean;
  readonly tokens: readonly ZoneToken[];
}

const space = new Set([' ', '\t']);

export function lexZone(text: string, file: string): ZoneEntry[] {
  const entries: ZoneEntry[] = [];
  let line = 1;
  let depth = 0;
  let start = 1;
  let ownerOmitted = false;
  let atLineStart = true;
  let tokens: ZoneToken[] = [];
  let i = 0;

  const fail = (reason: string, at = line): never => {
    throw new ZoneFileError(file, at, reason);
  };
  const finishEntry = (): void => {
    if (tokens.length > 0) entries.push({ line: start, ownerOmitted, tokens });
    tokens = [];
  };

  while (i < text.length) {
    const ch = text[i]!;
    if (atLineStart && depth === 0) {
      atLineStart = false;
      start = line;
      ownerOmitted = space.has(ch);
    }
    if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      i++;
      line++;
      if (depth === 0) {
        finishEntry();
        atLineStart = true;
      }
      continue;
    }
    if (space.has(ch)) {
      i++;
      continue;
    }
    if (ch === ';') {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (ch === '(') {
      depth++;
      i++;
      continue;
    }
    if (ch === ')') {
      if (depth === 0) fail('")" without a matching "("');
      depth--;
      i++;
      continue;
    }
    const token = ch === '"' ? readQuoted(text, i, line, file) : readWord(text, i, line, file);
    tokens.push(token.token);
    i = token.end;
  }
  if (depth > 0) fail('"(" is never closed', start);
  finishEntry();
  return entries;
}

function readQuoted(text: string, from: number, line: number, file: string): { token: ZoneToken; end: number } {
  const bytes: number[] = [];
  let i = from + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      return { token: { bytes: Buffer.from(bytes), text: text.slice(from, i + 1), quoted: true }, end: i + 1 };
    }
    if (ch === '\n' || ch === '\r') break;
    if (ch === '\\') {
      i = readEscape(text, i, bytes, line, file);
      continue;
    }
    i = appendCharacter(text, i, bytes);
  }
  throw new ZoneFileError(file, line, 'quoted string is not closed on its line');
}

/** Appends the character at `i` as UTF-8 and returns the index after it (surrogate pairs included). */
function appendCharacter(text: string, i: number, bytes: number[]): number {
  const s = String.fromCodePoint(text.codePointAt(i)!);
  bytes.push(...Buffer.from(s, 'utf8'));
  return i + s.length;
}

function readWord(text: string, from: number, line: number, file: string): { token: ZoneToken; end: number } {
  const bytes: number[] = [];
  let i = from;
  while (i < text.length) {
    const ch = text[i]!;
    if (space.has(ch) || ch === '\n' || ch === '\r' || ch === ';' || ch === '(' || ch === ')' || ch === '"') break;
    if (ch === '\\') {
      i = readEscape(text, i, bytes, line, file);
      continue;
    }
    i = appendCharacter(text, i, bytes);
  }
  return { token: { bytes: Buffer.from(bytes), text: text.slice(from, i), quoted: false }, end: i };
}

/** `\DDD` is a decimal byte, `\X` is X itself; returns the index after the escape. */
function readEscape(text: string, at: number, out: number[], line: number, file: string): number {
  const digits = /^\d{3}/.exec(text.slice(at + 1, at + 4));
  if (digits) {
    const value = Number(digits[0]);
    if (value > 255) throw new ZoneFileError(file, line, `escape \\${digits[0]} is not a byte`);
    out.push(value);
    return at + 4;
  }
  const next = text[at + 1];
  if (next === undefined || next === '\n' || next === '\r')
    throw new ZoneFileError(file, line, 'backslash at end of line');
  const cp = text.codePointAt(at + 1)!;
  const s = String.fromCodePoint(cp);
  out.push(...Buffer.from(s, 'utf8'));
  return at + 1 + s.length;
}

// encoded-words: decodes RFC 2047 encoded words into UTF-8 text. Pure.
// `decodeWords` is for unstructured text; `decodeStructured` for address fields, where decoded text
// must not change the structure (a decoded "," or "<" would add or move an address), so decoded
// phrases are re-quoted when they hold specials.

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
const SPECIALS = /[()<>[\]:;@\\,."]/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface Word {
  literal: string;
  charset: string;
  bytes: Buffer;
}

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding.toUpperCase() === 'B') return Buffer.from(text, 'base64');
  const latin1 = text
    .replace(/_/g, ' ')
    .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(latin1, 'latin1');
}

/** Text in the named charset, or undefined when the platform does not know it (e.g. UTF-7, refused anyway). */
function decodeCharset(charset: string, bytes: Buffer): string | undefined {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Adjacent words in one charset are decoded together: senders split multi-byte characters across words. */
function renderRun(run: Word[]): string {
  let text = '';
  for (let i = 0; i < run.length; ) {
    let j = i + 1;
    while (j < run.length && run[j]!.charset === run[i]!.charset) j++;
    const group = run.slice(i, j);
    text +=
      decodeCharset(run[i]!.charset, Buffer.concat(group.map((w) => w.bytes))) ?? group.map((w) => w.literal).join('');
    i = j;
  }
  return text;
}

/**
 * Replaces encoded words with their text. Whitespace between adjacent encoded words is dropped
 * (RFC 2047 §6.2); `render` post-processes each decoded run (quoting, escaping).
 */
export function decodeWords(text: string, render: (decoded: string) => string = (s) => s): string {
  let out = '';
  let last = 0;
  let run: Word[] = [];
  for (const match of text.matchAll(ENCODED_WORD)) {
    const gap = text.slice(last, match.index);
    if (run.length === 0 || !/^[ \t]*$/.test(gap)) {
      if (run.length > 0) out += render(renderRun(run));
      run = [];
      out += gap;
    }
    // RFC 2231 §5 lets a language ride on the charset: utf-8*en
    const charset = match[1]!.split('*')[0]!.toLowerCase();
    run.push({ literal: match[0], charset, bytes: wordBytes(match[2]!, match[3]!) });
    last = match.index + match[0].length;
  }
  if (run.length > 0) out += render(renderRun(run));
  return out + text.slice(last);
}

const backslashed = (chars: RegExp) => (s: string) => s.replace(chars, '\\$&');
const inQuotes = backslashed(/["\\]/g);
const inComment = backslashed(/[()\\]/g);
const asPhrase = (s: string) => (SPECIALS.test(s) ? `"${inQuotes(s)}"` : s);

/** Index just past the quoted string or comment opening at `start`, honouring quoted-pairs and nesting. */
function closing(value: string, start: number): number {
  const open = value[start];
  let depth = 0;
  for (let i = start; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') i++;
    else if (open === '"' && c === '"' && i > start) return i + 1;
    else if (open === '(' && c === '(') depth++;
    else if (open === '(' && c === ')' && --depth === 0) return i + 1;
  }
  return value.length;
}

/** Decodes encoded words in an address field, keeping quoted strings, comments and phrases well-formed. */
export function decodeStructured(value: string): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (c === '"' || c === '(') {
      const end = closing(value, i);
      const shut = value[end - 1] === (c === '"' ? '"' : ')') && end - i >= 2;
      const inner = value.slice(i + 1, shut ? end - 1 : end);
      out += c + decodeWords(inner, c === '"' ? inQuotes : inComment) + (shut ? value[end - 1] : '');
      i = end;
    } else {
      const next = value.slice(i).search(/["(]/);
      const end = next < 0 ? value.length : i + next;
      out += decodeWords(value.slice(i, end), asPhrase);
      i = end;
    }
  }
  return out;
}

/** Raw header octets as text: UTF-8 (RFC 6532) when valid, else Latin-1, so no octet is lost. */
export function headerText(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

// Lists every key the config schema accepts, as documented paths (`smtp.listeners[].port`,
// `domains.postfix.<domain>.host`), with defaults: used by the docs test.

import { z } from 'zod';
import { configSchema } from './schema.js';

export interface KeyPath {
  readonly path: string;
  readonly default: unknown;
  readonly optional: boolean;
}

export function configKeyPaths(): KeyPath[] {
  const out: KeyPath[] = [];
  walk(configSchema, '', out);
  return out;
}

function walk(schema: z.ZodType, prefix: string, out: KeyPath[]): void {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
      const path = prefix ? `${prefix}.${key}` : key;
      out.push({ path, default: defaultOf(child), optional: child.safeParse(undefined).success });
      walk(child, path, out);
    }
  } else if (inner instanceof z.ZodArray) {
    walk(inner.element as z.ZodType, `${prefix}[]`, out);
  } else if (inner instanceof z.ZodRecord) {
    const placeholder = prefix.endsWith('port_map') ? '<host>' : '<domain>';
    walk(inner._zod.def.valueType as z.ZodType, `${prefix}.${placeholder}`, out);
  }
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
      current = current._zod.def.innerType as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current._zod.def.in as z.ZodType;
    } else {
      return current;
    }
  }
}

function defaultOf(schema: z.ZodType): unknown {
  const parsed = schema.safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

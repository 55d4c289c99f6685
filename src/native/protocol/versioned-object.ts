// Versions and extensions of PMTP/1 objects (docs/protocol.md §19): `v` names the version; members a
// receiver does not know are ignored unless `crit` lists them. Signed objects keep unknown members so
// that a signature is always checked over what was sent.
import { z } from 'zod';

/** The only version this implementation speaks. */
export const PMTP_VERSION = 1;

/** `crit`: the extension members a receiver must understand to use the object (as JWS `crit`). */
export const critField = z.array(z.string().min(1).max(64)).min(1).max(16);

/** `malformed` is not a wire code: each caller answers it with its own object's code. */
export type ExtensionProblem =
  | { kind: 'version_unsupported'; detail: string }
  | { kind: 'critical_member_unknown'; detail: string }
  | { kind: 'malformed'; detail: string };

/**
 * Why an object's version or critical members stop this receiver, or undefined. `defined` lists the
 * members this version defines; `understood` the extension members this receiver implements (none
 * yet). A missing `v` is left to the schema (it is required or optional per object).
 */
export function extensionProblem(
  value: unknown,
  defined: readonly string[],
  understood: readonly string[] = [],
): ExtensionProblem | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const object = value as Record<string, unknown>;
  const v = object.v;
  if (Number.isSafeInteger(v) && (v as number) >= 1 && v !== PMTP_VERSION) {
    return { kind: 'version_unsupported', detail: `v ${String(v)}; this receiver speaks ${PMTP_VERSION}` };
  }
  if (!Object.hasOwn(object, 'crit')) return undefined;
  const crit = critField.safeParse(object.crit);
  if (!crit.success || new Set(crit.data).size !== crit.data.length) {
    return { kind: 'malformed', detail: 'crit must be a non-empty list of distinct member names' };
  }
  for (const name of crit.data) {
    if (defined.includes(name)) return { kind: 'malformed', detail: `crit names ${name}, which PMTP/1 defines` };
    if (!Object.hasOwn(object, name)) return { kind: 'malformed', detail: `crit names ${name}, which is absent` };
    if (!understood.includes(name)) return { kind: 'critical_member_unknown', detail: `critical member ${name}` };
  }
  return undefined;
}

/** The members a schema defines, without the index signature a loose schema adds to its output. */
export type DefinedMembers<S extends z.core.$ZodLooseShape> = z.output<z.ZodObject<S>>;

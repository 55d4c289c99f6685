// The staging network's fixed facts, made on the first run and reused after: ports, keys and the
// postmaster passwords, kept in DIR/staging.json so a restart (even after kill -9) looks the same.

import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { generateKeys } from '../admin/key-generation.js';
import { hashPassword } from '../config/password-hash.js';

export interface NativeDomainPlan {
  readonly mx: number;
  readonly submission: number;
  readonly pmtp: number;
  readonly metrics: number;
  readonly password: string;
  readonly passwordHash: string;
  readonly pmtpKeyFile: string;
  readonly dkimKeyFile: string;
  readonly dkimRecord: string;
  readonly pmtpKeyId: string;
}

export interface StagingPlan {
  readonly native: Record<string, NativeDomainPlan>;
  readonly legacy: Record<string, { readonly smtp: number }>;
}

export const stagingHost = '127.0.0.1';

export async function loadOrCreatePlan(
  dir: string,
  native: readonly string[],
  legacy: readonly string[],
): Promise<StagingPlan> {
  const file = path.join(dir, 'staging.json');
  const previous = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as StagingPlan,
    () => ({ native: {}, legacy: {} }) as StagingPlan,
  );
  const plan: { native: Record<string, NativeDomainPlan>; legacy: Record<string, { smtp: number }> } = {
    native: {},
    legacy: {},
  };
  for (const domain of native) plan.native[domain] = previous.native[domain] ?? (await newNativeDomain(dir, domain));
  for (const domain of legacy) plan.legacy[domain] = previous.legacy[domain] ?? { smtp: await freePort() };
  await mkdir(dir, { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify(plan, null, 2), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return plan;
}

async function newNativeDomain(dir: string, domain: string): Promise<NativeDomainPlan> {
  const keys = path.join(dir, domain, 'keys');
  const pmtpKeyFile = path.join(keys, `${domain}.pmtp.key`);
  const exists = await access(pmtpKeyFile).then(
    () => true,
    () => false,
  );
  // never replace a key that mail may already be signed with
  if (exists)
    throw new Error(
      `${path.join(dir, 'staging.json')} has no entry for ${domain} but ${pmtpKeyFile} exists; restore staging.json or remove ${keys}`,
    );
  const [mx, submission, pmtp, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const generated = await generateKeys({
    domain,
    out: keys,
    selector: 'staging',
    endpoint: `http://${stagingHost}:${pmtp}`,
    force: false,
  });
  const password = randomBytes(12).toString('base64url');
  return {
    mx,
    submission,
    pmtp,
    metrics,
    password,
    passwordHash: await hashPassword(password),
    pmtpKeyFile,
    dkimKeyFile: path.join(keys, `${domain}.dkim.key`),
    dkimRecord: generated.records[1]!,
    pmtpKeyId: generated.pmtpKeyId,
  };
}

/** A port the kernel just handed out on loopback; reused across restarts through staging.json. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, stagingHost, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

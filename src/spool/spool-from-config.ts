// Builds the spool that `spool.*` describes: the folder at `spool.dir` for drafts, and complete
// entries in that folder (the default) or in the S3 bucket of `spool.s3`.

import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { BodyStore } from './body-store.js';
import { S3BodyStore } from './s3-body-store.js';
import { Spool, type SpoolOptions } from './spool.js';

export function spoolFromConfig(config: Config['spool'], options: SpoolOptions = {}): Spool {
  return new Spool(config.dir, { instance: config.instance, ...options, store: storeFromConfig(config) });
}

function storeFromConfig(config: Config['spool']): BodyStore | undefined {
  const s3 = config.s3;
  if (config.backend !== 's3' || !s3) return undefined;
  const idFile = s3.access_key_id_file;
  const secretFile = s3.secret_access_key_file;
  return new S3BodyStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix: s3.prefix,
    forcePathStyle: s3.force_path_style,
    partSizeBytes: s3.part_size_bytes,
    // read when the SDK first signs a request, so a missing file shows as a refused message, not a crash at start
    credentials:
      idFile && secretFile
        ? async () => ({
            accessKeyId: (await readFile(idFile, 'utf8')).trim(),
            secretAccessKey: (await readFile(secretFile, 'utf8')).trim(),
          })
        : undefined,
  });
}

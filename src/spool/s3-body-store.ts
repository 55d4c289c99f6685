// The optional body store: one object per entry in an S3 bucket, `<prefix>entries/<queue id>`.
// Placing uploads the finished draft from the local tmp file (one PUT, or a multipart upload of
// fixed-size parts read straight from the file, so memory stays bounded) and resolves on the store's ack.

import { createReadStream } from 'node:fs';
import { type FileHandle, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { type BodyStore, missingEntry } from './body-store.js';

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3BodyStoreOptions {
  /** unset: AWS's own endpoint for the region */
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  /** key prefix, e.g. `mailbridge/`; entries go under `<prefix>entries/` */
  readonly prefix: string;
  /** path-style URLs (`endpoint/bucket/key`), which Ceph RGW and MinIO expect */
  readonly forcePathStyle: boolean;
  /** unset: the SDK's default chain (AWS_* variables, ~/.aws, an instance role) */
  readonly credentials?: () => Promise<S3Credentials>;
  /** an entry larger than this goes up in parts of this size (S3's minimum part is 5 MiB) */
  readonly partSizeBytes: number;
}

/** A dead store must fail the upload (451) well before the SMTP client gives up on its DATA reply. */
const connectTimeoutMs = 5000;
const idleTimeoutMs = 30_000;
/** The SDK cannot resend a stream body, so uploads are retried here, each time from a fresh file stream. */
const uploadAttempts = 3;
const retryDelayMs = 200;

type Sdk = typeof import('@aws-sdk/client-s3');

export class S3BodyStore implements BodyStore {
  /** a request costs far more than its bytes: fetch the meta of nearly any entry in one */
  readonly tailBytes = 64 * 1024;
  private connection: Promise<{ sdk: Sdk; client: S3Client }> | undefined;
  private readonly bucket: string;
  private readonly entryPrefix: string;

  constructor(private readonly options: S3BodyStoreOptions) {
    this.bucket = options.bucket;
    this.entryPrefix = `${options.prefix}entries/`;
  }

  /** The SDK is loaded on first use, so commands and gateways on the folder backend never pay for it. */
  private connect(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.connection ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        endpoint: this.options.endpoint,
        region: this.options.region,
        forcePathStyle: this.options.forcePathStyle,
        credentials: this.options.credentials,
        // flexible checksums send chunked trailers that older S3 servers (Ceph Pacific) refuse
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: connectTimeoutMs, requestTimeout: idleTimeoutMs },
      }),
    }));
    return this.connection;
  }

  async init(): Promise<void> {
    // the bucket is the operator's (its lifecycle, replication and access are theirs to set)
  }

  async place(tmpPath: string, file: FileHandle, queueId: string): Promise<void> {
    const { sdk, client } = await this.connect();
    const { size } = await file.stat();
    const Key = this.key(queueId);
    if (size <= this.options.partSizeBytes) {
      await withRetries(() =>
        client.send(
          new sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: createReadStream(tmpPath), ContentLength: size }),
        ),
      );
    } else {
      await this.uploadInParts(tmpPath, size, Key);
    }
    // the object is the entry now: a draft left behind is swept at the next start, while failing here
    // would answer 451 for a stored message that the reconciler later delivers (a duplicate)
    await unlink(tmpPath).catch(() => undefined);
  }

  private async uploadInParts(tmpPath: string, size: number, Key: string): Promise<void> {
    const { sdk, client } = await this.connect();
    const Bucket = this.bucket;
    const { UploadId } = await client.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key }));
    if (!UploadId) throw new Error(`S3 gave no upload id for ${Key}`);
    try {
      const Parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, PartNumber = 1; start < size; start += this.options.partSizeBytes, PartNumber++) {
        const end = Math.min(size, start + this.options.partSizeBytes) - 1;
        const { ETag } = await withRetries(() =>
          client.send(
            new sdk.UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber,
              Body: createReadStream(tmpPath, { start, end }),
              ContentLength: end - start + 1,
            }),
          ),
        );
        if (!ETag) throw new Error(`S3 gave no ETag for part ${PartNumber} of ${Key}`);
        Parts.push({ ETag, PartNumber });
      }
      await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
    } catch (err) {
      // stored parts cost money until aborted; a failed abort is left to sweep or the bucket's lifecycle rule
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async has(queueId: string): Promise<boolean> {
    const { sdk, client } = await this.connect();
    try {
      await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(queueId) }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    const { sdk, client } = await this.connect();
    const names: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(
        new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.entryPrefix, ContinuationToken }),
      );
      for (const { Key } of page.Contents ?? []) if (Key) names.push(Key.slice(this.entryPrefix.length));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return names;
  }

  async tail(queueId: string, length: number): Promise<{ bytes: Buffer; size: number }> {
    const reply = await this.get(queueId, `bytes=-${length}`);
    const bytes = Buffer.from(
      await (reply.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    // a 206 names the whole size after the slash; a 200 (range covering the object) is the whole object
    const total = /\/(\d+)$/.exec(reply.ContentRange ?? '')?.[1];
    return { bytes, size: total === undefined ? bytes.length : Number(total) };
  }

  async range(queueId: string, start: number, end: number): Promise<Readable> {
    return (await this.get(queueId, `bytes=${start}-${end}`)).Body as Readable;
  }

  async remove(queueId: string): Promise<void> {
    const { sdk, client } = await this.connect();
    await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(queueId) }));
  }

  locate(queueId: string): string {
    return `s3://${this.bucket}/${this.key(queueId)}`;
  }

  async sweep(cutoffMs: number): Promise<void> {
    const { sdk, client } = await this.connect();
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const page = await client.send(
        new sdk.ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: this.entryPrefix,
          KeyMarker,
          UploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated.getTime() >= cutoffMs) continue;
        await client.send(
          new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }),
        );
      }
      [KeyMarker, UploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [];
    } while (KeyMarker);
  }

  private key(queueId: string): string {
    return `${this.entryPrefix}${queueId}`;
  }

  private async get(queueId: string, Range: string) {
    const { sdk, client } = await this.connect();
    try {
      return await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(queueId), Range }));
    } catch (err) {
      if (isMissing(err)) throw missingEntry(queueId, err);
      throw err;
    }
  }
}

/** Retries a send that failed for a passing reason: no answer at all, a 5xx, or S3's SlowDown (503). */
async function withRetries<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const passing = status === undefined || status >= 500;
      if (!passing || attempt >= uploadAttempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs * attempt));
    }
  }
}

function isMissing(err: unknown): boolean {
  // not any 404: a missing bucket (NoSuchBucket) is a broken setup, not a finished entry
  const name = (err as { name?: string } | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
}

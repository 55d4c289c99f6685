// The shape of mailbridge.yaml: every key, its type and its default, validated by zod.
// docs/configuration.md documents each key; test/config/docs.test.ts keeps the two in step.

import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { hashProblem } from './password-hash.js';

const port = z.number().int().min(0).max(65535);
const seconds = z.number().int().positive();
const domainName = z
  .string()
  .min(1)
  .transform((d) => d.toLowerCase().replace(/\.$/, ''))
  .refine(
    (d) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(d),
    'must be a domain name like example.org',
  );

const tlsFiles = z
  .object({
    key: z.string().min(1),
    cert: z.string().min(1),
  })
  .strict();

/** Postfix's defaults: 300 s first retry, doubling to 4000 s, give up after 5 days. */
const retryPolicy = z
  .object({
    initial_delay_s: seconds.default(300),
    max_delay_s: seconds.default(4000),
    lifetime_s: seconds.default(5 * 24 * 3600),
    jitter: z.number().min(0).max(1).default(0.1),
  })
  .strict();

/** An S3 bucket (AWS, Ceph RGW, MinIO...) holding the spool's entries; see docs/operations.md. */
const s3Store = z
  .object({
    // unset: AWS's endpoint for the region; e.g. http://127.0.0.1:7480 for a Ceph RGW
    endpoint: z.string().url().optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
    // keys are <prefix>entries/<queue id>; gateways sharing a Redis prefix share this too
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'must be empty or end with / (like mailbridge/)')
      .default(''),
    // path-style URLs, which Ceph RGW and MinIO need
    force_path_style: z.boolean().default(false),
    // both or neither; neither means the AWS SDK's own chain (AWS_* variables, ~/.aws, an instance role)
    access_key_id_file: z.string().min(1).optional(),
    secret_access_key_file: z.string().min(1).optional(),
    // entries above this go up as a multipart upload in parts of this size (S3's minimum part is 5 MiB)
    part_size_bytes: z
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .default(8 * 1024 * 1024),
  })
  .strict()
  .refine((s) => (s.access_key_id_file === undefined) === (s.secret_access_key_file === undefined), {
    message: 'give both access_key_id_file and secret_access_key_file, or neither',
    path: ['secret_access_key_file'],
  });

const queueSettings = z
  .object({
    retry: retryPolicy.optional(),
    concurrency: z.number().int().positive().default(10),
  })
  .strict();

const listener = z
  .object({
    role: z.enum(['mx', 'submission', 'relay-in']),
    host: z.string().min(1).default('127.0.0.1'),
    port,
    tls: tlsFiles.optional(),
    // starttls: plain until STARTTLS (25, 587); implicit: TLS from the first byte (465, RFC 8314)
    tls_mode: z.enum(['starttls', 'implicit']).default('starttls'),
    // every connection starts with a HAProxy PROXY header (v1 or v2), sent by one of proxy_from
    proxy_protocol: z.boolean().default(false),
    proxy_from: z.array(z.string().min(1)).default(['127.0.0.1', '::1']),
    max_clients: z.number().int().positive().default(500),
    max_connections_per_ip: z.number().int().positive().default(20),
    socket_timeout_s: seconds.default(300),
    // Postfix's smtpd_timeout ${stress?10}: while the listener is full, a session stalled this long is cut
    stress_timeout_s: seconds.default(10),
    min_data_rate_bps: z.number().int().nonnegative().default(1024),
    max_recipients: z.number().int().positive().default(1000),
    max_header_bytes: z.number().int().positive().default(102_400),
    max_line_bytes: z.number().int().positive().default(2048),
    bare_newlines: z.enum(['reject', 'normalise']).default('reject'),
    // only for loopback staging; elsewhere AUTH waits for STARTTLS
    allow_insecure_auth: z.boolean().default(false),
    // SPF/DKIM/DMARC at DATA: enforce (DMARC reject -> 550), record (verdicts only) or skip;
    // unset means enforce on mx and relay-in, skip on submission (the sender logged in)
    sender_auth: z.enum(['enforce', 'record', 'skip']).optional(),
  })
  .strict();

/** A submission sender grant: `local@domain`, `@domain`, `<>` (the null sender) or `*` (any sender). */
const senderGrant = z.string().refine((entry) => {
  if (entry === '*' || entry === '<>') return true;
  const at = entry.lastIndexOf('@');
  const local = entry.slice(0, Math.max(at, 0));
  const domain = domainToASCII(entry.slice(at + 1).replace(/\.$/, '')).toLowerCase();
  return (
    at >= 0 &&
    !/[\s@<>]/.test(local) &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(domain)
  );
}, 'must be an address (a@example.org), a whole domain (@example.org), "<>" or "*"');

const account = z
  .object({
    user: z.string().min(3),
    // MAIL FROM, From: and Sender: this login may use besides its own address (when `user` is one)
    senders: z.array(senderGrant).default([]),
    // scrypt$N$r$p$salt$hash made by `mailbridge passwd`, or a Dovecot hash Node can check (password-hash.ts)
    password_hash: z.string().superRefine((hash, ctx) => {
      const problem = hashProblem(hash);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  })
  .strict();

const smtpHop = z
  .object({
    host: z.string().min(1),
    port: port.default(25),
    protocol: z.enum(['smtp', 'lmtp']).default('smtp'),
  })
  .strict();

/** Where a socket of Dovecot's auth service is: an absolute unix socket path or host:port. */
const dovecotSocket = z
  .string()
  .refine(
    (s) => s.startsWith('/') || /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(s),
    'must be an absolute socket path or host:port',
  );

/** How long a lookup's answers are kept (positive, negative) and how many per domain. */
const lookupCache = (positive: number, negative: number, timeout: number) => ({
  positive_ttl_s: seconds.default(positive),
  negative_ttl_s: seconds.default(negative),
  cache_entries: z.number().int().positive().max(1_000_000).default(10_000),
  timeout_s: seconds.default(timeout),
});

/** Where RCPT asks whether a recipient of one of our domains exists (domains.verify). */
const recipientSource = z.discriminatedUnion('source', [
  // Postfix's reject_unverified_recipient: RCPT probe of the domain's domains.postfix hop (or this host)
  z
    .object({
      source: z.literal('probe'),
      host: z.string().min(1).optional(),
      port: port.optional(),
      protocol: z.enum(['smtp', 'lmtp']).optional(),
      ...lookupCache(86_400, 3600, 10),
    })
    .strict(),
  // Dovecot's user database, over the auth-userdb socket
  z
    .object({
      source: z.literal('dovecot'),
      socket: dovecotSocket,
      // Dovecot user names: the whole address (username_format=%u) or its local part (%n)
      username: z.enum(['address', 'local']).default('address'),
      ...lookupCache(600, 60, 5),
    })
    .strict(),
  // every local part exists: a catch-all, stated on purpose
  z.object({ source: z.literal('any') }).strict(),
]);

const directoryEntry = z
  .object({
    endpoint: z.string().url(),
    // base64url raw Ed25519 public keys; when absent the key set is fetched from the endpoint
    keys: z.array(z.object({ id: z.string().min(1), public_key: z.string().min(1) }).strict()).default([]),
    // key id that must have signed the fetched key set (the DNS `fp=` pin); optional
    fingerprint: z
      .string()
      .regex(/^ed25519:[A-Za-z0-9_-]{43}$/)
      .optional(),
  })
  .strict();

const firstContact = z
  .object({
    default: z.enum(['allow', 'challenge', 'deny']).default('challenge'),
    allow: z.array(z.string().min(1)).default([]),
    deny: z.array(z.string().min(1)).default([]),
    pow_bits: z.number().int().min(0).max(32).default(16),
    // how long an issued proof-of-work challenge stays solvable
    challenge_ttl_s: seconds.default(3600),
    // per-recipient overrides: their default replaces the global one, their lists add to it
    users: z
      .array(
        z
          .object({
            address: z.string().min(3),
            default: z.enum(['allow', 'challenge', 'deny']).optional(),
            allow: z.array(z.string().min(1)).default([]),
            deny: z.array(z.string().min(1)).default([]),
            // this recipient's challenge difficulty, instead of pow_bits
            pow_bits: z.number().int().min(1).max(32).optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

/**
 * What one of many domains on this gateway has of its own (domains.settings.<domain>): its DKIM key,
 * its PMTP identity, its first-contact rules, its size limit and its certificate (SNI).
 */
const domainSettings = z
  .object({
    // DKIM for mail whose From: is this domain (d= is the domain)
    dkim: z
      .object({
        selector: z.string().regex(/^[A-Za-z0-9._-]+$/),
        key_file: z.string().min(1),
      })
      .strict()
      .optional(),
    // this domain's PMTP key (its own key set); public_url defaults to pmtp.public_url
    pmtp: z
      .object({
        key_file: z.string().min(1),
        public_url: z.string().url().optional(),
      })
      .strict()
      .optional(),
    // replaces domains.first_contact for this domain's recipients
    first_contact: firstContact.optional(),
    // below limits.message_size_bytes: refused at RCPT when MAIL FROM declared more (552 5.3.4)
    max_message_bytes: z.number().int().positive().optional(),
    // served by SNI on TLS listeners (SMTP and PMTP) when a client names this domain or a subdomain
    tls: tlsFiles.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    hostname: z.string().min(1).default('localhost'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        file: z.string().min(1).optional(),
        // json: one pino object per line; text: `time level key=value… message`, for people and grep
        format: z.enum(['json', 'text']).default('json'),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .default('redis://127.0.0.1:6379'),
        // {tag}... pins every key to one slot; a prefix without braces spreads queues over a cluster's shards
        prefix: z
          .string()
          .regex(
            /^(\{[^{}]+\}.*|[^{}]+)$/,
            'must start with a {hash-tag} (every key in one slot) or have no braces at all (spread over Redis Cluster shards)',
          )
          .default('{mailbridge}'),
        // Redis Sentinel: when listed, the sentinels name the primary and `url` gives only password and db
        sentinels: z.array(z.object({ host: z.string().min(1), port: port.default(26379) }).strict()).default([]),
        sentinel_master: z.string().min(1).default('mymaster'),
        // Redis Cluster: when listed, these nodes are asked for the cluster's slots and `url` gives only user, password and TLS
        cluster_nodes: z.array(z.object({ host: z.string().min(1), port: port.default(6379) }).strict()).default([]),
      })
      .strict()
      .prefault({}),
    spool: z
      .object({
        dir: z.string().min(1),
        // Postfix refuses MAIL FROM below 1.5 x message_size_limit free; 0 means "derive it that way"
        min_free_bytes: z.number().int().nonnegative().default(0),
        // names this process's tmp/<instance>/ when gateways share the folder; unset means <host name>-<pid>
        instance: z
          .string()
          .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, 'must be a plain folder name')
          .optional(),
        // where complete entries live: `folder` (<dir>/entries/) or `s3` (spool.s3); drafts stay in <dir>/tmp/ either way
        backend: z.enum(['folder', 's3']).default('folder'),
        s3: s3Store.optional(),
      })
      .strict()
      .refine((s) => s.backend !== 's3' || s.s3 !== undefined, {
        message: 'spool.backend s3 needs a spool.s3 section',
        path: ['s3'],
      }),
    // shared-nothing fleet: this gateway's name, where the other nodes reach its PMTP listener, and the fleet's hop secret
    node: z
      .object({
        id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'must be letters, digits, _ and - (at most 63)'),
        internal_url: z
          .string()
          .regex(
            /^https?:\/\/[^/?#]+$/,
            'must be an http:// or https:// origin with no path, e.g. http://10.0.0.2:8025',
          ),
        secret_file: z.string().min(1),
        forward_timeout_s: z.number().positive().max(300).default(30),
      })
      .strict()
      .optional(),
    limits: z
      .object({
        message_size_bytes: z.number().int().positive().default(26_214_400),
      })
      .strict()
      .prefault({}),
    queues: z
      .object({
        retry: retryPolicy.prefault({}),
        // BullMQ's lock time: renewed at half of it; a dead process's active job is taken over within about twice this
        stalled_job_timeout_s: seconds.default(30),
        // how often the spool is scanned for entries without a live job (0: only at start)
        reconcile_interval_s: z.number().int().nonnegative().default(60),
        // Postfix's delay_warning_time: mail still undelivered this long after arrival earns one
        // "delayed" DSN (NOTIFY permitting); 0 sends none
        delay_warning_s: z
          .number()
          .int()
          .nonnegative()
          .default(4 * 3600),
        inbound: queueSettings.prefault({}),
        notice: queueSettings.prefault({}),
        pull: queueSettings.prefault({}),
        outbound: queueSettings.prefault({}),
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        listeners: z.array(listener).default([]),
        accounts: z.array(account).default([]),
        // names not in `accounts` are checked by Dovecot's auth service (Postfix's smtpd_sasl_type=dovecot)
        dovecot_auth: z
          .object({
            // the auth-client socket: an absolute path or host:port
            socket: dovecotSocket,
            // above Dovecot's auth penalty (up to 15 s after failures from one address), or it turns 535 into 454
            timeout_s: seconds.default(20),
          })
          .strict()
          .optional(),
        // hosts allowed on relay-in, and the only ones whose XFORWARD is believed
        relay_clients: z.array(z.string().min(1)).default([]),
        // clients exempt from max_connections_per_ip; unset means relay_clients (Postfix: $mynetworks)
        limit_exceptions: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .prefault({}),
    domains: z
      .object({
        // mail for these domains is stored in a Maildir here (formerly `native`, still accepted with a warning)
        mailbox: z.array(domainName).default([]),
        postfix: z.record(domainName, smtpHop).default({}),
        // per-domain recipient lists; a domain listed here rejects unknown users at RCPT (550 5.1.1)
        recipients: z.record(domainName, z.array(z.string().min(1))).default({}),
        // per-domain recipient lookups at RCPT instead of a list: probe, dovecot or any (docs/configuration.md)
        verify: z.record(domainName, recipientSource).default({}),
        first_contact: firstContact.prefault({}),
        // many domains on one gateway: each one's own keys, policy, size and certificate
        settings: z.record(domainName, domainSettings).default({}),
      })
      .strict()
      .prefault({}),
    pmtp: z
      .object({
        domain: domainName.optional(),
        key_file: z.string().min(1).optional(),
        public_url: z.string().url().optional(),
        listen: z
          .object({
            host: z.string().min(1).default('127.0.0.1'),
            port: port.default(8443),
            tls: tlsFiles.optional(),
            // plain HTTP is refused unless the bind address is loopback
            plain_http: z.boolean().default(false),
          })
          .strict()
          .prefault({}),
        directory: z.record(domainName, directoryEntry).default({}),
        // most notices in one batch (PMTP/1 §10.1: default 50, at most 1000), and most recipients it may name in all
        max_batch: z.number().int().positive().max(1000).default(50),
        max_batch_recipients: z.number().int().positive().max(50_000).default(1000),
        clock_skew_s: seconds.default(60),
        // budgets per minute (fixed window); above one, 429 rate_limited with Retry-After (§15)
        rate_limits: z
          .object({
            // per client address group (IPv4 address, IPv6 /64): requests that fail authentication
            unauthenticated_per_minute: z.number().int().positive().default(120),
            // per client address group: key fetches for origins whose keys we do not hold
            key_fetches_per_minute: z.number().int().positive().default(30),
            // per authenticated origin domain, in recipients of notices plus one per other request;
            // pulls and acks of mail we notified that domain of never spend it
            peer_per_minute: z.number().int().positive().default(6000),
            // per-domain overrides of peer_per_minute
            peers: z.record(domainName, z.number().int().positive()).default({}),
          })
          .strict()
          .prefault({}),
        // work we hold per origin domain at once: notices deferred until their author is checked
        // (cookies, decide jobs) and messages accepted but not yet pulled; above it the batch is
        // answered 429 backlog_full with Retry-After
        max_deferred_per_origin: z.number().int().positive().default(1000),
        max_pulls_per_origin: z.number().int().positive().default(5000),
        // earlier keys still listed in our key set (rotation): mail they signed verifies until expired_at
        retired_keys: z
          .array(z.object({ key_file: z.string().min(1), expired_at: z.number().int().nonnegative() }).strict())
          .default([]),
        // valid_until of our published keys = now + this (at most 7 days, so a revocation reaches every
        // peer within a week); the served key set is re-signed with a fresh valid_until every key_refresh_s
        key_valid_days: z.number().int().positive().max(7).default(7),
        key_refresh_s: seconds.default(3600),
        // our key ring (JSON, written by `mailbridge keys rotate|revoke|forget`); default
        // <spool.dir>/keys/<domain>.ring.json. Until it exists, key_file and retired_keys are the ring
        key_ring_file: z.string().min(1).optional(),
        // `keys rotate`: the new key is published this long before it signs, and the old key keeps
        // signing the key set as long again before it retires (§8.3 dual-signed overlap)
        key_overlap_s: seconds.default(86_400),
        // how a peer's DNS discovery is confirmed by https://<domain>/.well-known/pmtp/endpoint (§8.6):
        // prefer (confirm when published, refuse on mismatch), require (refuse without it), off
        discovery_anchor: z.enum(['prefer', 'require', 'off']).default('prefer'),
        // largest JSON request body the server reads (notices, acks); §14 recommends 1 MiB
        max_body_bytes: z.number().int().positive().default(1_048_576),
        // gateways whose provenance (SPF/DKIM/DMARC of an SMTP hop) we honour, like ARC's trusted sealers;
        // any other gateway's verdicts are recorded but neither authenticate a sender nor show as results
        trusted_gateways: z.array(domainName).default([]),
        // how long the origin serves a message after its first notice
        notice_lifetime_s: seconds.default(5 * 24 * 3600),
        // a received notice may not expire later than this from now: the state we keep for it is bounded
        max_notice_lifetime_s: seconds.default(30 * 24 * 3600),
        // most proof-of-work bits we will solve as a sender
        max_pow_bits: z.number().int().min(1).max(40).default(24),
        // hash iterations we spend solving one destination's challenges per hour (a token bucket)
        pow_budget_per_hour: z
          .number()
          .int()
          .positive()
          .default(2 ** 28),
        // HMAC secret of our challenges (base64url, 32+ bytes); default <spool.dir>/pow-secret, created on first start
        pow_secret_file: z.string().min(1).optional(),
        // challenges solved at once, each in its own worker thread
        pow_threads: z.number().int().positive().max(64).default(1),
        // a destination failing this many times in a row is paused (circuit breaker), first for
        // breaker_first_pause_s, doubling on each failed probe up to breaker_pause_s
        breaker_failures: z.number().int().positive().default(5),
        breaker_first_pause_s: seconds.default(60),
        breaker_pause_s: seconds.default(300),
        // deferred dispositions: polling bounds offered to senders
        defer_min_poll_s: seconds.default(60),
        defer_max_poll_s: seconds.default(3600),
        // HTTP request timeout of the PMTP client
        request_timeout_s: seconds.default(30),
        // recipient side: how often expired undecided notices and pulled copies nobody needs are swept (0: never)
        sweep_interval_s: z.number().int().nonnegative().default(300),
        // recipients whose notices go to another endpoint (their own server): answered `redirect` with a
        // signed delegation naming the delegate's own key, which then pulls and acks for that recipient only
        redirects: z
          .array(
            z
              .object({
                recipient: z.string().min(3),
                endpoint: z.string().url(),
                // base64url of the delegate's raw 32-byte Ed25519 public key
                delegate_key: z
                  .string()
                  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, 'not a base64url Ed25519 public key'),
                // at most seven days (§13.5)
                valid_s: seconds.max(7 * 86_400).default(86_400),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    dkim: z
      .object({
        domain: domainName,
        selector: z.string().regex(/^[A-Za-z0-9._-]+$/),
        key_file: z.string().min(1),
        // a signed message up to this size stays in memory; the rest spills to a file under spool.dir
        cache_threshold_bytes: z.number().int().positive().default(1_048_576),
      })
      .strict()
      .optional(),
    // ARC-seal (RFC 8617) what the mx and relay-in checks judged, with this key; absent means no sealing
    arc: z
      .object({
        domain: domainName,
        selector: z.string().regex(/^[A-Za-z0-9._-]+$/),
        key_file: z.string().min(1),
      })
      .strict()
      .optional(),
    mailbox: z
      .object({
        // domains.mailbox mail lands in <maildir_root>/<domain>/Maildir/<user>/new/
        maildir_root: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    outbound: z
      .object({
        // deliver legacy-internet mail through this host instead of by MX lookup
        relayhost: smtpHop.optional(),
        // staging stands in for port 25: host -> port
        port_map: z.record(z.string(), port).default({}),
        require_tls: z.boolean().default(false),
        // per destination (host:port): Postfix's default_destination_concurrency_limit
        destination_concurrency: z.number().int().positive().default(20),
        // messages per minute per destination; 0 means no limit
        destination_rate_per_minute: z.number().int().nonnegative().default(0),
        connect_timeout_s: seconds.default(30),
        // enforce a domain's published MTA-STS policy (RFC 8461) on MX delivery
        mta_sts: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    dns: z
      .object({
        zone_file: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    egress: z
      .object({
        // hosts our HTTP requests (PMTP, key fetches, MTA-STS) may reach on a non-public address or
        // over plain http: staging and loopback tests; everything else must be public https
        allow_hosts: z.array(z.string().min(1).toLowerCase()).default([]),
        // PEM CA certificates trusted for https requests besides the system's (a private or test CA)
        extra_ca_files: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(9464),
        enabled: z.boolean().default(true),
        // a read-only queue page at /queue (HTML) and /queue.json on this port: addresses are visible, keep it internal
        queue_view: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    // an S3 spool is readable by every node: its gateways share queues and need no owner
    if (config.node && config.spool.backend === 's3')
      ctx.addIssue({
        code: 'custom',
        path: ['node'],
        message: 'is for folder spools: gateways on spool.backend s3 share their queues, leave node unset',
      });
    // a delegate key holds one recipient (§13.5): the same key for two would hold both
    config.pmtp.redirects.forEach((r, i) => {
      if (config.pmtp.redirects.findIndex((o) => o.delegate_key === r.delegate_key) < i)
        ctx.addIssue({
          code: 'custom',
          path: ['pmtp', 'redirects', i, 'delegate_key'],
          message: 'each redirect needs its own delegate key: a key is delegated for one recipient only',
        });
    });
    if (config.pmtp.listen.plain_http && !isLoopback(config.pmtp.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['pmtp', 'listen', 'plain_http'],
        message: 'plain HTTP is allowed only on a loopback address (127.0.0.0/8 or ::1)',
      });
    }
    if (config.pmtp.domain && !config.pmtp.public_url && !isLoopback(config.pmtp.listen.host)) {
      // signatures cover the target URI: the bind address (0.0.0.0) is no URL a peer signs for
      ctx.addIssue({
        code: 'custom',
        path: ['pmtp', 'public_url'],
        message: 'required when pmtp.listen.host is not loopback: the https origin peers sign their requests for',
      });
    }
    config.smtp.listeners.forEach((l, i) => {
      if (l.allow_insecure_auth && !isLoopback(l.host)) {
        ctx.addIssue({
          code: 'custom',
          path: ['smtp', 'listeners', i, 'allow_insecure_auth'],
          message: 'AUTH without TLS is allowed only on a loopback address',
        });
      }
      if (l.tls_mode === 'implicit' && !l.tls) {
        ctx.addIssue({
          code: 'custom',
          path: ['smtp', 'listeners', i, 'tls_mode'],
          message: 'implicit TLS needs tls (key and cert)',
        });
      }
      if (l.role === 'relay-in' && config.smtp.relay_clients.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['smtp', 'listeners', i, 'role'],
          message: 'a relay-in listener needs smtp.relay_clients',
        });
      }
    });
    for (const [domain, source] of Object.entries(config.domains.verify)) {
      const path = ['domains', 'verify', domain];
      const local = config.domains.mailbox.includes(domain) || Object.hasOwn(config.domains.postfix, domain);
      if (!local) {
        ctx.addIssue({ code: 'custom', path, message: `${domain} is in neither domains.mailbox nor domains.postfix` });
      } else if (Object.hasOwn(config.domains.recipients, domain)) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `${domain} also has a domains.recipients list: choose one source`,
        });
      } else if (source.source === 'probe' && !source.host && !Object.hasOwn(config.domains.postfix, domain)) {
        ctx.addIssue({ code: 'custom', path, message: 'a probe of a domains.mailbox domain needs host' });
      }
    }
    checkDomainSettings(config, ctx);
    if (config.redis.cluster_nodes.length > 0 && config.redis.sentinels.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['redis', 'cluster_nodes'],
        message: 'Redis Cluster and Redis Sentinel exclude each other: set redis.cluster_nodes or redis.sentinels',
      });
    }
    for (const domain of Object.keys(config.domains.postfix)) {
      if (config.domains.mailbox.includes(domain)) {
        ctx.addIssue({
          code: 'custom',
          path: ['domains', 'postfix', domain],
          message: `${domain} is also listed in domains.mailbox`,
        });
      }
    }
  });

/** The top-level `dkim` and `pmtp` keys are the default domain; a settings entry may add, never repeat. */
function checkDomainSettings(
  config: {
    readonly domains: { readonly settings: Record<string, z.infer<typeof domainSettings>> };
    readonly dkim?: { readonly domain: string } | undefined;
    readonly pmtp: {
      readonly domain?: string | undefined;
      readonly public_url?: string | undefined;
      readonly listen: { readonly host: string };
    };
    readonly limits: { readonly message_size_bytes: number };
  },
  ctx: z.RefinementCtx,
): void {
  for (const [domain, own] of Object.entries(config.domains.settings)) {
    const path = ['domains', 'settings', domain];
    if (own.dkim && config.dkim?.domain === domain) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'dkim'],
        message: `${domain} already signs with the top-level dkim key: keep one of the two`,
      });
    }
    if (own.pmtp && !config.pmtp.domain) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'pmtp'],
        message: 'needs pmtp.domain and pmtp.key_file: the default domain PMTP runs as',
      });
    } else if (own.pmtp && config.pmtp.domain === domain) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'pmtp'],
        message: `${domain} is pmtp.domain, whose key is pmtp.key_file: keep one of the two`,
      });
    }
    if (own.pmtp && !own.pmtp.public_url && !config.pmtp.public_url && !isLoopback(config.pmtp.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'pmtp', 'public_url'],
        message: 'required when neither pmtp.public_url is set nor pmtp.listen.host is loopback',
      });
    }
    if (own.max_message_bytes !== undefined && own.max_message_bytes > config.limits.message_size_bytes) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'max_message_bytes'],
        message: `must not exceed limits.message_size_bytes (${config.limits.message_size_bytes}), the most any listener takes`,
      });
    }
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export type Config = Readonly<z.infer<typeof configSchema>>;
export type ListenerConfig = z.infer<typeof listener>;
export type DomainSettings = z.infer<typeof domainSettings>;
export type RetryPolicyConfig = z.infer<typeof retryPolicy>;
export type QueueName = 'inbound' | 'notice' | 'pull' | 'outbound';

/**
 * Environment variables that may override a key (secrets and deployment facts).
 * The CLI hands process.env to the loader; no other module reads the environment.
 */
export const envOverrides = {
  REDIS_URL: ['redis', 'url'],
  MAILBRIDGE_REDIS_PREFIX: ['redis', 'prefix'],
  MAILBRIDGE_LOG_LEVEL: ['log', 'level'],
  MAILBRIDGE_SPOOL_DIR: ['spool', 'dir'],
  MAILBRIDGE_HOSTNAME: ['hostname'],
} as const satisfies Record<string, readonly string[]>;

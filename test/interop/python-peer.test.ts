// Interop proof: a PMTP/1 peer written in Python from docs/protocol.md alone (interop/python-peer)
// exchanges mail with a real gateway in both directions, and its attacks (forged, replayed,
// oversized, SSRF) are refused with typed errors while the gateway contacts nothing it should not.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainKey } from '../../src/native/protocol/domain-keys.js';
import { generateDomainKey } from '../../src/native/protocol/domain-keys.js';
import { fetchUrl, PATHS } from '../../src/native/protocol/endpoints.js';
import { type PmtpNode, startNode, textMessage, until } from '../native/server/harness.js';
import { send, signedCall } from '../native/server/raw-request.js';
import { freePort } from '../support/smtp-sink.js';
import { staticResolver } from '../support/static-resolver.js';

const peerDir = path.join(import.meta.dirname, '../../interop/python-peer');
const probe = spawnSync('python3', ['-c', 'import cryptography.hazmat.primitives.asymmetric.ed25519'], {
  encoding: 'utf8',
});
const missing = probe.error || probe.status !== 0 ? 'python3 with its cryptography module is not installed' : '';
if (missing) console.warn(`skipping the Python interop peer test: ${missing} (apt-get install python3-cryptography)`);

interface PeerReady {
  readonly endpoint: string;
  readonly control: string;
  readonly key_id: string;
  readonly domain: string;
}

async function startPython(args: string[]): Promise<{ child: ChildProcess; ready: PeerReady; stderr: () => string }> {
  const child = spawn('python3', [path.join(peerDir, 'peer.py'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`peer.py exited with ${code}: ${stderr}`)));
  });
  return { child, ready: JSON.parse(line) as PeerReady, stderr: () => stderr };
}

interface Dispositions {
  results: { id: string; recipients?: { recipient: string; disposition: string }[] }[];
}

interface Pulled {
  id: string;
  origin: string;
  result: string;
  ack: string[];
  parts_base64: string[];
}

interface Answer {
  status: number | null;
  body: { error?: { code: string } } & Record<string, unknown>;
}

describe.skipIf(missing !== '')('the Python PMTP/1 peer and the gateway', () => {
  let gateway: PmtpNode;
  let python: Awaited<ReturnType<typeof startPython>>;
  let canary: Server;
  let canaryConnections = 0;
  let gatewayKey: DomainKey;
  let resolver: ReturnType<typeof staticResolver>;
  const ssrfOrigins = ['loop.attacker.test', 'meta.attacker.test'];
  // 127.0.0.2 is an endpoint the egress guard refuses; plain http to a link-local address is no endpoint (§4)
  const ssrfRefusal: Record<string, string> = {
    'loop.attacker.test': 'egress_refused',
    'meta.attacker.test': 'discovery_record_invalid',
  };

  const control = async <T>(what: string, args: Record<string, unknown> = {}): Promise<T> => {
    const res = await fetch(`${python.ready.control}${what}`, { method: 'POST', body: JSON.stringify(args) });
    const json = (await res.json()) as T;
    if (res.status !== 200) throw new Error(`peer ${what}: ${JSON.stringify(json)}\n${python.stderr()}`);
    return json;
  };

  beforeAll(async () => {
    // 127.0.0.2 is loopback but not a host the gateway's egress guard allows (only 127.0.0.1 is)
    canary = createServer((socket) => {
      canaryConnections++;
      socket.destroy();
    });
    await new Promise<void>((r) => canary.listen(0, '127.0.0.2', r));
    const canaryPort = (canary.address() as { port: number }).port;
    gatewayKey = generateDomainKey();
    const gatewayPort = await freePort();
    python = await startPython([
      '--domain',
      'py.example',
      '--peer',
      `b.example=http://127.0.0.1:${gatewayPort}=${gatewayKey.keyId}`,
    ]);
    const record = (endpoint: string) => [[`v=PMTP1; e=${endpoint}; fp=${python.ready.key_id}`]];
    resolver = staticResolver({
      txt: {
        '_pmtp.loop.attacker.test': record(`http://127.0.0.2:${canaryPort}`),
        '_pmtp.meta.attacker.test': record('http://169.254.169.254'),
      },
    });
    gateway = await startNode({
      domain: 'b.example',
      port: gatewayPort,
      key: gatewayKey,
      peers: { 'py.example': { endpoint: python.ready.endpoint, fingerprint: python.ready.key_id } },
      // the spec's recommended request body limit (§14), so the oversized case tests that number
      pmtp: { max_body_bytes: 1_048_576 },
      resolver,
    });
  }, 30_000);

  afterAll(async () => {
    python?.child.kill('SIGTERM');
    await gateway?.close();
    await new Promise((r) => canary?.close(r));
  });

  it('reproduces every test vector (canonical JSON, key ids, key set, message, stream, HTTP signatures)', () => {
    const run = spawnSync('python3', [path.join(peerDir, 'check_vectors.py')], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ok: \d+ checks/);
  });

  it('delivers mail from the Python peer to a gateway user byte for byte', async () => {
    const attachment = Buffer.from([0, 0xff, 0x0a, 0x0d, 0x2e, 0x0d, 0x0a, 0]);
    const sent = await control<{ id: string; status: number; answer: Dispositions; parts_base64: string[] }>('/send', {
      from: 'carol@py.example',
      to: ['bob@b.example'],
      subject: 'From Python ☕',
      text: 'Hello Bob,\r\nthis came from a second implementation — ünïcödé.\r\n',
      attachment_base64: attachment.toString('base64'),
    });
    expect(sent.status).toBe(200);
    expect(sent.answer.results[0]?.recipients).toEqual([{ recipient: 'bob@b.example', disposition: 'accepted' }]);
    // the gateway pulls, verifies and acks; the peer sees the ack and records delivered
    const state = await until(async () => {
      const s = await control<{ outbox: Record<string, Record<string, string>> }>('/state');
      return s.outbox[sent.id]?.['bob@b.example'] === 'delivered' ? s : undefined;
    });
    expect(state.outbox[sent.id]).toEqual({ 'bob@b.example': 'delivered' });
    const got = gateway.delivered.find((d) => d.request.manifest.id === sent.id);
    expect(got?.request.recipients).toEqual(['bob@b.example']);
    expect(got?.request.origin).toBe('py.example');
    expect(got?.parts.map((p) => p.toString('base64'))).toEqual(sent.parts_base64);
    expect(got?.parts[1]?.equals(attachment)).toBe(true);
    const inbound = await gateway.service.context.inbound.recipient('py.example', sent.id, 'bob@b.example');
    expect(inbound?.state).toBe('delivered');
  });

  it('receives mail from a gateway user: the peer pulls, verifies and acks, the gateway records delivered', async () => {
    const msg = textMessage('bob@b.example', 'carol@py.example', 'Hi Carol, greetings from TypeScript ☕\r\n');
    const sent = await gateway.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['carol@py.example'],
    });
    const status = await until(async () => {
      const s = await gateway.service.context.status.get(sent.id);
      return s[0]?.state === 'delivered' ? s : undefined;
    });
    expect(status).toMatchObject([{ recipient: 'carol@py.example', state: 'delivered', domain: 'py.example' }]);
    // the peer files the message once it has read the ack's signed answer, just after the gateway recorded it
    const pulled = await until(async () =>
      (await control<{ inbox: Pulled[] }>('/state')).inbox.find((m) => m.id === sent.id),
    );
    expect(pulled.result).toBe('delivered');
    expect(pulled.ack).toEqual(['recorded']);
    expect(pulled.origin).toBe('b.example');
    expect(Buffer.concat(pulled.parts_base64.map((p: string) => Buffer.from(p, 'base64'))).equals(msg.body)).toBe(true);
  });

  it('refuses a notice signed with the wrong key: 401 signature_invalid', async () => {
    const answer = await control<Answer>('/attack/forged', { from: 'carol@py.example', to: ['bob@b.example'] });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('signature_invalid');
  });

  it('accepts a signed request once and refuses its replay: 401 nonce_replayed', async () => {
    const answer = await control<{ first: Answer; second: Answer }>('/attack/replay', {
      from: 'carol@py.example',
      to: ['bob@b.example'],
    });
    expect(answer.first.status).toBe(200);
    expect(answer.second.status).toBe(401);
    expect(answer.second.body.error?.code).toBe('nonce_replayed');
  });

  it('refuses a correctly signed body over the 1 MiB limit: 413 payload_too_large', async () => {
    const answer = await control<Answer & { sent: number }>('/attack/oversized', { bytes: 1_048_576 });
    expect(answer.sent).toBeGreaterThan(1_048_576);
    expect(answer.status).toBe(413);
    expect(answer.body.error?.code).toBe('payload_too_large');
  });

  it('refuses a signed notice from an unknown origin whose discovery points inward, and connects nowhere', async () => {
    for (const origin of ssrfOrigins) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await control<Answer>('/attack/ssrf', {
          origin,
          to: ['bob@b.example'],
          fetch: `http://127.0.0.2:${(canary.address() as { port: number }).port}/pmtp/v1/messages/x`,
        });
        // §9.1 step 7: the origin's keys cannot be had, for a reason only it can change
        expect(answer.status, JSON.stringify(answer)).toBe(502);
        expect(answer.body.error).toMatchObject({ code: ssrfRefusal[origin], retryable: false });
      }
    }
    // the gateway did look the origins up (so the refusal is the egress guard's), and connected nowhere
    for (const origin of ssrfOrigins) expect(resolver.asked).toContain(`TXT _pmtp.${origin}`);
    expect(canaryConnections).toBe(0);
  });

  it('the Python peer verifies what it receives: a forged key, a replay and a wrong digest are refused', async () => {
    const notices = `${python.ready.endpoint}${PATHS.notices}`;
    const batch = (id: string) => ({
      origin: 'b.example',
      destination: 'py.example',
      notices: [
        {
          id,
          version: 1,
          size: 3,
          manifest_digest: 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4',
          sender: 'bob@b.example',
          recipients: ['nobody@b.example'],
          expires: Math.floor(Date.now() / 1000) + 600,
          fetch: fetchUrl(gateway.endpoint, id),
        },
      ],
    });
    const call = (key: DomainKey, id: string) =>
      signedCall({
        key,
        origin: 'b.example',
        destination: 'py.example',
        method: 'POST',
        url: notices,
        body: batch(id),
      });
    // an impostor's key under the gateway's key id
    const forger = generateDomainKey();
    const forged = call({ ...forger, keyId: gatewayKey.keyId }, 'forgedxxxxxxxxxxxxxxxx');
    const refused = await send(forged);
    expect([refused.status, refused.json.error?.code]).toEqual([401, 'signature_invalid']);
    // a well-signed request is answered (the recipient is not this domain's) and its replay is refused
    const honest = call(gatewayKey, 'honestxxxxxxxxxxxxxxxx');
    const first = await send(honest);
    expect(first.status).toBe(200);
    expect(first.json.results[0].error.code).toBe('recipient_wrong_domain');
    const replay = await send(honest);
    expect([replay.status, replay.json.error?.code]).toEqual([401, 'nonce_replayed']);
    const tampered = call(gatewayKey, 'tamperedxxxxxxxxxxxxxx');
    const altered = await send({ ...tampered, body: Buffer.from(JSON.stringify(batch('otherxxxxxxxxxxxxxxxxx'))) });
    expect([altered.status, altered.json.error?.code]).toEqual([400, 'digest_mismatch']);
  });

  it('the Python peer answers by the written rules: step-7 codes, key set answers, unknown paths', async () => {
    // a well-formed signature from an origin it cannot discover: 502, not retryable (§9.1 step 7)
    const stranger = await send(
      signedCall({
        key: generateDomainKey(),
        origin: 'stranger.example',
        destination: 'py.example',
        method: 'POST',
        url: `${python.ready.endpoint}${PATHS.notices}`,
        body: { origin: 'stranger.example', destination: 'py.example', notices: [] },
      }),
    );
    expect([stranger.status, stranger.json.error]).toEqual([
      502,
      expect.objectContaining({ code: 'discovery_record_missing', retryable: false }),
    ]);
    // §10: its own key set with Cache-Control, 404 message_not_found for another domain or path
    const own = await fetch(`${python.ready.endpoint}${PATHS.keys}?domain=py.example`);
    expect([own.status, own.headers.get('cache-control')]).toEqual([200, 'max-age=3600']);
    expect(((await own.json()) as { domain: string }).domain).toBe('py.example');
    for (const path of [`${PATHS.keys}?domain=b.example`, '/nowhere']) {
      const res = await fetch(`${python.ready.endpoint}${path}`);
      expect([res.status, ((await res.json()) as Answer['body']).error?.code]).toEqual([404, 'message_not_found']);
    }
  });
});

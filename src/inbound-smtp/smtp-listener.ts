// One SMTP listener: wires smtp-server's session hooks to the gate, login, envelope checks and
// the DATA stage, in that order; and shuts down gracefully: idle sessions get 421 at once,
// sessions in DATA finish their transaction first.

import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { smtpReply } from '../codes.js';
import type { Config, ListenerConfig } from '../config/schema.js';
import { AccountLogin } from './account-login.js';
import type { ArcSealer } from './arc-seal.js';
import type { ClientList } from './client-access.js';
import { ConnectionGate } from './connection-gate.js';
import { EnvelopeChecks } from './envelope-checks.js';
import type { Metrics } from '../observability/metrics.js';
import type { Spool } from '../spool/spool.js';
import { MessageAcceptance, type AcceptanceDeps } from './message-acceptance.js';
import type { RoutingTable } from './recipient-routing.js';
import { replyError, replyErrorFor, type SmtpReplyError } from './reply-error.js';
import { roleOptions, senderAuthMode } from './role-options.js';
import { signAddress, type SignBack } from './sign-back.js';

export interface ListenerAddress {
  readonly role: ListenerConfig['role'];
  readonly host: string;
  readonly port: number;
}

export interface SmtpListenerDeps extends AcceptanceDeps {
  readonly spool: Pick<Spool, 'draft' | 'freeBytes' | 'tmpDir'>;
  readonly metrics?: Pick<Metrics, 'accepted' | 'rejected'>;
}

export interface ListenerShared {
  readonly table: RoutingTable;
  readonly relayClients: ClientList;
  readonly sealer: ArcSealer | undefined;
  readonly signBack: SignBack | undefined;
}

/** A slow DATA sender gets this long before the minimum rate applies (never more than the idle timeout). */
const rateGraceMs = 10_000;

export class SmtpListener {
  private server: SMTPServer | undefined;
  private closing = false;
  private readonly inData = new Set<string>();

  constructor(
    private readonly listener: ListenerConfig,
    private readonly config: Config,
    private readonly deps: SmtpListenerDeps,
    private readonly shared: ListenerShared,
  ) {}

  /** New STARTTLS sessions get the new certificate; open sessions keep theirs (SIGHUP). */
  updateSecureContext(material: { key: Buffer; cert: Buffer }): void {
    this.server?.updateSecureContext(material);
  }

  async listen(): Promise<ListenerAddress> {
    const { listener, config, deps, shared } = this;
    const refused = (err: Error): Error => {
      deps.metrics?.rejected((err as Partial<SmtpReplyError>).status ?? 'internal_error', listener.role);
      return err;
    };
    const gate = new ConnectionGate(listener.max_connections_per_ip, listener.role === 'relay-in' ? shared.relayClients : undefined);
    const login = new AccountLogin(config.smtp.accounts, listener.allow_insecure_auth);
    const envelope = new EnvelopeChecks(
      {
        role: listener.role,
        table: shared.table,
        minFreeBytes: config.spool.min_free_bytes || Math.ceil(1.5 * config.limits.message_size_bytes),
        maxRecipients: listener.max_recipients,
        signAddress: signAddress(config.hostname),
        canSign: shared.signBack !== undefined,
      },
      deps.spool,
      deps.resolver,
    );
    const acceptance = new MessageAcceptance(
      {
        role: listener.role,
        senderAuth: senderAuthMode(listener),
        mta: config.hostname,
        intake: {
          bareNewlines: listener.bare_newlines,
          maxLineBytes: listener.max_line_bytes,
          maxHeaderBytes: listener.max_header_bytes,
          maxBytes: config.limits.message_size_bytes,
          minBytesPerSecond: listener.min_data_rate_bps,
          graceMs: Math.min(rateGraceMs, listener.socket_timeout_s * 1000),
        },
        sealer: shared.sealer,
        signBack: shared.signBack,
      },
      deps,
      envelope,
    );
    const options = await roleOptions(listener, config, {
      onConnect: (session, callback) => {
        if (this.closing) return callback(replyError('shutting_down'));
        const refusal = gate.admit(session);
        callback(refusal ? refused(refusal) : refusal);
      },
      onClose: (session) => gate.release(session),
      onAuth: (auth, session, callback) => {
        login.login(auth, session).then(
          (result) => (result.ok ? callback(null, { user: result.user }) : callback(result.error)),
          (err: unknown) => callback(replyErrorFor(err)),
        );
      },
      onMailFrom: (address, session, callback) => {
        envelope.mailFrom(address, session).then(() => callback(), (err: Error) => callback(refused(err)));
      },
      onRcptTo: (address, session, callback) => {
        envelope.rcptTo(address, session).then(() => callback(), (err: Error) => callback(refused(err)));
      },
      onData: (stream, session, callback) => {
        this.inData.add(session.id);
        acceptance
          .accept(stream, session, () => this.hangUp(session, smtpReply('data_too_slow')))
          .then(
            (message) => {
              deps.metrics?.accepted(listener.role);
              callback(null, message);
            },
            (err: Error) => callback(refused(err)),
          )
          .finally(() => {
            this.inData.delete(session.id);
            if (this.closing) setImmediate(() => this.hangUp(session, smtpReply('shutting_down')));
          });
      },
    });
    const server = new SMTPServer(options);
    this.server = server;
    server.on('error', (err) => deps.log.warn({ err, role: listener.role }, 'smtp session error'));
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(listener.port, listener.host, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : listener.port;
    deps.log.info({ role: listener.role, host: listener.host, port }, 'smtp listener ready');
    return { role: listener.role, host: listener.host, port };
  }

  /** Stops accepting, sends 421 to idle sessions, waits for sessions in DATA (up to closeGraceMs). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server || this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of server.connections) {
      if (!this.inData.has(connection.id)) connection.send(421, smtpReply('shutting_down').message);
    }
    await closed;
  }

  private hangUp(session: SMTPServerSession, reply: { code: number; message: string }): void {
    for (const connection of this.server?.connections ?? []) {
      if (connection.id === session.id) connection.send(reply.code, reply.message);
    }
  }
}

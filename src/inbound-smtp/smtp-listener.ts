// One SMTP listener: wires smtp-server's session hooks to the gate, login, envelope checks and
// the DATA stage, in that order; keeps slots from stalled sessions when full (evicts, and cuts
// them under stress); and shuts down gracefully: idle sessions get 421, DATA finishes first.

import type { Server, Socket } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { type StatusCode, smtpReply } from '../codes.js';
import type { Config, ListenerConfig } from '../config/schema.js';
import type { DomainCertificates } from '../net/domain-certificates.js';
import type { Metrics } from '../observability/metrics.js';
import type { LiveAccounts } from '../policy/live-accounts.js';
import type { LivePolicy } from '../policy/live-policy.js';
import type { Spool } from '../spool/spool.js';
import { forgedAtIntake } from '../translate/header-mapping.js';
import { AccountLogin } from './account-login.js';
import type { ArcSealer } from './arc-seal.js';
import { type ClientList, clientList } from './client-access.js';
import { ConnectionGate } from './connection-gate.js';
import { mailParameterError, recipientParameterError } from './dsn-parameters.js';
import { EnvelopeChecks } from './envelope-checks.js';
import { type AcceptanceDeps, MessageAcceptance } from './message-acceptance.js';
import { proxyFront } from './proxy-front.js';
import type { RoutingTable } from './recipient-routing.js';
import type { RecipientVerification } from './recipient-verification.js';
import { replyError, replyErrorFor, type SmtpReplyError } from './reply-error.js';
import { roleOptions, senderAuthMode } from './role-options.js';
import { sessionLog } from './session-log.js';
import { SessionProgress } from './session-progress.js';
import { type SignBack, signAddress } from './sign-back.js';

export interface ListenerAddress {
  readonly role: ListenerConfig['role'];
  readonly host: string;
  readonly port: number;
}

export interface SmtpListenerDeps extends AcceptanceDeps {
  readonly spool: Pick<Spool, 'draft' | 'freeBytes' | 'tmpDir'>;
  readonly metrics?: Pick<Metrics, 'accepted' | 'rejected' | 'sessionCut'>;
}

export interface ListenerShared {
  readonly table: RoutingTable;
  /** per-domain size limits, live (SIGHUP) */
  readonly policy: LivePolicy;
  /** the domains' own TLS certificates (SNI), live (SIGHUP) */
  readonly certificates: DomainCertificates;
  readonly relayClients: ClientList;
  /** exempt from max_connections_per_ip */
  readonly limitExceptions: ClientList;
  readonly sealer: ArcSealer | undefined;
  readonly signBack: SignBack | undefined;
  readonly verification: RecipientVerification;
  /** submission logins and their senders, live (SIGHUP) */
  readonly accounts: LiveAccounts;
}

/** A slow DATA sender gets this long before the minimum rate applies (never more than the idle timeout). */
const rateGraceMs = 10_000;

/** How often stress is judged and stalled sessions are cut under it. */
const stressCheckMs = 1000;

/** What this file needs of smtp-server's per-connection object (`server.connections` is untyped). */
interface OpenConnection {
  readonly id: string;
  /** normalised, as the gate counts it */
  readonly remoteAddress: string;
  send(code: number, message: string): void;
}

export class SmtpListener {
  private server: SMTPServer | undefined;
  private closing = false;
  private readonly progress: SessionProgress;
  /** a client found the listener full since the last stress check */
  private foundFull = false;
  /** address -> when one of its sessions was last cut as slow or stalled */
  private readonly recentlyCut = new Map<string, number>();
  private stressTimer: NodeJS.Timeout | undefined;
  /** the socket that listens in front of smtp-server on a PROXY listener */
  private front: Server | undefined;

  constructor(
    private readonly listener: ListenerConfig,
    private readonly config: Config,
    private readonly deps: SmtpListenerDeps,
    private readonly shared: ListenerShared,
  ) {
    this.progress = new SessionProgress(listener.min_data_rate_bps);
  }

  /** New STARTTLS sessions get the new certificate; open sessions keep theirs (SIGHUP). */
  updateSecureContext(material: { key: Buffer; cert: Buffer }): void {
    this.server?.updateSecureContext(material);
  }

  async listen(): Promise<ListenerAddress> {
    const { listener, config, deps, shared, progress } = this;
    const sessions = sessionLog(deps.log, listener.role);
    const refused = (err: Error, session: SMTPServerSession, at: string, to?: string): Error => {
      deps.metrics?.rejected((err as Partial<SmtpReplyError>).status ?? 'internal_error', listener.role);
      sessions.reject(session, at, err, to);
      return err;
    };
    const gate = new ConnectionGate(
      listener.max_connections_per_ip,
      listener.role === 'relay-in' ? shared.relayClients : undefined,
      shared.limitExceptions,
    );
    const login = new AccountLogin(shared.accounts, listener.allow_insecure_auth, deps.log);
    // relay-in stays unbound: the trusted MTA in front relays for many senders
    const grants = listener.role === 'submission' ? shared.accounts : undefined;
    const envelope = new EnvelopeChecks(
      {
        role: listener.role,
        table: shared.table,
        minFreeBytes: config.spool.min_free_bytes || Math.ceil(1.5 * config.limits.message_size_bytes),
        maxRecipients: listener.max_recipients,
        signAddress: signAddress(config.hostname),
        canSign: shared.signBack !== undefined,
        grants,
        verification: shared.verification,
        domainLimit: (domain) => shared.policy.ownSizeLimit(domain),
      },
      deps.spool,
      deps.resolver,
      deps.log,
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
          // RFC 8601 §5: ours is added on the way out, from the spool record
          forged: forgedAtIntake([config.hostname]),
        },
        sealer: shared.sealer,
        signBack: shared.signBack,
        grants,
      },
      deps,
      envelope,
    );
    const options = await roleOptions(
      listener,
      config,
      {
        onConnect: (session, callback) => {
          if (this.closing) return callback(replyError('shutting_down'));
          sessions.connect(session);
          const refusal = gate.admit(session);
          if (!refusal) progress.admit(session.id);
          callback(refusal ? refused(refusal, session, 'connect') : refusal);
        },
        onClose: (session) => {
          sessions.disconnect(session);
          gate.release(session);
          progress.forget(session.id);
        },
        onAuth: (auth, session, callback) => {
          progress
            .during(session.id, login.login(auth, session), (result) => result.ok)
            .then(
              (result) => {
                if (result.ok) return callback(null, { user: result.user });
                sessions.authFailed(session, auth);
                callback(result.error);
              },
              (err: unknown) => callback(replyErrorFor(err)),
            );
        },
        onMailFrom: (address, session, callback) => {
          const badDsn = mailParameterError(address);
          if (badDsn) return callback(refused(badDsn, session, 'mail'));
          progress.during(session.id, envelope.mailFrom(address, session)).then(
            () => callback(),
            (err: Error) => callback(refused(err, session, 'mail')),
          );
        },
        onRcptTo: (address, session, callback) => {
          const badDsn = recipientParameterError(address);
          if (badDsn) return callback(refused(badDsn, session, 'rcpt', address.address));
          progress.during(session.id, envelope.rcptTo(address, session)).then(
            () => callback(),
            (err: Error) => callback(refused(err, session, 'rcpt', address.address)),
          );
        },
        onData: (stream, session, callback) => {
          progress.dataStarted(session.id, stream);
          acceptance
            .accept(stream, session, () => this.cut(this.find(session.id), 'data_too_slow'))
            .then(
              (message) => {
                deps.metrics?.accepted(listener.role);
                callback(null, message);
              },
              (err: Error) => callback(refused(err, session, 'data')),
            )
            .finally(() => {
              progress.dataFinished(session.id);
              if (this.closing) setImmediate(() => this.send(this.find(session.id), 'shutting_down'));
            });
        },
      },
      shared.certificates,
    );
    const server = new SMTPServer(options);
    this.server = server;
    server.on('error', (err) => deps.log.warn({ err, role: listener.role }, 'smtp session error'));
    // ahead of smtp-server's own handler, which refuses a client that finds the listener full
    server.server.prependListener('connection', (socket: Socket) => this.makeRoom(socket, gate));
    // with PROXY, the front socket listens and hands each connection on once its header is read
    const listening = listener.proxy_protocol
      ? proxyFront(server.server, clientList(listener.proxy_from, 'smtp.listeners[].proxy_from'), deps.log)
      : server.server;
    this.front = listener.proxy_protocol ? listening : undefined;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(listener.port, listener.host, () => {
        listening.off('error', reject);
        resolve();
      });
    });
    this.stressTimer = setInterval(() => this.cutStalled(), stressCheckMs);
    this.stressTimer.unref();
    const address = listening.address();
    const port = typeof address === 'object' && address ? address.port : listener.port;
    deps.log.info({ role: listener.role, host: listener.host, port }, 'smtp listener ready');
    return { role: listener.role, host: listener.host, port };
  }

  /** Stops accepting, sends 421 to idle sessions, waits for sessions in DATA (up to closeGraceMs). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server || this.closing) return;
    this.closing = true;
    clearInterval(this.stressTimer);
    this.front?.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of this.connections()) {
      if (!this.progress.inData(connection.id)) this.send(connection, 'shutting_down');
    }
    await closed;
  }

  /**
   * A client arriving at max_clients: the longest-stalled session gives up its slot, so trickling
   * sessions cannot lock real clients out. Not for a client the gate will refuse anyway, or one
   * address could evict everyone by reconnecting; not for an address cut within stress_timeout_s,
   * or evicted tricklers that reconnect would only evict each other in a loop.
   */
  private makeRoom(socket: Socket, gate: ConnectionGate): void {
    if (this.closing || this.connections().size < this.listener.max_clients) return;
    this.foundFull = true;
    // smtp-server counts an IPv4 client of a dual-stack listener by its plain address
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/i, '');
    if (!gate.wouldAdmit(ip) || this.recentlyCut.has(ip)) return;
    let victim: OpenConnection | undefined;
    let oldest = Infinity;
    for (const connection of this.connections()) {
      const since = this.progress.stalledSince(connection.id);
      if (since !== undefined && since < oldest) {
        oldest = since;
        victim = connection;
      }
    }
    // sending 421 closes the connection and frees its slot before smtp-server counts the new one
    this.cut(victim, 'session_evicted');
  }

  /** Under stress (full now, or a client found it full since the last check), stalled sessions go. */
  private cutStalled(): void {
    const cutoff = Date.now() - this.listener.stress_timeout_s * 1000;
    for (const [ip, at] of this.recentlyCut) {
      if (at <= cutoff) this.recentlyCut.delete(ip);
    }
    const stressed = this.foundFull || this.connections().size >= this.listener.max_clients;
    this.foundFull = false;
    if (!stressed || this.closing) return;
    for (const connection of this.connections()) {
      const since = this.progress.stalledSince(connection.id);
      if (since !== undefined && since <= cutoff) this.cut(connection, 'session_stalled');
    }
  }

  /** Closes a slow or stalled session with `code`, counted in /metrics. */
  private cut(connection: OpenConnection | undefined, code: StatusCode): void {
    if (!connection) return;
    this.progress.forget(connection.id);
    this.recentlyCut.set(connection.remoteAddress, Date.now());
    this.deps.metrics?.sessionCut(code, this.listener.role);
    this.send(connection, code);
  }

  /** A 421 closes the connection as well (smtp-server). */
  private send(connection: OpenConnection | undefined, code: StatusCode): void {
    const reply = smtpReply(code);
    connection?.send(reply.code, reply.message);
  }

  /** undefined once the client has gone */
  private find(sessionId: string): OpenConnection | undefined {
    for (const connection of this.connections()) {
      if (connection.id === sessionId) return connection;
    }
    return undefined;
  }

  private connections(): Set<OpenConnection> {
    return this.server?.connections ?? new Set();
  }
}

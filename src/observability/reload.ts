// reload: what SIGHUP does. Re-reads and validates the config file, then lets each live part apply
// what it can change without dropping a connection (TLS certificates, log level, policy setters).
// A bad file is logged problem by problem (key and line) and the running configuration stays.

import { ConfigError, type ConfigProblem, type Environment, formatProblem, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';

export interface Reloadable {
  readonly name: string;
  /** dotted key prefixes this part applies live; any other changed key waits for a restart */
  readonly keys: readonly string[];
  /** further changed keys it applies live, for keys no fixed prefix names (a domain's own settings) */
  covers?(key: string, next: Config, start: Config): boolean;
  /** Runs on every reload, changed or not: a renewed certificate changes the file, not the config. */
  apply(next: Config, previous: Config): Promise<void> | void;
}

export interface ReloadOutcome {
  /** false when the file did not load or validate; nothing was applied then */
  readonly ok: boolean;
  readonly problems: readonly ConfigProblem[];
  readonly applied: readonly string[];
  readonly failed: readonly { readonly name: string; readonly error: string }[];
  /** changed keys (since start) that no part applies live */
  readonly needsRestart: readonly string[];
}

export interface ReloaderOptions {
  readonly file: string;
  readonly env: Environment;
  /** the configuration the process started with */
  readonly config: Config;
  readonly log: Logger;
  readonly parts: readonly Reloadable[];
  readonly onReloaded?: (outcome: ReloadOutcome) => void;
}

export class ConfigReloader {
  private current: Config;
  private running: Promise<ReloadOutcome> | undefined;
  private again = false;

  constructor(private readonly options: ReloaderOptions) {
    this.current = options.config;
  }

  /** The last configuration that loaded and validated. */
  get config(): Config {
    return this.current;
  }

  /** One reload at a time; signals arriving meanwhile fold into a single further run. */
  reload(): Promise<ReloadOutcome> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.running;
  }

  /** Reloads on SIGHUP until the returned function is called (at shutdown). */
  listen(signals: NodeJS.EventEmitter = process): () => void {
    const onHangUp = (): void => {
      this.options.log.info({ file: this.options.file }, 'SIGHUP: reloading configuration');
      void this.reload();
    };
    signals.on('SIGHUP', onHangUp);
    return () => void signals.off('SIGHUP', onHangUp);
  }

  private async run(): Promise<ReloadOutcome> {
    const { file, env, log, parts } = this.options;
    let next: Config;
    try {
      next = await loadConfig(file, env, (w) => log.warn({ file, key: w.key, line: w.line }, formatProblem(file, w)));
    } catch (err) {
      const problems =
        err instanceof ConfigError
          ? err.problems
          : [{ key: '', line: undefined, message: err instanceof Error ? err.message : String(err) }];
      for (const p of problems) log.error({ file, key: p.key, line: p.line }, formatProblem(file, p));
      log.error({ file, problems: problems.length }, 'reload refused; the running configuration stays');
      return this.report({ ok: false, problems, applied: [], failed: [], needsRestart: [] });
    }
    const applied: string[] = [];
    const failed: { name: string; error: string }[] = [];
    for (const part of parts) {
      try {
        await part.apply(next, this.current);
        applied.push(part.name);
      } catch (err) {
        // this part keeps what it had (an old certificate beats none); the others still move on
        const error = err instanceof Error ? err.message : String(err);
        failed.push({ name: part.name, error });
        log.error({ part: part.name, err: error }, 'reload: part kept its previous settings');
      }
    }
    const live = parts.flatMap((p) => p.keys);
    const start = this.options.config;
    const needsRestart = changedKeys(start, next).filter(
      (key) =>
        !live.some((prefix) => key === prefix || key.startsWith(`${prefix}.`)) &&
        !parts.some((p) => p.covers?.(key, next, start)),
    );
    if (needsRestart.length > 0) log.warn({ keys: needsRestart }, 'changed keys take effect only after a restart');
    this.current = next;
    log.info({ applied, failed: failed.map((f) => f.name) }, 'configuration reloaded');
    return this.report({ ok: true, problems: [], applied, failed, needsRestart });
  }

  private report(outcome: ReloadOutcome): ReloadOutcome {
    this.options.onReloaded?.(outcome);
    return outcome;
  }
}

/**
 * Dotted paths of the leaves that differ between two parsed configs (arrays compared by index). A
 * section only one side has counts as empty on the other, so an added domains.settings entry names
 * its leaves, which parts may apply live one by one.
 */
function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  const isNode = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  const isSection = (v: unknown): boolean => isNode(v) && !Array.isArray(v);
  if (before === undefined && isSection(after)) return changedKeys({}, after, prefix);
  if (after === undefined && isSection(before)) return changedKeys(before, {}, prefix);
  if (!isNode(before) || !isNode(after) || Array.isArray(before) !== Array.isArray(after)) {
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix];
  }
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((key) => changedKeys(before[key], after[key], prefix ? `${prefix}.${key}` : key));
}

// A real SIGHUP to this test process, and the reload outcome it produced (a ConfigReloader listening
// here pushes each outcome to `outcomes` through its onReloaded hook).
import type { ReloadOutcome } from '../../src/observability/reload.js';

export async function hangUp(outcomes: readonly ReloadOutcome[]): Promise<ReloadOutcome> {
  const count = outcomes.length;
  process.kill(process.pid, 'SIGHUP');
  while (outcomes.length === count) await new Promise((r) => setTimeout(r, 10));
  return outcomes[count]!;
}

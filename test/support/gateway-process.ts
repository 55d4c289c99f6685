// The built CLI (`node dist/cli/main.js start -c FILE`) as a child process, for tests that must
// kill -9 a real gateway: resolves once the mx listener and the start line are printed.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const main = path.join(import.meta.dirname, '../../dist/cli/main.js');

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly started: string;
}

export function startGatewayProcess(configFile: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [main, 'start', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const port = /^smtp mx listening on 127\.0\.0\.1:(\d+)$/m.exec(out)?.[1];
      const started = /^mailbridge started .*$/m.exec(out)?.[0];
      if (port && started) resolve({ child, port: Number(port), started });
    });
    child.once('exit', (code) => reject(new Error(`mailbridge exited with ${code}: ${err}`)));
  });
}

export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

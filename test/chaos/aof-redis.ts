// A private redis-server for fault tests, on a free loopback port with its AOF in a folder of its
// own, that the test can kill -9 and start again on the same port and folder.
import { type RedisProcess, startRedisServer } from '../support/redis-server.js';
import { freePort } from '../support/smtp-sink.js';

export class AofRedis {
  private server: RedisProcess | undefined;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(dir: string): Promise<AofRedis> {
    const redis = new AofRedis(dir, await freePort());
    await redis.restart();
    return redis;
  }

  /** Starts the server on its port and folder, replaying the AOF; resolves once it answers PING. */
  async restart(): Promise<void> {
    // appendfsync always: Redis fsyncs before it replies, so a job the gateway heard "OK" for
    // survives a kill -9 of Redis; everysec could drop the last second and with it a 250's promise
    this.server = await startRedisServer(
      [
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      this.port,
    );
  }

  async kill9(): Promise<void> {
    await this.server?.kill();
  }
}

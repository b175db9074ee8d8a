/**
 * The parent side of a CPU worker: spawns it and wraps its comlink endpoint. A worker that dies
 * (uncaught error, exit) rejects whatever call is pending on it, so the harness never waits forever.
 */
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { CpuRunResult, CpuSetup, CpuWorkerApi, TlbEntryView } from './protocol.js';

export class CpuWorker {
  private readonly remote: Comlink.Remote<CpuWorkerApi>;
  private dead: Error | null = null;
  private readonly deathWaiters = new Set<(e: Error) => void>();

  private constructor(readonly worker: Worker) {
    this.remote = Comlink.wrap<CpuWorkerApi>(nodeEndpoint(worker));
    const die = (e: Error) => {
      this.dead ??= e;
      for (const w of this.deathWaiters) w(this.dead);
      this.deathWaiters.clear();
    };
    worker.on('error', (e) => die(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => die(new Error(`CPU worker exited with code ${code}`)));
  }

  static spawn(): CpuWorker {
    return new CpuWorker(new Worker(new URL('./worker.js', import.meta.url)));
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /** Races a call against the worker's death. */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      const onDeath = (e: Error) => reject(e);
      this.deathWaiters.add(onDeath);
      p.then(
        (v) => {
          this.deathWaiters.delete(onDeath);
          resolve(v);
        },
        (e) => {
          this.deathWaiters.delete(onDeath);
          reject(e);
        },
      );
    });
  }

  setup(s: CpuSetup): Promise<{ threadId: number }> {
    return this.guard(this.remote.setup(s));
  }

  run(): Promise<CpuRunResult> {
    return this.guard(this.remote.run());
  }

  tlb(): Promise<TlbEntryView[]> {
    return this.guard(this.remote.tlb());
  }

  get alive(): boolean {
    return this.dead === null;
  }

  async terminate(): Promise<void> {
    this.remote[Comlink.releaseProxy]();
    await this.worker.terminate();
  }
}

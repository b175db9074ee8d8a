/**
 * The worker entry: one simulated CPU per worker_threads worker. Never imported by main-thread code;
 * the harness talks to it through comlink (protocol.ts). A worker may be set up again for another
 * run, so a pool of them serves many short runs without thread start-up.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { bootCpu, CacheLines, checkDurableAtFsync, Cpu, CTR, DetWaiter, Machine, runCpu, SchedState, TimedWaiter, TokenWaiter, Tracer } from '@smpsim/core';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CpuApi } from './api.js';
import type { CpuRunResult, CpuSetup, CpuWorkerApi, TlbEntryView } from './protocol.js';
import { loadWorkload, type Workload } from './workload.js';

if (!parentPort) throw new Error('the CPU worker must run in a worker thread');

let current: { cpu: Cpu; api: CpuApi; workload: Workload; setup: CpuSetup } | null = null;

const api: CpuWorkerApi = {
  async setup(s: CpuSetup) {
    const workload = await loadWorkload(s.workloadUrl);
    const m = Machine.attach(s.config, s.buffers);
    const cpu = new Cpu(m, s.cpu);
    cpu.deadline = s.deadline;
    // The execution mode is chosen here, once: deterministic or timed mode's waiter, or the default free one.
    const st = s.sched ? SchedState.attach(s.sched) : null;
    const det = st ? (st.timed ? new TimedWaiter(cpu, st) : new DetWaiter(cpu, st)) : null;
    if (det) cpu.useWaiter(det);
    else if (s.tokenSliceUs !== undefined) cpu.useWaiter(new TokenWaiter(cpu, s.tokenSliceUs));
    if (st?.timed) {
      const c = m.config.costs;
      cpu.lines = new CacheLines(st.lines, c.lineLocal, c.lineRemote, c.coresPerSocket);
    }
    if (s.trace || det) {
      cpu.tracer = new Tracer(cpu.id, { record: !!s.trace, sched: det ? det.s : null, clock: det ? () => det.now() : Tracer.hostClock });
    }
    cpu.ctr[CTR.threadId] = threadId;
    bootCpu(cpu, s.proc, s.daemons);
    const ownedWords = workload.oracle === 'owned-words';
    if (ownedWords) {
      cpu.afterPlainFsync = (c) => {
        const bad = checkDurableAtFsync(m);
        if (bad.length) c.violation('lost-write', bad.map((b) => b.message).join('\n'), { ...bad[0]!.details, findings: bad.length });
      };
    }
    current = { cpu, api: new CpuApi(cpu, m, { ops: s.ops, proc: s.proc, params: s.params, simulatedTime: !!st?.timed, ownedWords }), workload, setup: s };
    return { threadId };
  },

  async run(): Promise<CpuRunResult> {
    if (!current) throw new Error('run before setup');
    const { cpu, api: cpuApi, workload, setup } = current;
    const t0 = Date.now();
    let taskCycles = 0;
    const result = runCpu(
      cpu,
      () => {
        try {
          return workload.run(cpuApi);
        } finally {
          cpu.publishCounters();
          taskCycles = cpu.ctr[CTR.cycles]!;
        }
      },
      setup.checkEvery,
    );
    cpu.ctr[CTR.ops] = cpuApi.done;
    const r: CpuRunResult = { cpu: cpu.id, threadId, violations: cpu.violations, result: jsonSafe(result), runMs: Date.now() - t0, taskCycles };
    const ev = cpu.tracer?.events;
    return ev ? { ...r, trace: ev, traceDropped: cpu.tracer!.dropped } : r;
  },

  async tlb(): Promise<TlbEntryView[]> {
    return current ? current.cpu.m.tlbEntries(current.cpu.id) : [];
  },
};

function jsonSafe(x: unknown): unknown {
  try {
    return x === undefined ? null : JSON.parse(JSON.stringify(x));
  } catch {
    return String(x);
  }
}

Comlink.expose(api, nodeEndpoint(parentPort));

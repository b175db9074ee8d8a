/**
 * The worker entry: one simulated CPU per worker_threads worker. Never imported by main-thread code;
 * the harness talks to it through comlink (protocol.ts). A worker may be set up again for another
 * run, so a pool of them serves many short runs without thread start-up.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { bootCpu, Cpu, CTR, DetScheduler, layout as L, Machine, SchedState, Tracer } from '@smpsim/core';
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CpuApi } from './api.js';
import type { CpuRunResult, CpuSetup, CpuWorkerApi, TlbEntryView } from './protocol.js';
import { runCpu } from './runner.js';
import { loadWorkload, type Workload } from './workload.js';

if (!parentPort) throw new Error('the CPU worker must run in a worker thread');

let current: { cpu: Cpu; api: CpuApi; workload: Workload; setup: CpuSetup } | null = null;

const api: CpuWorkerApi = {
  async setup(s: CpuSetup) {
    const workload = await loadWorkload(s.workloadUrl);
    const m = Machine.attach(s.config, s.buffers);
    const cpu = new Cpu(m, s.cpu);
    cpu.deadline = s.deadline;
    let det: DetScheduler | null = null;
    if (s.sched) {
      det = new DetScheduler(cpu, SchedState.attach(s.sched));
      cpu.attachDet(det);
    }
    if (s.trace || det) {
      const d = det;
      cpu.tracer = new Tracer(cpu, { record: !!s.trace, sched: d ? d.s : null, clock: d ? () => d.now() : Tracer.hostClock });
    }
    cpu.ctr[CTR.threadId] = threadId;
    bootCpu(cpu, s.proc, s.daemons);
    current = { cpu, api: new CpuApi(cpu, m, { ops: s.ops, proc: s.proc, params: s.params }), workload, setup: s };
    return { threadId };
  },

  async run(): Promise<CpuRunResult> {
    if (!current) throw new Error('run before setup');
    const { cpu, api: cpuApi, workload, setup } = current;
    const t0 = Date.now();
    const result = runCpu(cpu, cpuApi, workload, setup.checkEvery);
    cpu.ctr[CTR.ops] = cpuApi.done;
    Atomics.store(cpu.meta, cpu.base + L.C_STATE, L.CpuState.Done);
    const r: CpuRunResult = { cpu: cpu.id, threadId, violations: cpu.violations, result: jsonSafe(result), runMs: Date.now() - t0 };
    const ev = cpu.tracer?.events;
    return ev ? { ...r, trace: ev, traceDropped: cpu.tracer!.dropped } : r;
  },

  async tlb(): Promise<TlbEntryView[]> {
    if (!current) return [];
    const { cpu } = current;
    const out: TlbEntryView[] = [];
    const lay = cpu.lay;
    const n1 = lay.l1Sets * lay.l1Ways;
    const n = n1 + lay.l2Sets * lay.l2Ways;
    for (let e = 0; e < n; e++) {
      const t = cpu.base + lay.tlbL1Off + e * L.TLB_FIELDS;
      const vpn = cpu.meta[t]!;
      if (vpn === -1) continue;
      const perm = cpu.meta[t + L.TLB_PERM]!;
      out.push({ level: e < n1 ? 1 : 2, vpn, pfn: cpu.meta[t + L.TLB_PFN]!, writable: (perm & L.TLBP_W) !== 0, dirty: (perm & L.TLBP_D) !== 0 });
    }
    return out;
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

/**
 * Finding signatures: what a crash deduplicator would group violations by. A signature is the
 * violation's kind plus the check, kernel function or lock chain that produced it, with every number
 * (addresses, values, CPU ids, steps) left out, so that two runs that hit the same bug through
 * different pages, CPUs or seeds share it:
 * - lost-write: the check that saw it (`details.when`: online, msync, eviction, final);
 * - lockdep: the dependency chain (lock class and site of each edge) and the acquisition that closed it,
 *   or for the IRQ-state reports their title, the class and site taken, and the dependency path;
 * - deadlock (the watchdog): what each stuck CPU waits for, the locks held and their sites, and
 *   whether there was a wait-for cycle;
 * - invariant: the names of the invariants that failed;
 * - anything else (hang, crash, a workload's own kinds): the kind and its message's first line.
 * A violation read back from a JSONL file has no details: its signature comes from its message,
 * which gives the same string for lockdep and deadlock, a coarser one for the others.
 */

/** A violation as a run summary or a run record holds it. */
export interface SignedViolation {
  readonly kind: string;
  readonly message: string;
  readonly details?: Record<string, unknown> | undefined;
}

/** Numbers out: decimal and hexadecimal runs become N (cpu3 -> cpuN, lock@922 -> lock@N). */
export const stripNumbers = (s: string): string => s.replace(/0x[0-9a-f]+/gi, 'N').replace(/\d+(\.\d+)?/g, 'N');

const firstLine = (s: string): string => s.split('\n')[0]!.trim();

function lostWrite(v: SignedViolation): string {
  const when = v.details?.when;
  if (typeof when === 'string') return `lost-write (${when})`;
  // a record: the message says why, with the word's place and values
  return `lost-write: ${stripNumbers(firstLine(v.message).replace(/^lost write at file \d+ page \d+ word \d+: /, ''))}`;
}

/**
 * A lockdep report. The circular dependency: its chain (#n .. #0, each a class and the site that took
 * it) and the lock held. The IRQ-state reports (inconsistent lock state, safe -> unsafe order, irq
 * inversion, a sleeping lock or a flush wait with interrupts off): the title, the class and site of
 * the acquisition, and the dependency path when the report has one.
 */
function lockdep(v: SignedViolation): string {
  const entries = [...v.message.matchAll(/^-> #\d+ \((.*)\):\n\s+(\S+)\s+\(taken while holding (.*) from (\S+)\)$/gm)];
  if (entries.length) {
    const chain = entries.map((m) => `${m[1]} at ${m[2]}`).join(' -> ');
    const last = entries[entries.length - 1]!;
    return `lockdep: ${chain} (holding ${last[3]} from ${last[4]})`;
  }
  const title = /^(?:WARNING|BUG): (.*)$/m.exec(v.message)?.[1] ?? firstLine(v.message);
  const cls = typeof v.details?.class === 'string' ? v.details.class : /^\s\(?([^(){}]+?)\)?(?:\{[^}]*\})?, at: \S+$/m.exec(v.message)?.[1];
  const site = typeof v.details?.site === 'string' ? v.details.site : /^\s.*, at: (\S+)$/m.exec(v.message)?.[1];
  const path = [...v.message.matchAll(/^ -> \((.*)\) taken at (\S+) while holding/gm)].map((m) => `${m[1]} at ${m[2]}`);
  const what = [cls && site ? `${cls} at ${site}` : site ? `at ${site}` : '', path.length ? `path ${path.join(' -> ')}` : ''].filter(Boolean).join('; ');
  return `lockdep: ${stripNumbers(title)}${what ? ` (${what})` : ''}`;
}

/** The watchdog's report: each CPU's wait (without CPU ids) and the locks held, as sets. */
function deadlock(v: SignedViolation): string {
  const waits = new Set<string>();
  const d = v.details?.waits;
  if (Array.isArray(d)) {
    for (const w of d as Array<{ kind?: unknown; what?: unknown }>) {
      if (typeof w.kind !== 'string' || w.kind.startsWith('idle')) continue;
      waits.add(`${w.kind} ${stripNumbers(String(w.what ?? ''))}`.trim().replace(/(cpuN, )+cpuN/, 'cpuN'));
    }
  } else {
    // from the report: "cpu1 (irqs on): spinning on &mapping->private_lock"
    for (const m of v.message.matchAll(/^cpu\d+ \(irqs (?:on|OFF)\): (.*)$/gm)) {
      if (m[1] === 'not waiting' || m[1]!.startsWith('idle')) continue;
      waits.add(stripNumbers(m[1]!).replace(/(cpuN, )+cpuN/, 'cpuN'));
    }
  }
  const held = new Set<string>();
  for (const m of v.message.matchAll(/^\s+#\d+: \((.*)\)\{lock@\d+\}, at: (\S+)$/gm)) held.add(`${m[1]} at ${m[2]}`);
  if (!waits.size && !held.size) return `deadlock: ${stripNumbers(firstLine(v.message))}`;
  const cycle = /^wait-for cycle:/m.test(v.message) ? 'wait-for cycle' : 'no wait-for cycle';
  return `deadlock (${cycle}): ${[...waits].sort().join('; ')}${held.size ? `; holding ${[...held].sort().join(', ')}` : ''}`;
}

function invariant(v: SignedViolation): string {
  const names = new Set<string>();
  const findings = v.details?.findings;
  if (Array.isArray(findings)) {
    for (const f of findings as Array<{ message?: unknown; details?: { invariant?: unknown } }>) {
      names.add(typeof f.details?.invariant === 'string' ? f.details.invariant : stripNumbers(String(f.message ?? '').split(':')[0]!));
    }
  } else for (const line of v.message.split('\n')) if (line.trim()) names.add(stripNumbers(line.split(':')[0]!.trim()));
  return `invariant: ${[...names].sort().join(', ')}`;
}

/** The signature of one violation. */
export function violationSignature(v: SignedViolation): string {
  switch (v.kind) {
    case 'lost-write':
      return lostWrite(v);
    case 'lockdep':
      return lockdep(v);
    case 'deadlock':
      return deadlock(v);
    case 'invariant':
      return invariant(v);
    default:
      return `${v.kind}: ${stripNumbers(firstLine(v.message))}`;
  }
}

/** The distinct signatures of a run's violations, in the order first seen. */
export function runSignatures(violations: ReadonlyArray<SignedViolation & { signature?: string }>): string[] {
  return [...new Set(violations.map((v) => v.signature ?? violationSignature(v)))];
}

/**
 * Named presets for timed mode's cost model, every number with its source.
 *
 * Cycle counts are cycles of the preset's own clock. A figure given in time is converted at that
 * clock with `us(x)` = x * ghz * 1000 and `ns(x)` = x * ghz (rounded), visible in the tables below.
 * A source marked "estimate" has no located measurement of exactly that quantity: its text says
 * why that value. "[unverified]" marks a figure recalled from the cited work whose text could not
 * be re-read while writing this file; check it before relying on it.
 *
 * References (short tags used in the tables' source strings):
 *  [ORM]    Intel 64 and IA-32 Architectures Optimization Reference Manual: §2.1.4 "Intel Advanced
 *           Memory Access" (Core microarchitecture DTLB0/DTLB1); the cache-parameter tables of the
 *           Core and Skylake chapters (Skylake client: L1D 4 cycles, L2 12, L1D peak 2×32 B loads +
 *           1×32 B store per cycle).
 *  [XBL]    X-bit labs, "Intel Core 2 Extreme QX9650" review (2007), L2-cache page: L2 latency 14
 *           cycles (65-nm QX6850, CPU-Z), 15 (45-nm); the two dies of a quad-core package exchange
 *           data over the system bus.
 *  [AT]     AnandTech, "The Intel Skylake-X Review" (2017), cache table: Skylake-SP L1D 4 cycles,
 *           L2 11-13 cycles, 1536-entry L2 TLB.
 *  [MK]     Baumann et al., "The Multikernel", SOSP 2009, table of URPC performance, 2×4-core Intel
 *           (two 2.66 GHz Xeon X5355): one-way message latency 180 cycles between cores sharing an
 *           L2, 570 cycles otherwise. [unverified]
 *  [C2C]    N. Viennot, github.com/nviennot/core-to-core-latency, README: Xeon Platinum 8275CL
 *           (Cascade Lake, 3.0 GHz, 24 cores, AWS c5.metal), median CAS latency 47 ns within a
 *           socket, 134 ns across sockets.
 *  [UOPS]   uops.info, "CMPXCHG_LOCK (M64, R64)": 19 cycles measured on Alder Lake-P (the other
 *           rows of that page, Conroe .. Cascade Lake, were not read).
 *  [LKML06] LKML, 13 Nov 2006, "Re: [patch] genapic: optimize & fix APIC mode setup": A. Kleen
 *           "IPIs tend to be thousands of cycles"; I. Molnar "Programming the IPI itself is cheap".
 *  [AMIT17] N. Amit, "Optimizing the TLB Shootdown Algorithm with Page Access Tracking", USENIX
 *           ATC 2017, §1: "TLB shootdown can take microseconds".
 *  [LKML19] LKML, May 2019, "[PATCH] x86/entry/64: randomize kernel stack offset upon syscall"
 *           (E. Reshetova's figures): with CONFIG_PAGE_TABLE_ISOLATION=n, lmbench "Simple syscall:
 *           0.0510 microseconds" on an 8-CPU Intel machine (model not stated).
 *  [DH14]   Documentation/x86/tlb.txt (D. Hansen, 2014): a full flush is "a quick operation"; its
 *           cost is the later refill.
 *  [DH17]   D. Hansen, LKML, 5 Dec 2017, "x86 TLB flushing: INVPCID vs. deferred CR3 write": about
 *           350 cycles per page flushed with INVPCID on Skylake, which the PTI patch calls slow.
 *  [AMD]    AMD64 (K8) optimization guide, as quoted in "AMD64 TLB invalidation performance"
 *           (zwillow.blogspot.com, Dec 2006): INVLPG 80 cycles in 64-bit mode. Intel publishes none.
 *  [ARK]    Intel product specifications (ark.intel.com): Xeon X5355, 2.66 GHz, 1333 MT/s FSB.
 *
 *  key             core2-2007          modern-x86
 *  ghz             2.66 [ARK]          3.0 [C2C]
 *  tlbHit          3 [ORM]             4 [ORM, AT]
 *  l2Hit           2 [ORM]             9 (estimate)
 *  walkLevel       14 (est., [XBL])    13 (est., [AT])
 *  faultEntry      800 (estimate)      612 (estimate)
 *  syscall         200 (estimate)      us(0.051) = 153 [LKML19]
 *  ipiSend         100 (est., [LKML06]) 150 (estimate)
 *  ipiLatency      us(0.5) = 1330 (est.) us(0.5) = 1500 (est., [AMIT17])
 *  ipiReceive      1000 (estimate)     1000 (estimate)
 *  invlpg          100 (est., [AMD])   200 (est., [DH17])
 *  cr3Reload       150 (est., [DH14])  200 (est., [DH14])
 *  lockAcquire     22 (estimate)       18 (est., [UOPS])
 *  lineLocal       180 [MK]            ns(47) = 141 [C2C]
 *  lineRemote      570 [MK]            ns(134) = 402 [C2C]
 *  coresPerSocket  2 (one die)         24 [C2C]
 *  pageCopy        512 (estimate)      256 (estimate, [ORM])
 */

/** Costs in simulated cycles of the simulated CPU (except ghz and coresPerSocket). */
export interface CostModel {
  readonly ghz: number;          // core clock, GHz: simulated seconds = cycles / (ghz * 1e9)
  readonly tlbHit: number;       // an access that hits the L1 dTLB (and the L1 data cache)
  readonly l2Hit: number;        // L1 dTLB miss that hits the second-level TLB (STLB)
  readonly walkLevel: number;    // one level of a page walk (4 per walk on x86-64), paging-structure caches aside
  readonly faultEntry: number;   // a page-fault exception: entry, the kernel's fixed handler overhead, iret
  readonly syscall: number;      // system call entry + exit (syscall/sysret or int 0x80 era)
  readonly ipiSend: number;      // sending one IPI (the local APIC ICR write(s)), per target
  readonly ipiLatency: number;   // from the ICR write until the target starts the handler
  readonly ipiReceive: number;   // interrupt entry, the flush handler's fixed work, EOI, iret on the target
  readonly invlpg: number;       // one INVLPG
  readonly cr3Reload: number;    // a CR3 write (the TLB refill is paid by later walks)
  readonly lockAcquire: number;  // an uncontended atomic RMW on a line already in the CPU's own cache
  readonly lineLocal: number;    // a load/RMW of a line last modified by another core of the same socket
  readonly lineRemote: number;   // the same for a core on another socket
  readonly coresPerSocket: number; // topology: CPUs c and d share a socket iff floor(c/n) == floor(d/n)
  readonly pageCopy: number;     // copying one 4 KiB page (writeback to the block device's buffer)
}

export const COST_KEYS: readonly (keyof CostModel)[] = [
  'ghz', 'tlbHit', 'l2Hit', 'walkLevel', 'faultEntry', 'syscall', 'ipiSend', 'ipiLatency', 'ipiReceive',
  'invlpg', 'cr3Reload', 'lockAcquire', 'lineLocal', 'lineRemote', 'coresPerSocket', 'pageCopy',
];

export interface CostPreset {
  readonly name: string;
  readonly description: string;
  readonly costs: CostModel;
  readonly sources: Readonly<Partial<Record<keyof CostModel, string>>>;
}

/** Conversions to cycles at `ghz`: ns(x) = x * ghz, us(x) = x * ghz * 1000, both rounded. */
function clock(ghz: number): { ns: (x: number) => number; us: (x: number) => number } {
  return { ns: (x) => Math.round(x * ghz), us: (x) => Math.round(x * ghz * 1000) };
}

const c2 = clock(2.66);
const C2_SYSCALL = 200;

const CORE2: CostPreset = {
  name: 'core2-2007',
  description:
    '2 × Intel Xeon X5355 (Clovertown, 65 nm, 2.66 GHz, 1333 MT/s FSB): each package holds two dual-core dies, ' +
    'each die with its own shared 4 MB L2. A modelled "socket" is one die (coresPerSocket = 2): lineLocal is the ' +
    'transfer through the shared L2; a line from the other die of the same package crosses the FSB just as one ' +
    'from the other package does ([XBL], [MK] give one figure for both), so both cost lineRemote.',
  costs: {
    ghz: 2.66, tlbHit: 3, l2Hit: 2, walkLevel: 14, faultEntry: 4 * C2_SYSCALL, syscall: C2_SYSCALL,
    ipiSend: 100, ipiLatency: c2.us(0.5), ipiReceive: 1000, invlpg: 100, cr3Reload: 150, lockAcquire: 22,
    lineLocal: 180, lineRemote: 570, coresPerSocket: 2, pageCopy: 2 * (4096 / 16),
  },
  sources: {
    ghz: '[ARK] Xeon X5355: 2.66 GHz. Barrelfish\'s README lists the X5355 among its machines; [MK]\'s 2×4-core Intel system is this part [unverified].',
    tlbHit: '[ORM] Core microarchitecture cache parameters: L1 data load latency 3 cycles [unverified: table not re-read]; charged per access.',
    l2Hit: '[ORM] §2.1.4: "A DTLB0 miss and DTLB1 hit causes a penalty of 2 cycles" (DTLB1: 256 entries, 4 KiB).',
    walkLevel: 'estimate: each level\'s entry taken as an L2 hit, 14 cycles on 65-nm Core 2 ([XBL], [ORM]); a walk missing L2 pays FSB memory latency, not modelled.',
    faultEntry: 'estimate: 4 × syscall. No measurement of the fixed fault path alone was located; an IDT exception saves the full pt_regs (error_entry), reads CR2 and returns by IRET instead of SYSRET.',
    syscall: 'estimate: ≈ 75 ns, the order of lmbench lat_syscall null on 64-bit Linux of 2007; no measurement on this part was located.',
    ipiSend: 'estimate: the xAPIC ICR_HIGH/ICR_LOW uncached writes after an ICR-idle poll; [LKML06] (Molnar): "Programming the IPI itself is cheap".',
    ipiLatency: 'estimate: us(0.5); xAPIC interrupt messages travel over the FSB; with ipiSend + ipiReceive this gives the "thousands of cycles" per IPI of [LKML06] (Kleen).',
    ipiReceive: 'estimate: interrupt entry/exit ≈ faultEntry, plus smp_invalidate_interrupt\'s fixed work and the EOI (an uncached APIC write).',
    invlpg: 'estimate: Intel publishes no INVLPG latency; the nearest published figure of the era is 80 cycles on AMD K8 in 64-bit mode [AMD].',
    cr3Reload: 'estimate: [DH14] calls the full flush "a quick operation"; its refill is charged to later walks.',
    lockAcquire: 'estimate: a locked RMW on an L1-resident line; Agner Fog\'s instruction tables give about 20-25 cycles for LOCK CMPXCHG/XCHG m on Core 2 [unverified].',
    lineLocal: '[MK] 2×4-core Intel, cores sharing an L2: 180 cycles one-way URPC message (one cache-line handoff) [unverified].',
    lineRemote: '[MK] 2×4-core Intel, cores not sharing an L2 (other die or other package, over the FSB): 570 cycles [unverified].',
    coresPerSocket: 'model choice: 2 = one die (one shared L2); see the description. The real package has 4 cores on 2 dies.',
    pageCopy: 'estimate: 4096 B at one 16-byte store per cycle (Core microarchitecture, [ORM] [unverified]) is 256 cycles L1-bound; doubled for L2-resident lines.',
  },
};

const m = clock(3.0);
const M_SYSCALL = m.us(0.051);

const MODERN: CostPreset = {
  name: 'modern-x86',
  description:
    '2 × Intel Xeon Platinum 8275CL (Cascade Lake-SP, the Skylake-SP core, 3.0 GHz, 24 cores per socket, ' +
    'AWS c5.metal), on-die mesh, two sockets linked by UPI; no PTI (the part is not affected by Meltdown).',
  costs: {
    ghz: 3.0, tlbHit: 4, l2Hit: 9, walkLevel: 13, faultEntry: 4 * M_SYSCALL, syscall: M_SYSCALL,
    ipiSend: 150, ipiLatency: m.us(0.5), ipiReceive: 1000, invlpg: 200, cr3Reload: 200, lockAcquire: 18,
    lineLocal: m.ns(47), lineRemote: m.ns(134), coresPerSocket: 24, pageCopy: 2 * (4096 / 32),
  },
  sources: {
    ghz: '[C2C] Xeon Platinum 8275CL, 3.00 GHz.',
    tlbHit: '[AT] Skylake-SP L1D 4-cycle; [ORM] Skylake cache parameters, L1D fastest latency 4 cycles.',
    l2Hit: 'estimate: an L1 DTLB miss that hits the 1536-entry STLB [AT] costs about 9 cycles on Skylake (7-cpu.com Skylake page [unverified]).',
    walkLevel: 'estimate: each level\'s entry taken as an L2 hit; Skylake-SP L2 latency 11-13 cycles [AT], upper value.',
    faultEntry: 'estimate: 4 × syscall, as for core2-2007 (no measurement of the fixed fault path alone was located).',
    syscall: '[LKML19]: us(0.051) at this preset\'s clock; lmbench null syscall with PTI off (the host\'s clock is not stated).',
    ipiSend: 'estimate: one x2APIC ICR write (a WRMSR) per target in physical destination mode.',
    ipiLatency: 'estimate: us(0.5); [AMIT17]: a shootdown "can take microseconds", ipiSend + ipiLatency + ipiReceive ≈ 0.9 µs.',
    ipiReceive: 'estimate: interrupt entry/exit ≈ faultEntry, plus flush_tlb_func\'s fixed work, an x2APIC EOI (WRMSR) and the ack store.',
    invlpg: 'estimate: below the ≈350 cycles per page [DH17] measured for INVPCID single-address flushes on Skylake.',
    cr3Reload: 'estimate: [DH14] "a quick operation"; the refill is charged to later walks.',
    lockAcquire: 'estimate: uncontended LOCK CMPXCHG on an L1 line: 19 cycles on Alder Lake-P [UOPS]; about 18 on Skylake in Agner Fog\'s tables [unverified].',
    lineLocal: '[C2C] 8275CL median core-to-core CAS latency within a socket: ns(47).',
    lineRemote: '[C2C] 8275CL median core-to-core CAS latency across sockets: ns(134).',
    coresPerSocket: '[C2C] 8275CL: 24 cores per socket.',
    pageCopy: 'estimate: 4096 B at one 32-byte store per cycle ([ORM] Skylake: 2×32 B loads + 1×32 B store per cycle) is 128 cycles L1-bound; doubled for L2-resident lines.',
  },
};

export const COST_PRESETS: Readonly<Record<'core2-2007' | 'modern-x86', CostPreset>> = Object.freeze({
  'core2-2007': CORE2,
  'modern-x86': MODERN,
});

/** The preset of that name, or undefined (inherited properties such as 'toString' are not names). */
export function costPreset(name: string): CostPreset | undefined {
  return Object.prototype.hasOwnProperty.call(COST_PRESETS, name) ? COST_PRESETS[name as keyof typeof COST_PRESETS] : undefined;
}

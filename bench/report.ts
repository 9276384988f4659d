/**
 * The bench's report (run.ts): issue 16's table of figures (`| figure | value | goal |`, the same
 * rows), then the conditions and the detailed tables they come from. Ratios are paired: each round's
 * figure of a target over the same round's figure of its reference, seconds apart, median over rounds
 * (the box's speed drifts by tens of percent within a minute; a paired ratio cancels most of it).
 */
import { machine, table } from './markdown.js';
import { median, percentile } from './measure.js';
import type { RedisCounts } from './redis-stats.js';
import { firstBytePercentiles, type SlowStreamsResult } from './slow-streams.js';

export const SCENARIOS = ['repeated', 'unique', 'spread'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** What run.ts measured on one target. Arrays of rounds are in round order; latencies are pooled. */
export interface Samples {
  runs: Map<Scenario, { rps: number[]; cpu: number[]; requests: number; redis?: RedisCounts }>;
  latencies: number[];
  ttfb: number[];
  total: number[];
  plainTtfb: number[];
  plainTotal: number[];
  sizes: Map<number, { cpu: number[]; latencies: number[] }>;
  /** Longest event-loop block during one 1M-token prompt, ms, per round. */
  loop: number[];
  slow?: SlowStreamsResult;
}

export interface Conditions {
  loadStart: number;
  loadEnd: number;
  pinned: boolean;
  rounds: number;
  duration: number;
  latencyDuration: number;
  sizeDuration: number;
  warmup: number;
  streams: number;
  spreadKeys: number;
  sizesKb: number[];
  loopKb: number;
  loopBytes: number;
  slow: { count: number; rampMs: number; deadlineMs: number; gapMs: number; spreadMs: number };
  redis?: string;
  portkey?: string;
  /** The tollgate target the figures are about: tollgate-redis, else tollgate. */
  primary?: string;
}

type All = Map<string, Samples>;

const paired = (a: number[] | undefined, b: number[] | undefined) =>
  a && b && a.length && a.length === b.length ? median(a.map((v, i) => v / b[i]!)) : NaN;
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : v === Infinity ? '> deadline' : '–');
const plus = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms` : '–');
const us = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} µs` : '–');
const kb = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KB` : '–');
const p50 = (values: number[] | undefined) => (values?.length ? percentile(values, 50) : NaN);
const sizeName = (k: number) => (k >= 1024 ? `${k / 1024} MB` : `${k} KB`);

function cpuRatio(all: All, a: string | undefined, b: string, scenario: Scenario, from: Scenario = scenario): number {
  return paired(a ? all.get(a)?.runs.get(scenario)?.cpu : undefined, all.get(b)?.runs.get(from)?.cpu);
}

function perRequest(all: All, name: string | undefined, scenario: Scenario): { scripts: number; commands: number } {
  const run = name ? all.get(name)?.runs.get(scenario) : undefined;
  if (!run?.redis || run.requests === 0) return { scripts: NaN, commands: NaN };
  const calls = run.redis.calls;
  const commands = [...calls.values()].reduce((a, b) => a + b, 0);
  return {
    scripts: ((calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0)) / run.requests,
    commands: commands / run.requests,
  };
}

/** Issue 16's table: the same rows, this run's values. */
function figures(all: All, c: Conditions): string {
  const t = c.primary;
  const s = t ? all.get(t) : undefined;
  const bare = all.get('bare');
  const spread = perRequest(all, t, 'spread');
  const slow = s?.slow;
  const bareSlow = bare?.slow;
  const slowFirst = slow ? firstBytePercentiles(slow) : undefined;
  const sizeRatio = (k: number) => paired(s?.sizes.get(k)?.cpu, all.get('bare-buffer')?.sizes.get(k)?.cpu);
  const big = c.sizesKb.filter((k) => k >= 1024);
  const where = t === 'tollgate-redis' ? 'Redis' : 'in memory (no Redis)';
  const rows: Array<[string, string, string]> = [
    [
      `CPU/request vs the buffering floor, ${where}, 4 limits + usage, repeated prompt`,
      `${x(cpuRatio(all, t, 'bare-buffer', 'repeated'))} (vs piping bare ${x(cpuRatio(all, t, 'bare', 'repeated'))})`,
      '≤ 1.25×',
    ],
    [
      'same, a unique prompt per request (real traffic: the token cache misses)',
      `${x(cpuRatio(all, t, 'bare-buffer', 'unique'))} (vs piping bare ${x(cpuRatio(all, t, 'bare', 'unique'))})`,
      '≤ 1.35×',
    ],
    [
      `load spread over ${c.spreadKeys.toLocaleString('en')} keys vs one key`,
      `${x(cpuRatio(all, t, t ?? '', 'spread', 'repeated'))} (${spread.scripts.toFixed(2)} script calls/request, ` +
        `${spread.commands.toFixed(1)} Redis commands)`,
      '≤ 1.10×',
    ],
    [`1 connection p50 over the bare proxy, ${where}`, plus(p50(s?.latencies) - p50(bare?.latencies)), '≤ +0.08 ms'],
    [`stream first byte over the bare proxy, ${where}`, plus(p50(s?.ttfb) - p50(bare?.ttfb)), '≤ +0.15 ms'],
    [
      `${c.slow.count.toLocaleString('en')} concurrent streams, **default config**`,
      slowFirst && slow
        ? `first byte p50 ${ms(slowFirst.p50)}, p99 ${ms(slowFirst.p99)}` +
          (slow.late ? ` (${slow.late} without a first byte in ${c.slow.deadlineMs / 1000} s)` : '') +
          (bareSlow ? `; bare p99 ${ms(firstBytePercentiles(bareSlow).p99)}` : '')
        : 'not measured',
      '2,000 streams, p99 < 100 ms',
    ],
    [
      'heap held per open stream (after GC)',
      slow ? `${kb(slow.heapPerStream)} (bare ${kb(bareSlow?.heapPerStream ?? NaN)})` : 'not measured',
      '≤ 25 KB',
    ],
    [
      `CPU/request vs bare at ${big.map(sizeName).join(' / ')} chat histories`,
      `${big.map((k) => x(sizeRatio(k))).join(' / ')} (vs the buffering floor)`,
      '≤ 2×',
    ],
    [
      'event loop blocked by one 1M-token prompt',
      s?.loop.length
        ? `${median(s.loop).toFixed(1)} ms (bare-buffer ${median(all.get('bare-buffer')?.loop ?? [NaN]).toFixed(1)} ms)`
        : 'not measured',
      '< 5 ms',
    ],
    [
      `throughput vs Portkey ${c.portkey ?? ''}`.trim(),
      all.has('portkey')
        ? `${x(paired(s?.runs.get('repeated')?.rps, all.get('portkey')?.runs.get('repeated')?.rps))} ` +
          `(unique prompts ${x(paired(s?.runs.get('unique')?.rps, all.get('portkey')?.runs.get('unique')?.rps))})`
        : 'not measured',
      '≥ 5×',
    ],
  ];
  return table(['figure (same run, medians)', 'value', 'goal'], rows);
}

function conditions(c: Conditions): string {
  const slow = c.slow;
  return [
    `${machine()} Load average ${c.loadStart.toFixed(2)} at start, ${c.loadEnd.toFixed(2)} at the end` +
      `${c.loadStart > 1 ? ' (other processes were using the CPUs: compare ratios, not absolutes)' : ''}.`,
    c.pinned
      ? 'At 50 connections each target runs alone on CPU 1 while the mock, Redis and autocannon share CPU 0; ' +
        'every other run is unpinned.'
      : 'Not pinned: every process anywhere on the box.',
    `Figures are about \`${c.primary ?? '–'}\`${c.redis ? ` (limits and usage on ${c.redis})` : ''}: ` +
      'one key on a tier with rpm, rpd, tpm and tpd far out of reach, logging silent, default upstream config. ' +
      'CPU/request: user+system CPU time of the target process (from /proc) per completed request.',
    `Per target ${c.warmup} s warm-up at 50 connections (+ ${Math.ceil(c.warmup / 2)} s of unique prompts), then ` +
      `${c.rounds} rounds, targets interleaved: 50 connections ${c.duration} s each for the repeated prompt, ` +
      'a unique prompt per request (200–800 characters) and, for tollgate-redis, the repeated prompt on ' +
      `${c.spreadKeys} keys in turn; 1 connection ${c.latencyDuration} s; ${c.streams} sequential streams per mode ` +
      `(20 content chunks, no delay); chat histories of ${c.sizesKb.map(sizeName).join(', ')} (mixed scripts) at ` +
      `1 connection ${c.sizeDuration} s each; one ${(c.loopBytes / 1024 / 1024).toFixed(1)} MB prompt with the ` +
      'target\'s event-loop delay histogram (1 ms resolution) on, its max reported.',
    `Then ${slow.count} concurrent streams per target (opened over ${slow.rampMs} ms, one connection each, the ` +
      `mock sending 20 chunks ${slow.gapMs}–${slow.gapMs + slow.spreadMs} ms apart), first byte from sending ` +
      'the request, heap after GC (target started with --expose-gc) once all have their first byte minus ' +
      `before, per stream open then; deadline ${slow.deadlineMs / 1000} s.`,
  ].join(' ');
}

function targets(all: All): string {
  const bare = all.get('bare');
  const buffer = 'bare-buffer';
  const rows = [...all].map(([name, s]) => {
    const rep = s.runs.get('repeated');
    const uni = s.runs.get('unique');
    return [
      name,
      rep ? Math.round(median(rep.rps)) : '–',
      us(rep ? median(rep.cpu) : NaN),
      `${x(cpuRatio(all, name, buffer, 'repeated'))} / ${x(cpuRatio(all, name, 'bare', 'repeated'))}`,
      uni ? Math.round(median(uni.rps)) : '–',
      us(uni ? median(uni.cpu) : NaN),
      `${x(cpuRatio(all, name, buffer, 'unique'))} / ${x(cpuRatio(all, name, 'bare', 'unique'))}`,
      `${ms(p50(s.latencies))} / ${ms(s.latencies.length ? percentile(s.latencies, 99) : NaN)}`,
      plus(p50(s.latencies) - p50(bare?.latencies)),
      ms(p50(s.ttfb)),
      plus(p50(s.ttfb) - p50(bare?.ttfb)),
      ms(p50(s.total)),
      ms(p50(s.plainTtfb)),
      plus(p50(s.plainTtfb) - p50(bare?.plainTtfb)),
    ];
  });
  return table(
    [
      'target',
      'req/s repeated',
      'CPU/req',
      '× bare-buffer / × bare',
      'req/s unique',
      'CPU/req',
      '× bare-buffer / × bare',
      'p50 / p99 (1 conn)',
      'p50 Δ bare',
      'stream TTFB p50 (include_usage)',
      'Δ bare',
      'stream total p50',
      'TTFB p50 (no include_usage)',
      'Δ bare',
    ],
    rows,
  );
}

function sizes(all: All, c: Conditions): string {
  const withSizes = [...all].filter(([, s]) => s.sizes.size > 0);
  const rows = withSizes.map(([name, s]) => [
    name,
    ...c.sizesKb.map((k) => {
      const size = s.sizes.get(k);
      if (!size) return '–';
      const ratio = paired(size.cpu, all.get('bare-buffer')?.sizes.get(k)?.cpu);
      const piping = paired(size.cpu, all.get('bare')?.sizes.get(k)?.cpu);
      return `${us(median(size.cpu))} (${x(ratio)} / ${x(piping)}), p50 ${ms(p50(size.latencies))}`;
    }),
  ]);
  return table(['target', ...c.sizesKb.map(sizeName)], rows);
}

function spreadSection(all: All, c: Conditions): string[] {
  const t = c.primary;
  const s = t ? all.get(t) : undefined;
  if (!t || !s?.runs.has('spread')) return [];
  const rows = SCENARIOS.map((scenario) => {
    const run = s.runs.get(scenario);
    const counts = perRequest(all, t, scenario);
    const byCommand = run?.redis
      ? [...run.redis.calls]
          .filter(([, n]) => n / run.requests >= 0.0005)
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => `${name} ${(n / run.requests).toFixed(3)}`)
          .join(', ')
      : '–';
    return [
      scenario === 'spread' ? `${c.spreadKeys} keys` : `1 key, ${scenario} prompt`,
      us(run ? median(run.cpu) : NaN),
      x(cpuRatio(all, t, t, scenario, 'repeated')),
      counts.scripts.toFixed(3),
      counts.commands.toFixed(2),
      run?.redis ? (run.redis.reads / run.requests).toFixed(3) : '–',
      byCommand,
    ];
  });
  return [
    '',
    `${t} at 50 connections by load (Redis counted server-side with INFO commandstats before and after each ` +
      'run, 250 ms of quiet first so deferred writes land in their run; commands a Lua script runs count too; ' +
      'reads = socket reads the server processed):',
    '',
    table(
      ['load', 'CPU/req', '× 1 key', 'EVALSHA+EVAL/req', 'commands/req', 'Redis reads/req', 'by command (per req)'],
      rows,
    ),
  ];
}

function slowSection(all: All): string[] {
  const rows = [...all]
    .filter(([, s]) => s.slow)
    .map(([name, s]) => {
      const slow = s.slow!;
      const { p50: first50, p99: first99 } = firstBytePercentiles(slow);
      return [
        name,
        slow.count,
        ms(first50),
        ms(first99),
        slow.late,
        slow.whole,
        slow.failures,
        kb(slow.heapPerStream),
        slow.openAtSample,
        slow.seconds.toFixed(1),
      ];
    });
  if (rows.length === 0) return [];
  return [
    '',
    'Concurrent slow streams:',
    '',
    table(
      ['target', 'streams', 'first byte p50', 'p99', 'no first byte', 'whole', 'failed', 'heap/open stream',
        'open at heap sample', 's'],
      rows,
    ),
  ];
}

function loopSection(all: All): string[] {
  const rows = [...all]
    .filter(([, s]) => s.loop.length)
    .map(([name, s]) => [
      name,
      `${median(s.loop).toFixed(1)} ms`,
      `${Math.min(...s.loop).toFixed(1)}–${Math.max(...s.loop).toFixed(1)} ms`,
    ]);
  if (rows.length === 0) return [];
  const title = 'Longest event-loop block while one 1M-token prompt is served (3 per round, one at a time):';
  return ['', title, '', table(['target', 'median', 'range'], rows)];
}

/** The limits issue's figure, when tollgate-nolimits ran: throughput with limits on vs off. */
function limiterCost(all: All): string[] {
  const on = all.get('tollgate')?.runs.get('repeated');
  const off = all.get('tollgate-nolimits')?.runs.get('repeated');
  if (!on || !off) return [];
  return [
    '',
    `Limiter cost (tollgate vs tollgate-nolimits, in memory): req/s ${Math.round(100 * paired(on.rps, off.rps))}% ` +
      `with limits on (target ≥ 85%), CPU/req ${us(median(on.cpu))} vs ${us(median(off.cpu))}.`,
  ];
}

export function report(all: All, c: Conditions, notes: string[]): string {
  return [
    `# tollgate bench — ${new Date().toISOString()}`,
    '',
    figures(all, c),
    '',
    conditions(c),
    '',
    'Per target (CPU ratios: paired per round, median; × bare-buffer is the buffering floor, × bare the piping one):',
    '',
    targets(all),
    '',
    'Chat histories at 1 connection: CPU/req (× bare-buffer / × bare), p50:',
    '',
    sizes(all, c),
    ...spreadSection(all, c),
    ...loopSection(all),
    ...slowSection(all),
    ...limiterCost(all),
    ...(notes.length ? ['', ...notes.map((n) => `- ⚠ ${n}`)] : []),
    '',
  ].join('\n');
}

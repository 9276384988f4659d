/** The bench reports' Markdown. */
import os from 'node:os';

export function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Node, CPUs and kernel of the box, for the line under a report's title. */
export function machine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown';
  return `Node ${process.version}, ${cpus.length} CPUs (${model}), ${os.platform()} ${os.release()}.`;
}

/** A note for the report when other processes already kept the CPUs busy as the bench started. */
export function loadNote(): string | undefined {
  const busy = os.loadavg()[0]!;
  if (busy <= os.cpus().length / 2) return undefined;
  return `load average was ${busy.toFixed(2)} at start: other processes compete for the CPUs, numbers are noisy`;
}

/**
 * A minimal Dockerfile reader for the deploy tests: enough of the syntax to replay this repository's
 * Dockerfile without Docker and to cross-check docker-compose.yml against it. Anything it does not
 * understand is an error, so a new kind of instruction makes the tests fail until they learn it.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  /** 1-based line where the instruction starts. */
  line: number;
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
}

/** Splits a Dockerfile into instructions: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; parts: string[] } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are removed before continuations are processed (also inside a continuation).
    if (trimmed.startsWith('#')) return;
    if (trimmed === '' && !pending) return;
    const continued = /\\\s*$/.test(raw);
    const piece = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (!pending) pending = { line: i + 1, parts: [] };
    pending.parts.push(piece.trim());
    if (continued) return;
    const joined = pending.parts.filter((p) => p !== '').join(' ');
    const m = /^(\S+)\s*(.*)$/s.exec(joined);
    if (m) out.push({ line: pending.line, keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
    pending = undefined;
  });
  if (pending) throw new Error(`Dockerfile ends inside a line continuation (from line ${pending.line})`);
  return out;
}

/**
 * Parser directives (`# syntax=…`, `# escape=…`, `# check=…`): Docker reads them only from the comment
 * lines at the very top, and stops looking at the first line that is not one (blank, other comment, or
 * instruction). Keys are lower-cased, as Docker treats them case-insensitively.
 */
export function parserDirectives(text: string): Record<string, string> {
  const directives: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) break;
    directives[m[1]!.toLowerCase()] = m[2]!;
  }
  return directives;
}

export function readDockerfile(path: string): Instruction[] {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

/** `--name=value` flags at the start of args, and the rest. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!m) break;
    flags[m[1]!] = m[2] ?? '';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

/** Exec form (`["a", "b"]`) → argv; shell form → undefined. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not a JSON string array: ${args}`);
  }
  return parsed as string[];
}

/** `ENV A=1 B="two words"` or the legacy `ENV A value`. No `$VAR` expansion (not used here). */
export function parseEnv(args: string): Record<string, string> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/.exec(args);
    if (!m) throw new Error(`cannot parse ENV ${args}`);
    return { [m[1]!]: m[2]! };
  }
  const env: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)\s*/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(args))) {
    const v = m[2]!;
    env[m[1]!] = v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v.startsWith("'") ? v.slice(1, -1) : v;
    end = re.lastIndex;
  }
  if (end !== args.length) throw new Error(`cannot parse ENV ${args}`);
  return env;
}

/** Docker duration (`30s`, `1m30s`, `500ms`) → milliseconds. */
export function durationMs(value: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(value))) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    end = re.lastIndex;
  }
  if (end === 0 || end !== value.length) throw new Error(`not a duration: ${value}`);
  return total;
}

export interface Healthcheck {
  options: Record<string, string>;
  /** argv in exec form; for shell form, ['/bin/sh', '-c', command]. */
  argv: string[];
}

export function parseHealthcheck(args: string): Healthcheck {
  const { flags, rest } = splitFlags(args);
  const m = /^CMD\s+(.*)$/s.exec(rest);
  if (!m) throw new Error(`HEALTHCHECK without CMD (NONE is not supported): ${args}`);
  const cmd = m[1]!.trim();
  return { options: flags, argv: execForm(cmd) ?? ['/bin/sh', '-c', cmd] };
}

/** The last stage's ENV, EXPOSE, USER, HEALTHCHECK and CMD: what a container of the image gets. */
export function finalImage(instructions: Instruction[]): {
  env: Record<string, string>;
  expose: string[];
  user: string | undefined;
  healthcheck: Healthcheck | undefined;
  cmd: string | undefined;
} {
  let env: Record<string, string> = {};
  let expose: string[] = [];
  let user: string | undefined;
  let healthcheck: Healthcheck | undefined;
  let cmd: string | undefined;
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      env = {};
      expose = [];
      user = undefined;
      healthcheck = undefined;
      cmd = undefined;
    } else if (ins.keyword === 'ENV') env = { ...env, ...parseEnv(ins.args) };
    else if (ins.keyword === 'EXPOSE') expose = [...expose, ...ins.args.split(/\s+/)];
    else if (ins.keyword === 'USER') user = ins.args;
    else if (ins.keyword === 'HEALTHCHECK') healthcheck = parseHealthcheck(ins.args);
    else if (ins.keyword === 'CMD') cmd = ins.args;
  }
  return { env, expose, user, healthcheck, cmd };
}

// `npm run demo` as its own process: the command package.json runs, on a free port (PORT=0). What it
// prints is all a newcomer has, so the base URL, key, admin token and curl line are read from its
// stdout and used as printed; SIGTERM then stops it cleanly.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { http } from '../../helpers/admin-http.js';

const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
const [command, ...args] = scripts.demo!.split(' ');
t.equal(command, 'node', 'npm run demo runs node');

// `node` as npm would find it: the node running this test (22+).
const child = spawn(process.execPath, args, {
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
t.teardown(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

/** stdout until the banner's last line: log lines (JSON) and the banner. */
const printed = await new Promise<string>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('Ctrl-C stops the demo.')) resolve(out);
  });
  void exited.then((code) => reject(new Error(`the demo exited (${code}) before printing its banner: ${out}`)));
});
child.stdout.resume(); // later log lines are not read; never let the pipe fill

const field = (label: string) => new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(printed)?.[1] ?? '';
const baseURL = field('base URL');
const key = field('demo key');
const adminToken = field('admin token');

t.test('it prints where it is, a key, an admin token and the dashboard', async (t) => {
  t.match(baseURL, /^http:\/\/127\.0\.0\.1:\d+\/v1$/, 'the base URL, with the port it listens on');
  t.ok(key && adminToken, 'a demo key and an admin token');
  t.equal(field('dashboard'), baseURL.replace(/\/v1$/, '/dashboard'));
});

t.test('the printed key streams a chat answer with the SDK', async (t) => {
  const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: 'demo',
    messages: [{ role: 'user', content: 'Hello' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  t.match(text, /^You said: "Hello"\./);
});

t.test('the printed curl line, sent as printed, is answered', async (t) => {
  const line = /curl (\S+) -H '([^']+)' \\\n\s+-H '([^']+)' -d '([^']+)'/.exec(printed);
  t.ok(line, 'a curl line with a URL, two headers and a body');
  const [, url, ...rest] = line!;
  const body = rest.pop()!;
  const headers = Object.fromEntries(rest.map((h) => h.split(': ')));
  const res = await fetch(url!, { method: 'POST', headers, body });
  t.equal(res.status, 200);
  t.match(await res.json(), { object: 'chat.completion', choices: [{ message: { content: /^You said: "Hello"/ } }] });
});

t.test('the printed admin token opens the admin API', async (t) => {
  const res = await http(`${baseURL.replace(/\/v1$/, '')}/admin/keys`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  t.equal(res.status, 200);
  t.match(res.body, { data: [{ name: 'demo', source: 'config' }] }, 'it lists the demo key');
});

t.test('SIGTERM stops the demo, exit code 0', async (t) => {
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});

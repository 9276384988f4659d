/**
 * What the demo prints once it listens: where it is, the demo key and admin token (public demo
 * values from config/demo.yaml, printed on purpose: this is the only config that may), and the first
 * commands to try.
 */
import type { Config } from '../config.js';

export function demoBanner(url: string, config: Config): string {
  const key = config.keys.find((k) => k.name === 'demo')?.key ?? '(none)';
  const token = config.admin.token;
  const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hello' }] });
  return [
    '',
    'tollgate demo: the gateway with an echo upstream inside it. No provider key, no network, in-memory stores.',
    '',
    `  base URL     ${url}/v1`,
    `  demo key     ${key}`,
    `  admin token  ${token}`,
    `  dashboard    ${url}/dashboard  (sign in with the admin token)`,
    `  models       ${Object.keys(config.models).join(', ')}`,
    '',
    'Try:',
    `  curl ${url}/v1/chat/completions -H 'Authorization: Bearer ${key}' \\`,
    `    -H 'Content-Type: application/json' -d '${body}'`,
    `  TOLLGATE_URL=${url} TOLLGATE_ADMIN_TOKEN=${token} npx tollgate keys list`,
    '',
    'The key and the token are public demo values (config/demo.yaml). Ctrl-C stops the demo.',
    '',
  ].join('\n');
}

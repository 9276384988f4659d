// The redaction list against the shapes tollgate logs: request and upstream headers, errors and their
// causes, provider config, tokens and freshly created keys. Written through the app's own pino options.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { loggerOptions } from '../../src/logging.js';

const SECRET = 'sk-secret-0123456789';

function logged(object: object): string {
  let text = '';
  const sink = new Writable({
    write: (chunk, _encoding, done) => {
      text += chunk.toString();
      done();
    },
  });
  pino(loggerOptions('info'), sink).info(object, 'line');
  return text;
}

const headers = {
  authorization: `Bearer ${SECRET}`,
  'api-key': SECRET,
  'x-api-key': SECRET,
  'content-type': 'application/json',
};
const cases: Record<string, object> = {
  'request headers (Fastify req serializer)': { req: { method: 'POST', headers } },
  'headers of our own objects': { headers },
  'an error carrying headers': { err: { message: 'boom', headers } },
  "an error's cause carrying headers": { err: { message: 'boom', cause: { headers } } },
  'upstream request headers': { upstream: { headers } },
  'a provider config': { provider: { baseUrl: 'https://api.openai.com/v1', apiKey: SECRET } },
  'the providers map': { providers: { openai: { apiKey: SECRET } } },
  'the whole config': {
    config: { providers: { openai: { apiKey: SECRET } }, admin: { token: SECRET }, metrics: { token: SECRET } },
  },
  'bare apiKey and token': { apiKey: SECRET, token: SECRET },
  'a created key': { key: { id: 'key_1', plaintextKey: SECRET } },
  'a bare plaintext key': { plaintextKey: SECRET },
};

for (const [name, object] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const line = logged(object);
    t.notOk(line.includes(SECRET), 'the secret is not in the line');
    t.ok(line.includes('[redacted]'), 'it was replaced by [redacted]');
  });
}

t.test('fields that are not credentials are kept', async (t) => {
  const line = JSON.parse(logged({ headers, provider: { baseUrl: 'https://api.openai.com/v1' } }));
  t.equal(line.headers['content-type'], 'application/json', 'other headers stay');
  t.equal(line.provider.baseUrl, 'https://api.openai.com/v1', 'other provider fields stay');
});

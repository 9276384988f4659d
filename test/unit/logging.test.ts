// The redaction list against the shapes tollgate logs: request and upstream headers, errors and their
// causes, provider config, tokens and freshly created keys. Written through the app's own pino options.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config.js';
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

t.test('per-request loggers: none at silent, a child with the request id at any other level', async (t) => {
  for (const logLevel of ['silent', 'info'] as const) {
    let text = '';
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        text += chunk.toString();
        done();
      },
    });
    const config = parseConfig(
      {
        server: { host: '127.0.0.1', port: 0, logLevel },
        providers: { p: { baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-p' } },
        models: { m: { routes: [{ provider: 'p', model: 'x' }] } },
        tiers: { t: {} },
        keys: [],
      },
      {},
      'test config',
    );
    const app = await buildApp(config, { logStream: sink });
    t.teardown(() => app.close());
    let sameLogger = false;
    app.get('/probe', async (request) => {
      sameLogger = request.log === app.log;
      request.log.info('probe line');
      return {};
    });
    const reply = await app.inject({ method: 'GET', url: '/probe' });
    t.equal(reply.statusCode, 200, `${logLevel}: served`);
    if (logLevel === 'silent') {
      t.ok(sameLogger, 'silent: the request uses the app logger');
      t.equal(text, '', 'silent: nothing is written');
    } else {
      t.notOk(sameLogger, 'info: the request has its own child logger');
      const probe = text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.msg === 'probe line');
      t.equal(probe?.reqId, reply.headers['x-request-id'], 'info: its lines carry the request id');
    }
  }
});

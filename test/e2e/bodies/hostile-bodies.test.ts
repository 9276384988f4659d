// Bodies built to be read one way by the gateway and another way upstream, or to break the gateway:
// ambiguous members, deep nesting, an empty body. Each gets a clear 400 (or, empty, counts as no body).
import t from 'tap';
import { ADMIN_TOKEN, adminApi } from '../../helpers/admin-http.js';
import { ALIAS, randomKey } from '../../helpers/gateway.js';
import { gatewayFixture } from '../../helpers/gateway.js';

const OTHER_ALIAS = 'gpt-4.1';
const restrictedKey = randomKey('restricted');
const { primary: mock, gw } = await gatewayFixture(t, {
  configure: (raw) => {
    raw.admin = { token: ADMIN_TOKEN };
    raw.models[OTHER_ALIAS] = { routes: [{ provider: 'primary', model: OTHER_ALIAS }] };
    raw.keys.push({ name: 'restricted', key: restrictedKey, tier: 'tier-5', models: [ALIAS] });
  },
});

async function post(body: string, { path = '/v1/chat/completions', key = gw.key } = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: Record<string, unknown>; [field: string]: unknown },
  };
}

const MESSAGES = '"messages":[{"role":"user","content":"hi"}]';

t.test('a key restricted to gpt-4.1-nano cannot reach gpt-4.1 with a MODEL member beside model', async (t) => {
  const answer = await post(`{"model":"${ALIAS}","MODEL":"${OTHER_ALIAS}",${MESSAGES}}`, { key: restrictedKey });
  t.equal(answer.status, 400, '400');
  t.match(
    answer.body.error,
    { type: 'invalid_request_error', param: 'MODEL', code: 'duplicate_member', message: /'MODEL'.*'model'/ },
    'naming the member',
  );
  t.equal(mock.requests.length, 0, 'nothing reached the upstream');
});

t.test('members the gateway routes or limits on, sent twice or case-folded, are refused', async (t) => {
  const bodies: Array<[string, string]> = [
    [`{"model":"${OTHER_ALIAS}",${MESSAGES},"model":"${ALIAS}"}`, 'model'],
    [`{"model":"${ALIAS}",${MESSAGES},"max_tokens":10,"max_tokens":50000}`, 'max_tokens'],
    [`{"model":"${ALIAS}",${MESSAGES},"max_tokens":10,"MAX_TOKENS":50000}`, 'MAX_TOKENS'],
    [`{"model":"${ALIAS}",${MESSAGES},"Max_Completion_Tokens":50000}`, 'Max_Completion_Tokens'],
    [`{"model":"${ALIAS}",${MESSAGES},"max_to\\u212Aens":50000}`, 'max_to\u212Aens'], // the Kelvin sign folds to k
    [`{"model":"${ALIAS}",${MESSAGES},"\\u017Ftream":true}`, '\u017Ftream'], // the long s folds to s
    [`{"mod\\u0065l":"${OTHER_ALIAS}","model":"${ALIAS}",${MESSAGES}}`, 'model'],
    [`{"model":"${ALIAS}",${MESSAGES},"n":1,"N":8}`, 'N'],
    [`{"model":"${ALIAS}",${MESSAGES},"stream":false,"Stream_Options":{},"stream":true}`, 'Stream_Options'],
  ];
  for (const [body, param] of bodies) {
    const answer = await post(body);
    t.match(
      answer,
      { status: 400, body: { error: { type: 'invalid_request_error', param, code: 'duplicate_member' } } },
      `${body}: 400 naming ${param}`,
    );
  }
  const responses = await post(
    `{"model":"${ALIAS}","input":"hi","max_output_tokens":10,"MAX_OUTPUT_TOKENS":50000}`,
    { path: '/v1/responses' },
  );
  t.match(responses.body.error, { param: 'MAX_OUTPUT_TOKENS', code: 'duplicate_member' }, 'on Responses too');
  // The chain and the record: another decoder must not read a different previous response, or a store flag.
  const chained = [
    [`{"model":"${ALIAS}","input":"hi","previous_response_id":"a","Previous_Response_Id":"b"}`, 'Previous_Response_Id'],
    [`{"model":"${ALIAS}","input":"hi","store":false,"store":true}`, 'store'],
  ];
  for (const [body, param] of chained) {
    const answer = await post(body!, { path: '/v1/responses' });
    t.match(answer.body.error, { param, code: 'duplicate_member' }, `${body}: 400 naming ${param}`);
  }
  for (const [member, value] of [['previous_response_id', '42'], ['previous_response_id', '""'], ['store', '"no"']]) {
    const answer = await post(`{"model":"${ALIAS}","input":"hi","${member}":${value}}`, { path: '/v1/responses' });
    t.match(answer, { status: 400, body: { error: { param: member, code: 'invalid_value' } } }, `${member}: ${value}`);
  }
  t.equal(mock.requests.length, 0, 'nothing reached the upstream');

  const fine = await post(
    `{"model":"${ALIAS}",${MESSAGES},"metadata":{"model":"x","MODEL":"y"},"Temperature":1,"user":"u"}`,
  );
  t.equal(fine.status, 200, 'nested members, and members the gateway does not read, are the upstream\'s business');
});

t.test('n must be a whole number of choices from 1 to 128', async (t) => {
  for (const n of ['0', '129', '1.5', '"2"', '-1']) {
    const answer = await post(`{"model":"${ALIAS}",${MESSAGES},"n":${n}}`);
    t.match(answer, { status: 400, body: { error: { type: 'invalid_request_error', param: 'n' } } }, `n ${n}: 400`);
  }
  t.equal((await post(`{"model":"${ALIAS}",${MESSAGES},"n":2}`)).status, 200, 'n 2 is served');
});

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

t.test('5,000 levels of nesting in tools, stream_options or metadata are a 400, not a 500', async (t) => {
  for (const member of ['tools', 'stream_options', 'metadata']) {
    const answer = await post(`{"model":"${ALIAS}",${MESSAGES},"stream":true,"${member}":{"x":${nested(5_000)}}}`);
    t.match(
      answer,
      {
        status: 400,
        body: {
          error: { type: 'invalid_request_error', code: 'json_too_deep', message: /deeper than 128 levels/ },
        },
      },
      `${member}: 400 json_too_deep`,
    );
  }
  const inString = await post(`{"model":"${ALIAS}",${MESSAGES},"user":"${nested(5_000)}"}`);
  t.equal(inString.status, 200, 'brackets inside a string are text, not nesting');
  const deepButAllowed = await post(`{"model":"${ALIAS}",${MESSAGES},"metadata":{"x":${nested(126)}}}`);
  t.equal(deepButAllowed.status, 200, '128 levels are allowed');
  t.equal(mock.requests.length, 2, 'only those reached the upstream');
});

t.test('DELETE /admin/keys/:id with Content-Type: application/json and an empty body revokes the key', async (t) => {
  const admin = adminApi(gw.url);
  const { id, key } = await admin.createKey({ name: 'short-lived', tier: 'tier-1' });
  const revoked = await fetch(`${gw.url}/admin/keys/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: '',
  });
  t.equal(revoked.status, 200, '200');
  t.match(await revoked.json(), { id, status: 'revoked' }, 'the key is revoked');
  t.equal((await post(`{"model":"${ALIAS}",${MESSAGES}}`, { key })).status, 401, 'and refused from then on');

  const noBody = await fetch(`${gw.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: ' \n',
  });
  t.equal(noBody.status, 400, 'a route that needs a body answers its own 400 to a blank one');
  t.match(
    (await post('')).body.error,
    { type: 'invalid_request_error', message: 'The request body must be a JSON object.' },
    'so does the proxy',
  );
});

// The TPM reservation covers what the upstream may generate, whichever cap name it honours: 20
// concurrent requests of a 20k-TPM key, each asking for 6,000 output tokens under a name or in a shape
// the gateway used to overlook, must not get more than 20k tokens generated.
import t from 'tap';
import { request } from 'undici';
import { ALIAS } from '../../helpers/gateway.js';
import type { AnswerJson } from '../../helpers/json.js';
import type { RecordedRequest } from '../../helpers/mock-upstream.js';
import { limitedGateway } from '../../helpers/rate-limit-harness.js';

const TPM = 20_000;

/** Generates as much as a lenient upstream would: the largest cap under any name or case, times n. */
function generatedFor(req: RecordedRequest): number {
  const numbers = (pattern: RegExp) => [...req.text.matchAll(pattern)].map((m) => Number(m[1]));
  const cap = Math.max(0, ...numbers(/"max_(?:tokens|completion_tokens|output_tokens)"\s*:\s*(\d+)/gi));
  return cap * Math.max(1, ...numbers(/"n"\s*:\s*(\d+)/gi));
}

function answerFor(req: RecordedRequest): object {
  const generated = generatedFor(req);
  if (req.path.endsWith('/responses')) {
    return {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      output: [],
      usage: { input_tokens: 8, output_tokens: generated, total_tokens: 8 + generated },
    };
  }
  const choices = [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'length' }];
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: ALIAS,
    choices,
    usage: { prompt_tokens: 8, completion_tokens: generated, total_tokens: 8 + generated },
  };
}

const MESSAGES = '"messages":[{"role":"user","content":"hi"}]';
const VARIANTS: Array<{ path: string; body: string }> = [
  { path: '/v1/chat/completions', body: `{"model":"${ALIAS}",${MESSAGES},"max_tokens":10,"max_output_tokens":6000}` },
  { path: '/v1/responses', body: `{"model":"${ALIAS}","input":"hi","max_output_tokens":10,"max_tokens":6000}` },
  { path: '/v1/chat/completions', body: `{"model":"${ALIAS}",${MESSAGES},"max_tokens":1200,"n":5}` },
  { path: '/v1/chat/completions', body: `{"model":"${ALIAS}",${MESSAGES},"max_tokens":6000,"max_tokens":10}` },
  { path: '/v1/chat/completions', body: `{"model":"${ALIAS}",${MESSAGES},"max_tokens":10,"MAX_TOKENS":6000}` },
];

t.test(
  '20 concurrent requests of a 20k-TPM key get no more than 20k tokens generated, whatever cap names they use',
  async (t) => {
    const { gw, mock } = await limitedGateway(t, { name: 'memory' }, { tier: { tpm: TPM } });
    mock.behave((req) => ({ kind: 'error', status: 200, body: answerFor(req) }));
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { path, body } = VARIANTS[i % VARIANTS.length]!;
        const res = await request(`${gw.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
          body,
        });
        return { status: res.statusCode, body: (await res.body.json()) as AnswerJson };
      }),
    );
    const served = answers.filter((a) => a.status === 200);
    const generated = served.reduce(
      (sum, a) => sum + Number(a.body.usage?.completion_tokens ?? a.body.usage?.output_tokens),
      0,
    );
    t.comment(`generated ${generated} tokens in ${served.length} served answers`);
    t.ok(generated <= TPM, `${generated} tokens generated, within the ${TPM} TPM`);
    t.ok(served.length > 0, 'some were served');
    const refused = answers.filter((a) => a.status !== 200);
    t.ok(
      refused.every((a) => a.status === 429 || a.body.error?.code === 'duplicate_member'),
      'the others: 429, or 400 for an ambiguous body',
    );
    t.equal(
      refused.filter((a) => a.body.error?.code === 'duplicate_member').length,
      8,
      'the 8 ambiguous bodies refused',
    );
  },
);

t.test("a cap above the model's maxOutputTokens reserves only what the model can generate", async (t) => {
  const { gw } = await limitedGateway(
    t,
    { name: 'memory' },
    { tier: { tpm: TPM }, configure: (raw) => (raw.models[ALIAS]!.maxOutputTokens = 1_000) },
  );
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.key}`, 'content-type': 'application/json' },
    body: `{"model":"${ALIAS}",${MESSAGES},"max_tokens":50000,"n":2}`,
  });
  await res.body.dump();
  t.equal(res.statusCode, 200, 'served, though 50,000 alone exceeds the TPM');
  const remaining = Number(res.headers['x-ratelimit-remaining-tokens']);
  t.ok(
    remaining <= TPM - 2_000 && remaining > TPM - 2_100,
    `2 × 1,000 output tokens reserved, plus the prompt (remaining ${remaining})`,
  );
});

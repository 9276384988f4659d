/**
 * The form-schema dialect's mapping, without a server: chat bodies in, form bodies (or the route's
 * refusal, naming the member the form cannot carry) out; and the config and routing it implies.
 */
import { test } from 'tap';
import { parseConfig } from '../../../src/config.js';
import { formSchemaDialect } from '../../../src/dialects/form-schema.js';
import type { GatewayError } from '../../../src/errors.js';
import { topLevelMembers } from '../../../src/openai/json-scan.js';
import { checkBody } from '../../../src/openai/request-body.js';
import { ModelRouter } from '../../../src/upstream/routing.js';

function upstream(body: object) {
  const json = Buffer.from(JSON.stringify(body));
  const members = topLevelMembers(json, 128)!.members;
  const request = { endpoint: 'chat' as const, body: checkBody('chat', body, members), json, members };
  return formSchemaDialect.upstreamBody(request, 'reseller-model');
}

function form(body: object): unknown {
  const answer = upstream(body);
  if (answer.refusal) throw answer.refusal;
  return JSON.parse(answer.body.toString());
}

function refusal(body: object): GatewayError {
  const answer = upstream(body);
  if (!answer.refusal) throw new Error(`not refused: ${answer.body.toString()}`);
  return answer.refusal;
}

const user = (content: unknown) => ({ role: 'user', content });

test('system and developer messages become system_prompt, one user turn the prompt, members carried', async (t) => {
  const body = {
    model: 'alias',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'developer', content: 'Use English.' }, user('Hi')],
    temperature: 0.2,
    top_p: 0.9,
    presence_penalty: 0.1,
    frequency_penalty: 0.3,
    seed: 7,
    max_tokens: 50,
    response_format: { type: 'json_object' },
    stream: false,
    user: 'end-user-1',
  };
  t.same(form(body), {
    model: 'reseller-model',
    prompt: 'Hi',
    system_prompt: 'Be brief.\n\nUse English.',
    temperature: 0.2,
    top_p: 0.9,
    presence_penalty: 0.1,
    frequency_penalty: 0.3,
    seed: 7,
    stream: false,
    max_completion_tokens: 50,
    response_format: { type: 'json_object' },
  });
});

test('max_completion_tokens wins over max_tokens; nulls are not sent', async (t) => {
  const body = { model: 'a', messages: [user('x')], max_tokens: 10, max_completion_tokens: 20, temperature: null };
  t.same(form(body), { model: 'reseller-model', prompt: 'x', max_completion_tokens: 20 });
});

test('a longer conversation is a role-labelled transcript; text parts are joined; images are collected', async (t) => {
  const image = { type: 'image_url', image_url: { url: 'https://example.test/cat.png', detail: 'high' } };
  const body = {
    model: 'a',
    messages: [
      user([{ type: 'text', text: 'Look' }, image, { type: 'text', text: 'at this' }]),
      { role: 'assistant', content: 'A cat.' },
      user('What colour?'),
    ],
  };
  t.same(form(body), {
    model: 'reseller-model',
    prompt: 'User: Look\nat this\n\nAssistant: A cat.\n\nUser: What colour?',
    image_urls: ['https://example.test/cat.png'],
    image_detail: 'high',
  });
});

test('what the form cannot carry refuses the route with a 400 naming the member', async (t) => {
  const base = { model: 'a', messages: [user('x')] };
  const tool = { type: 'function', function: { name: 'f', parameters: {} } };
  const cases: [object, string][] = [
    [{ tools: [tool] }, 'tools'],
    [{ tool_choice: 'auto' }, 'tool_choice'],
    [{ n: 2 }, 'n'],
    [{ logprobs: true }, 'logprobs'],
    [{ top_logprobs: 2 }, 'top_logprobs'],
    [{ audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    [{ modalities: ['text', 'audio'] }, 'modalities'],
    [{ stop: ['\n'] }, 'stop'],
    [{ logit_bias: { 50256: -100 } }, 'logit_bias'],
    [{ response_format: { type: 'json_schema', json_schema: { name: 's', schema: {} } } }, 'response_format'],
    [{ messages: [user('x'), { role: 'tool', tool_call_id: 'c1', content: 'r' }] }, 'messages'],
    [{ messages: [{ role: 'assistant', content: null, tool_calls: [] }, user('x')] }, 'messages'],
    [{ messages: [user([{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }])] }, 'messages'],
    [{ messages: [{ role: 'system', content: 'only a system prompt' }] }, 'messages'],
  ];
  for (const [extra, param] of cases) {
    const error = refusal({ ...base, ...extra });
    t.match(
      { status: error.status, type: error.type, param: error.param, code: error.code },
      { status: 400, type: 'invalid_request_error', param, code: 'unsupported_parameter' },
      `${JSON.stringify(extra)} → ${param}`,
    );
  }
  const harmless = { ...base, n: 1, tools: [], tool_choice: 'none', logprobs: false };
  t.same(form(harmless), { model: 'reseller-model', prompt: 'x' });
});

test('images with different details cannot share the one image_detail', async (t) => {
  const image = (detail: string) => ({ type: 'image_url', image_url: { url: `https://example.test/${detail}.png`, detail } });
  const error = refusal({ model: 'a', messages: [user([image('low'), image('high')])] });
  t.equal(error.param, 'messages');
});

test('format: form-schema implies chat only (Responses bridged); chatPath replaces /chat/completions', async (t) => {
  const config = parseConfig(
    {
      providers: {
        reseller: { baseUrl: 'https://reseller.test/v1', apiKey: 'k', format: 'form-schema', chatPath: '/form/chat' },
      },
      models: { m: { routes: [{ provider: 'reseller', model: 'gpt-4.1' }] } },
      tiers: {},
    },
    {},
  );
  t.same(config.providers.reseller!.endpoints, ['chat']);
  const router = new ModelRouter(config);
  t.equal(router.routes('m', 'chat')![0]!.path, '/v1/form/chat');
  t.equal(router.routes('m', 'chat')![0]!.dialect, formSchemaDialect);
  const [bridged] = router.routes('m', 'responses')!;
  t.equal(bridged?.path, '/v1/form/chat', 'Responses requests are bridged to its chat path');
  t.equal(bridged?.bridged, true);
  t.not(bridged?.dialect, formSchemaDialect, 'through the bridge, which hands its chat body to the form dialect');
});

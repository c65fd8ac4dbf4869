// Interoperability test: the official OpenAI Node.js client against a
// running `symbc serve`. It builds and starts nothing itself; it expects
//
//   SYMBC_OPENAI_BASE_URL  the server's API root, e.g. http://127.0.0.1:8080/v1
//   SYMBC_MODEL_NAME       the model id the server reports (default stories260k)
//   SYMBC_API_KEY          the key the server requires
//
// and a server serving testdata/models/stories260k with the chat template
// runtime/server/testdata/tool_template.jinja (BOS, then the messages'
// contents; tools, tool calls and tool results when there are some), as
// .ci/openai-client.sh sets up. With that template a single user message
// "Once upon a time" is the model's reference prompt, so the greedy reply is
// the reference continuation below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.SYMBC_OPENAI_BASE_URL;
if (!baseURL) {
  throw new Error('set SYMBC_OPENAI_BASE_URL to the server, e.g. http://127.0.0.1:8080/v1');
}
const modelName = process.env.SYMBC_MODEL_NAME || 'stories260k';
const apiKey = process.env.SYMBC_API_KEY;
if (!apiKey) {
  throw new Error('set SYMBC_API_KEY to the key the server requires');
}
// No retries, so a failure shows up as itself.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

// stories260k's greedy continuation of "Once upon a time" (64 tokens), from
// testdata/models/stories260k/README.md.
const greedy64 =
  ', there was a little girl named Lily. She loved to play outside in the park. ' +
  "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";
const prompt = [{ role: 'user', content: 'Once upon a time' }];

// The usage of the reference prompt and 64 tokens; the prompt cache may
// have held some of the prompt.
function assertUsage(usage) {
  assert.equal(usage.prompt_tokens, 5);
  assert.equal(usage.completion_tokens, 64);
  assert.equal(usage.total_tokens, 69);
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  assert.ok(Number.isInteger(cached) && cached >= 0 && cached <= 5, `cached_tokens ${cached}`);
}

test('models.list reports the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.deepEqual(ids, [modelName]);
  const one = await client.models.retrieve(modelName);
  assert.equal(one.id, modelName);
});

test('chat completion, non-streaming, greedy', async () => {
  const res = await client.chat.completions.create({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 64,
  });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.model, modelName);
  assert.match(res.id, /^chatcmpl-/);
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0].message.role, 'assistant');
  assert.equal(res.choices[0].message.content, greedy64);
  assert.equal(res.choices[0].finish_reason, 'length');
  assertUsage(res.usage);
});

test('chat completion, streaming, with usage', async () => {
  const stream = await client.chat.completions.create({
    model: modelName, messages: prompt, temperature: 0, max_completion_tokens: 64,
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let role = null;
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      if (c.delta.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks > 10, `only ${chunks} chunks: the reply was not streamed`);
  assert.equal(role, 'assistant');
  assert.equal(text, greedy64);
  assert.equal(finish, 'length');
  assertUsage(usage);
});

test('stop strings end the reply with finish_reason stop', async () => {
  const res = await client.chat.completions.create({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 64, stop: ['Lily'],
  });
  assert.equal(res.choices[0].message.content, ', there was a little girl named ');
  assert.equal(res.choices[0].finish_reason, 'stop');

  const stream = client.chat.completions.stream({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 64, stop: 'Lily',
  });
  const final = await stream.finalChatCompletion();
  assert.equal(final.choices[0].message.content, ', there was a little girl named ');
  assert.equal(final.choices[0].finish_reason, 'stop');
});

test('legacy completions', async () => {
  const res = await client.completions.create({
    model: modelName, prompt: 'Once upon a time', temperature: 0, max_tokens: 64,
  });
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices[0].text, greedy64);
  assert.equal(res.choices[0].finish_reason, 'length');
});

test('errors arrive as typed API errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: modelName, messages: prompt, n: 2 }),
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.param === 'n' && /n=1/.test(err.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: modelName, messages: [{ role: 'user', content: 'once upon a time '.repeat(200) }] }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'context_length_exceeded',
  );
  await assert.rejects(
    client.models.retrieve('no-such-model'),
    (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
  );
});

test('aborting a stream leaves the server usable', async () => {
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: modelName, messages: prompt, max_tokens: 400, stream: true },
    { signal: controller.signal },
  );
  // The client ends the iteration quietly once its signal is aborted.
  let got = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content && ++got === 3) controller.abort();
  }
  assert.ok(controller.signal.aborted);
  assert.equal(got, 3);
  const res = await client.chat.completions.create({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 8,
  });
  assert.ok(greedy64.startsWith(res.choices[0].message.content));
});

test('a wrong API key is refused with 401, the right one accepted', async () => {
  const wrong = new OpenAI({ baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(
    wrong.models.list(),
    (err) => err instanceof OpenAI.AuthenticationError && err.status === 401 && err.code === 'invalid_api_key',
  );
  const health = await fetch(baseURL.replace(/\/v1$/, '/health'));
  assert.equal(health.status, 200, '/health needs no key');
  const page = await client.models.list();
  assert.equal(page.data[0].id, modelName);
});

test('unserved models get 404, unsupported fields 400 naming them', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4', messages: prompt, max_tokens: 2 }),
    (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found' && err.param === 'model',
  );
  await assert.rejects(
    client.chat.completions.create({ model: modelName, messages: prompt, max_tokens: 2, reasoning_effort: 'high' }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'reasoning_effort' && err.code === 'unsupported_parameter',
  );
  // Harmless fields are accepted.
  const res = await client.chat.completions.create({
    model: modelName, messages: prompt, max_tokens: 2, user: 'u-1', metadata: { run: 'ci' }, store: false,
  });
  assert.equal(res.choices.length, 1);
});

test('logprobs in chat and completions', async () => {
  const res = await client.chat.completions.create({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 16, logprobs: true, top_logprobs: 3,
  });
  const c = res.choices[0];
  assert.equal(c.logprobs.content.length, 16);
  assert.equal(c.logprobs.content.map((t) => t.token).join(''), c.message.content);
  for (const t of c.logprobs.content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.equal(t.top_logprobs[0].token, t.token, 'greedy picks the most likely token');
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
  }
  const cmpl = await client.completions.create({
    model: modelName, prompt: 'Once upon a time', temperature: 0, max_tokens: 8, logprobs: 2,
  });
  const lp = cmpl.choices[0].logprobs;
  assert.equal(lp.tokens.join(''), cmpl.choices[0].text);
  assert.equal(lp.token_logprobs.length, 8);
  assert.equal(lp.text_offset[0], 0);
});

test('json_schema output parses and follows the schema', async () => {
  const schema = {
    type: 'object',
    properties: {
      color: { enum: ['red', 'blue'] },
      count: { type: 'integer' },
      soft: { type: 'boolean' },
      tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
    },
    required: ['color', 'count', 'soft'],
    additionalProperties: false,
  };
  for (const temperature of [0, 1]) {
    const res = await client.chat.completions.create({
      model: modelName, messages: prompt, temperature, seed: 5, max_tokens: 200,
      response_format: { type: 'json_schema', json_schema: { name: 'toy', strict: true, schema } },
    });
    assert.equal(res.choices[0].finish_reason, 'stop');
    const obj = JSON.parse(res.choices[0].message.content);
    assert.ok(['red', 'blue'].includes(obj.color), JSON.stringify(obj));
    assert.ok(Number.isInteger(obj.count), JSON.stringify(obj));
    assert.equal(typeof obj.soft, 'boolean');
    for (const k of Object.keys(obj)) assert.ok(k in schema.properties, `unexpected key ${k}`);
  }
});

test('a tool call round trip', async () => {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { enum: ['Paris', 'London'] } }, required: ['city'] },
    },
  }];
  const res = await client.chat.completions.create({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 100, tools,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const c = res.choices[0];
  assert.equal(c.finish_reason, 'tool_calls');
  assert.equal(c.message.tool_calls.length, 1);
  const call = c.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.ok(['Paris', 'London'].includes(JSON.parse(call.function.arguments).city));

  // Streamed, the call arrives as tool_calls deltas.
  const stream = client.chat.completions.stream({
    model: modelName, messages: prompt, temperature: 0, max_tokens: 100, tools, tool_choice: 'required',
  });
  const final = await stream.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(final.choices[0].message.tool_calls[0].function.name, 'get_weather');

  // The result goes back with the history.
  const next = await client.chat.completions.create({
    model: modelName, temperature: 0, max_tokens: 8, tools,
    messages: [...prompt, c.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
  });
  assert.ok(next.usage.prompt_tokens > res.usage.prompt_tokens);
  assert.equal(next.choices[0].finish_reason, 'length');
});

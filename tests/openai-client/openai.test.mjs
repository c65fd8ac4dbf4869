// Interoperability test: the official OpenAI Node.js client against a
// running `symbc serve`. It builds and starts nothing itself; it expects
//
//   SYMBC_OPENAI_BASE_URL  the server's API root, e.g. http://127.0.0.1:8080/v1
//   SYMBC_MODEL_NAME       the model id the server reports (default stories260k)
//
// and a server serving testdata/models/stories260k with the chat template
// runtime/server/testdata/chat_template.jinja (BOS, then the messages'
// contents), as .ci/openai-client.sh sets up. With that template a single
// user message "Once upon a time" is the model's reference prompt, so the
// greedy reply is the reference continuation below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.SYMBC_OPENAI_BASE_URL;
if (!baseURL) {
  throw new Error('set SYMBC_OPENAI_BASE_URL to the server, e.g. http://127.0.0.1:8080/v1');
}
const modelName = process.env.SYMBC_MODEL_NAME || 'stories260k';
// The server needs no key; the client insists on one. No retries, so a
// failure shows up as itself.
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

// stories260k's greedy continuation of "Once upon a time" (64 tokens), from
// testdata/models/stories260k/README.md.
const greedy64 =
  ', there was a little girl named Lily. She loved to play outside in the park. ' +
  "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";
const prompt = [{ role: 'user', content: 'Once upon a time' }];

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
  assert.deepEqual(res.usage, {
    prompt_tokens: 5, completion_tokens: 64, total_tokens: 69, prompt_tokens_details: { cached_tokens: 0 },
  });
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
  assert.deepEqual(usage, {
    prompt_tokens: 5, completion_tokens: 64, total_tokens: 69, prompt_tokens_details: { cached_tokens: 0 },
  });
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

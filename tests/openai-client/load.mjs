// Load test: many concurrent streaming chats through the official OpenAI
// Node.js client against a running `symbc serve` (see .ci/openai-load.sh,
// which starts the server and checks its memory). Each chat runs several
// rounds: the reply is appended to the conversation and the next user turn
// asked, so later rounds exercise the prompt-prefix cache.
//
//   SYMBC_OPENAI_BASE_URL  the server's API root, e.g. http://127.0.0.1:8080/v1
//   SYMBC_MODEL_NAME       the model id (default stories260k)
//   SYMBC_LOAD_CHATS       concurrent chats (default 32)
//   SYMBC_LOAD_ROUNDS      rounds per chat (default 3)
//
// It fails (exit 1) on any error, on a stream that does not end with
// "data: [DONE]", or on a round without text; it prints one JSON summary line.
import OpenAI from 'openai';

const baseURL = process.env.SYMBC_OPENAI_BASE_URL;
if (!baseURL) {
  throw new Error('set SYMBC_OPENAI_BASE_URL to the server, e.g. http://127.0.0.1:8080/v1');
}
const model = process.env.SYMBC_MODEL_NAME || 'stories260k';
const chats = Number(process.env.SYMBC_LOAD_CHATS || 32);
const rounds = Number(process.env.SYMBC_LOAD_ROUNDS || 3);
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });

const names = ['Lily', 'Tom', 'Sue', 'Max', 'Ben', 'Mia', 'Sam', 'Zoe'];

// streamChat sends one streaming request and reads the raw event stream, so
// that the final "data: [DONE]" is checked rather than assumed.
async function streamChat(messages, seed) {
  const started = performance.now();
  const response = await client.chat.completions
    .create({
      model, messages, stream: true, stream_options: { include_usage: true },
      max_tokens: 40, temperature: 0.8, seed,
    })
    .asResponse();
  if (response.status !== 200) {
    throw new Error(`status ${response.status}: ${await response.text()}`);
  }
  const body = await response.text();
  const events = body.split('\n\n').filter((e) => e !== '');
  for (const e of events) {
    if (!e.startsWith('data: ')) throw new Error(`malformed event ${JSON.stringify(e)}`);
  }
  const last = events.at(-1);
  if (last !== 'data: [DONE]') throw new Error(`stream ends with ${JSON.stringify(last)}, not [DONE]`);
  let text = '';
  let usage = null;
  let firstToken = null;
  for (const e of events.slice(0, -1)) {
    const chunk = JSON.parse(e.slice('data: '.length));
    if (chunk.error) throw new Error(`error event: ${JSON.stringify(chunk.error)}`);
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.content) {
        text += c.delta.content;
        firstToken ??= performance.now();
      }
    }
  }
  if (!usage) throw new Error('no usage chunk');
  return { text, usage, seconds: (performance.now() - started) / 1000 };
}

async function chat(i) {
  const messages = [{ role: 'user', content: `Once upon a time, ${names[i % names.length]} found a` }];
  const results = [];
  for (let r = 0; r < rounds; r++) {
    const res = await streamChat(messages, 1000 * i + r);
    if (res.text === '') throw new Error(`chat ${i} round ${r}: empty reply`);
    results.push(res);
    messages.push({ role: 'assistant', content: res.text });
    messages.push({ role: 'user', content: `Then ${names[(i + r + 1) % names.length]} said` });
  }
  return results;
}

const started = performance.now();
const settled = await Promise.allSettled(Array.from({ length: chats }, (_, i) => chat(i)));
const errors = settled.filter((s) => s.status === 'rejected').map((s) => String(s.reason));
const done = settled.filter((s) => s.status === 'fulfilled').flatMap((s) => s.value);
const summary = {
  chats, rounds, streams: done.length, errors: errors.length,
  seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  completion_tokens: done.reduce((a, r) => a + r.usage.completion_tokens, 0),
  prompt_tokens: done.reduce((a, r) => a + r.usage.prompt_tokens, 0),
  cached_tokens: done.reduce((a, r) => a + (r.usage.prompt_tokens_details?.cached_tokens ?? 0), 0),
};
console.log(JSON.stringify(summary));
if (errors.length > 0) {
  console.error(errors.slice(0, 5).join('\n'));
  process.exit(1);
}
if (done.length !== chats * rounds) {
  console.error(`${done.length} streams finished, want ${chats * rounds}`);
  process.exit(1);
}
if (rounds > 1 && summary.cached_tokens === 0) {
  console.error('no prompt tokens came from the prefix cache in later rounds');
  process.exit(1);
}

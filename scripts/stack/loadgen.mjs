#!/usr/bin/env node
// Small load generator for the demo stack: sends OpenAI-style chat requests through Sluice at
// a steady rate so that the dashboards have traffic to show.
//
// Environment:
//   SLUICE_URL      base URL of Sluice (http://sluice:8080)
//   RATE            requests per second (3)
//   MODELS          comma-separated model names; default: whatever GET /v1/models lists
//   STREAM_RATIO    share of streamed requests, 0-1 (0.5)
//   UNKNOWN_RATIO   share of requests for a model nobody serves, to show 404s, 0-1 (0.02)
//   MAX_REQUESTS    stop after this many requests; 0 runs until stopped (0)
//   MAX_IN_FLIGHT   requests allowed in flight at once (20)
//   HEARTBEAT_FILE  touched every second while running, for a container health check (unset: off)

import { writeFileSync } from 'node:fs';

const env = process.env;
const baseUrl = (env.SLUICE_URL ?? 'http://sluice:8080').replace(/\/$/, '');
const rate = numberFromEnv('RATE', 3);
const streamRatio = numberFromEnv('STREAM_RATIO', 0.5);
const unknownRatio = numberFromEnv('UNKNOWN_RATIO', 0.02);
const maxRequests = numberFromEnv('MAX_REQUESTS', 0);
const maxInFlight = numberFromEnv('MAX_IN_FLIGHT', 20);
const heartbeatFile = env.HEARTBEAT_FILE;

const PROMPTS = [
  'Tell me about the river and the mill.',
  'Write a short note on load balancing.',
  'What does the lighthouse keeper see at night?',
  'Summarise the weather in one sentence.',
  'Describe a quiet morning in the valley.',
];

// Every request starts with the same system prompt, as the requests of one application do: its
// blocks are a shared prefix, which prefix-aware routing sends where it is already cached.
const SYSTEM_PROMPT = [
  'You are the guide of a small valley with a river, a mill, a lighthouse on the lake and a weather station.',
  'Answer in plain language, in at most three sentences, and never invent places that are not in the valley.',
  'The mill grinds grain on weekdays; the lighthouse keeper logs the boats at night; the weather station',
  'reports wind, rain and temperature every hour. When a question is about something outside the valley,',
  'say so briefly and suggest a question about the valley instead. Prefer concrete details to general ones,',
  'and keep the tone friendly and calm, as a local would when showing a visitor around on a quiet morning.',
].join(' ');

function numberFromEnv(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`loadgen: ${name} must be a non-negative number, got "${raw}"\n`);
    process.exit(2);
  }
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (items) => items[Math.floor(Math.random() * items.length)];

async function discoverModels() {
  if (env.MODELS) return env.MODELS.split(',').map((m) => m.trim()).filter(Boolean);
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/v1/models`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) {
        const body = await res.json();
        const ids = (body.data ?? []).map((m) => m.id);
        if (ids.length > 0) return ids;
      }
    } catch {
      // Sluice not reachable yet
    }
    await sleep(1000);
  }
}

/** Sends one chat request and reads the whole answer; returns the HTTP status (0 on network error). */
async function sendChat(model, stream) {
  const body = {
    model,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: pick(PROMPTS) },
    ],
    max_tokens: 8 + Math.floor(Math.random() * 24),
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  };
  try {
    const res = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer(); // drain, streamed or not, so the request completes
    return res.status;
  } catch {
    return 0;
  }
}

async function main() {
  const models = await discoverModels();
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'loadgen started', target: baseUrl, rate, models })}\n`);
  const counts = new Map();
  let sent = 0;
  let inFlight = 0;
  let stopping = false;
  const stop = () => (stopping = true);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  const report = setInterval(() => {
    process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'loadgen progress', sent, in_flight: inFlight, statuses: Object.fromEntries(counts) })}\n`);
  }, 30_000);
  report.unref();

  if (heartbeatFile) {
    const beat = () => writeFileSync(heartbeatFile, String(Date.now()));
    beat();
    setInterval(beat, 1000).unref();
  }

  const intervalMs = rate > 0 ? 1000 / rate : 1000;
  while (!stopping && (maxRequests === 0 || sent < maxRequests)) {
    if (rate > 0 && inFlight < maxInFlight) {
      const model = Math.random() < unknownRatio ? 'no-such-model' : pick(models);
      sent += 1;
      inFlight += 1;
      void sendChat(model, Math.random() < streamRatio).then((status) => {
        inFlight -= 1;
        counts.set(String(status), (counts.get(String(status)) ?? 0) + 1);
      });
    }
    // Jitter keeps the arrivals from lining up with scrapes.
    await sleep(intervalMs * (0.5 + Math.random()));
  }
  while (inFlight > 0) await sleep(50);
  clearInterval(report);
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'loadgen finished', sent, statuses: Object.fromEntries(counts) })}\n`);
}

await main();

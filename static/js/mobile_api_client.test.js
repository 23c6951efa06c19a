// node --test: regional routing, failover, retry, timeouts and audio framing of mobile_api_client.js.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  ApiClient,
  ApiError,
  Framer,
  FRAME_MS,
  MAX_MESSAGE_BYTES,
  NetworkError,
  PcmPlayer,
  Resampler,
  SpeakingSession,
  audioMessage,
  backoffDelay,
  base64ToPcm,
  floatTo16,
  pcmToBase64,
  regionForTimeZone,
  regionOrder,
} from './mobile_api_client.js';

/** A loopback server whose behaviour a test sets per request; it records every request it saw. */
function loopback() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      server.seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      server.behave(req, res, body);
    });
  });
  server.seen = [];
  server.behave = (req, res) => json(res, 200, { status: 'ok' });
  return server;
}

function json(res, status, payload) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(payload));
}

const servers = {};
const urls = {};
const noSleep = async () => {};

before(async () => {
  for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-1']) {
    servers[region] = loopback();
    await new Promise((resolve) => servers[region].listen(0, '127.0.0.1', resolve));
    urls[region] = `http://127.0.0.1:${servers[region].address().port}`;
  }
});

after(() => {
  for (const server of Object.values(servers)) {
    server.closeAllConnections();
    server.close();
  }
});

function reset() {
  for (const server of Object.values(servers)) {
    server.seen = [];
    server.behave = (req, res) => json(res, 200, { status: 'ok', path: req.url });
  }
}

describe('region choice', () => {
  test('the time zone picks the nearest region first', () => {
    assert.equal(regionForTimeZone('Europe/London'), 'eu-west-1');
    assert.equal(regionForTimeZone('Africa/Lagos'), 'eu-west-1');
    assert.equal(regionForTimeZone('Asia/Dubai'), 'eu-west-1');
    assert.equal(regionForTimeZone('Asia/Kolkata'), 'ap-southeast-1');
    assert.equal(regionForTimeZone('Australia/Sydney'), 'ap-southeast-1');
    assert.equal(regionForTimeZone('America/Sao_Paulo'), 'us-east-1');
    assert.equal(regionForTimeZone(undefined), 'us-east-1');
  });

  test('in production each region has its own api-<region> and ws-<region> domains; locally /ws sits beside /api', () => {
    const production = new ApiClient({ region: 'eu-west-1' });
    assert.equal(production.baseUrl, 'https://api-eu-west-1.ieltsaiprep.com');
    assert.equal(production.wsUrl, 'wss://ws-eu-west-1.ieltsaiprep.com');
    const local = new ApiClient({ baseUrls: { 'us-east-1': 'http://127.0.0.1:8000' } });
    assert.equal(local.wsUrl, 'ws://127.0.0.1:8000/ws');
  });

  test('the failover order starts at the chosen region and visits every other one once', () => {
    assert.deepEqual(regionOrder('eu-west-1'), ['eu-west-1', 'us-east-1', 'ap-southeast-1']);
    assert.deepEqual(regionOrder('nowhere'), ['us-east-1', 'eu-west-1', 'ap-southeast-1']);
  });

  test('the client starts in the time-zone region and moves to the lowest measured latency', async () => {
    reset();
    servers['eu-west-1'].behave = (req, res) => setTimeout(() => json(res, 200, { status: 'ok' }), 150);
    servers['us-east-1'].behave = (req, res) => json(res, 503, { error: { code: 'down', message: 'down' } });
    const client = new ApiClient({ baseUrls: urls, timeZone: 'Europe/Dublin' });
    assert.equal(client.region, 'eu-west-1');
    const latencies = await client.measureLatencies();
    assert.equal(latencies['us-east-1'], null, 'a 5xx health check does not count as an answer');
    assert.ok(latencies['ap-southeast-1'] < latencies['eu-west-1']);
    assert.equal(client.region, 'ap-southeast-1');
    assert.ok(servers['eu-west-1'].seen.every((r) => r.url === '/api/health'));
  });
});

describe('requests', () => {
  test('a 5xx is retried with backoff, then the next region answers and becomes the current one', async () => {
    reset();
    servers['us-east-1'].behave = (req, res) => json(res, 502, { error: { code: 'bad_gateway', message: 'x' } });
    const delays = [];
    const client = new ApiClient({
      baseUrls: urls,
      region: 'us-east-1',
      retries: 2,
      sleep: async (ms) => delays.push(ms),
      backoff: { baseMs: 100, random: () => 0.5 },
    });
    const data = await client.get('/api/me');
    assert.equal(data.path, '/api/me');
    assert.equal(servers['us-east-1'].seen.length, 3, 'one try and two retries in the failing region');
    assert.equal(servers['eu-west-1'].seen.length, 1);
    assert.equal(client.region, 'eu-west-1');
    assert.deepEqual(delays.slice(0, 2), [100, 200], 'exponential backoff with jitter');
  });

  test('a refused connection fails over to the next region', async () => {
    reset();
    const client = new ApiClient({
      baseUrls: { 'us-east-1': 'http://127.0.0.1:1', 'eu-west-1': urls['eu-west-1'] },
      region: 'us-east-1',
      retries: 0,
      sleep: noSleep,
    });
    const data = await client.get('/api/health');
    assert.equal(data.status, 'ok');
    assert.equal(client.region, 'eu-west-1');
  });

  test('a request that times out is aborted and reported as a network timeout', async () => {
    reset();
    for (const server of Object.values(servers)) server.behave = () => {}; // never answers
    const client = new ApiClient({ baseUrls: { 'us-east-1': urls['us-east-1'] }, retries: 1, timeoutMs: 80, sleep: noSleep });
    await assert.rejects(client.get('/api/me'), (error) => error instanceof NetworkError && error.timeout);
    assert.equal(servers['us-east-1'].seen.length, 2);
  });

  test('a 4xx is not retried and surfaces the API error code', async () => {
    reset();
    servers['us-east-1'].behave = (req, res) => json(res, 402, { error: { code: 'no_credits', message: 'Buy a pack' } });
    const client = new ApiClient({ baseUrls: urls, region: 'us-east-1', sleep: noSleep });
    await assert.rejects(
      client.post('/api/assessments', { module: 'academic_writing' }),
      (error) => error instanceof ApiError && error.status === 402 && error.code === 'no_credits',
    );
    assert.equal(servers['us-east-1'].seen.length, 1);
    assert.equal(servers['eu-west-1'].seen.length, 0);
  });

  test('a plain POST is sent once: a 5xx is not repeated anywhere (it could spend a credit twice)', async () => {
    reset();
    servers['us-east-1'].behave = (req, res) => json(res, 500, { error: { code: 'internal', message: 'x' } });
    const client = new ApiClient({ baseUrls: urls, region: 'us-east-1', sleep: noSleep });
    await assert.rejects(client.post('/api/assessments', { module: 'general_writing' }), (e) => e.status === 500);
    const total = Object.values(servers).reduce((n, s) => n + s.seen.length, 0);
    assert.equal(total, 1);
  });

  test('login keeps the bearer token and sends it on later calls; logout forgets it', async () => {
    reset();
    servers['us-east-1'].behave = (req, res, body) => {
      if (req.url === '/api/auth/login') {
        assert.deepEqual(JSON.parse(body), { email: 'a@example.com', password: 'pw-123456789' });
        return json(res, 200, { token: 'tok-1', expires_at: '2030-01-01T00:00:00Z', user: { id: 'u', email: 'a' } });
      }
      if (req.url === '/api/auth/logout') {
        res.writeHead(204);
        return res.end();
      }
      return json(res, 200, { auth: req.headers.authorization || null });
    };
    const client = new ApiClient({ baseUrls: urls, region: 'us-east-1' });
    assert.equal((await client.get('/api/me')).auth, null);
    await client.login('a@example.com', 'pw-123456789');
    assert.equal((await client.get('/api/me')).auth, 'Bearer tok-1');
    assert.equal(await client.logout(), undefined);
    assert.equal(client.token, null);
  });

  test('backoff delays stay within the exponential cap', () => {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const delay = backoffDelay(attempt, { baseMs: 100, capMs: 1000, random: () => 0.999 });
      assert.ok(delay >= 0 && delay < Math.min(1000, 100 * 2 ** attempt));
    }
  });
});

describe('speaking audio', () => {
  test('44.1 kHz capture becomes 16 kHz: the sample count follows the rate across chunk boundaries', () => {
    const resampler = new Resampler(44100, 16000);
    let total = 0;
    for (let i = 0; i < 100; i += 1) total += resampler.push(new Float32Array(441)).length;
    assert.ok(Math.abs(total - 16000) <= 2, `got ${total}`);
  });

  test('a 440 Hz tone keeps its frequency after resampling', () => {
    const resampler = new Resampler(48000, 16000);
    const input = Float32Array.from({ length: 48000 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 48000));
    const out = resampler.push(input);
    let crossings = 0;
    for (let i = 1; i < out.length; i += 1) if (out[i - 1] < 0 && out[i] >= 0) crossings += 1;
    assert.ok(Math.abs(crossings - 440) <= 2, `got ${crossings}`);
  });

  test('frames are 160 ms of 16 kHz audio and each message stays under 32 KB', () => {
    const framer = new Framer();
    const frames = [...framer.push(new Int16Array(1000)), ...framer.push(new Int16Array(9000))];
    assert.equal(frames.length, 3);
    for (const frame of frames) {
      assert.equal(frame.length, (16000 * FRAME_MS) / 1000);
      assert.ok(FRAME_MS >= 100 && FRAME_MS <= 200);
    }
    assert.equal(framer.buffer.length, 10000 - 3 * 2560);
    const message = JSON.stringify(audioMessage(7, frames[0]));
    assert.ok(Buffer.byteLength(message) < MAX_MESSAGE_BYTES);
    assert.deepEqual(JSON.parse(message).seq, 7);
  });

  test('PCM survives base64 as little-endian 16-bit samples, clipped to range', () => {
    const pcm = floatTo16(Float32Array.from([0, 0.5, -0.5, 1.5, -1.5]));
    assert.deepEqual([...pcm], [0, 16384, -16384, 32767, -32768]);
    assert.deepEqual([...base64ToPcm(pcmToBase64(pcm))], [...pcm]);
    assert.equal(Buffer.from(pcmToBase64(Int16Array.from([1])), 'base64').toString('hex'), '0100');
  });

  test('examiner chunks are scheduled back to back without gaps, and interrupted flushes them', () => {
    const started = [];
    const stopped = [];
    const context = {
      currentTime: 1,
      destination: {},
      createBuffer: (channels, length, rate) => {
        const data = new Float32Array(length);
        return { length, rate, getChannelData: () => data };
      },
      createBufferSource: () => {
        const source = { connect() {}, start: (at) => started.push(at), stop: () => stopped.push(source) };
        return source;
      },
    };
    const player = new PcmPlayer(context, { leadSeconds: 0.05 });
    player.enqueue(new Int16Array(2400)); // 100 ms at 24 kHz
    player.enqueue(new Int16Array(4800)); // 200 ms
    assert.deepEqual(started.map((t) => Number(t.toFixed(6))), [1.05, 1.15]);
    assert.ok(Math.abs(player.nextTime - 1.35) < 1e-9);
    player.flush();
    assert.equal(stopped.length, 2);
    context.currentTime = 2;
    player.enqueue(new Int16Array(240));
    assert.equal(started.at(-1), 2.05, 'after a flush playback starts afresh');
  });
});

describe('speaking session', () => {
  class FakeSocket {
    static all = [];
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      FakeSocket.all.push(this);
    }
    open() {
      this.readyState = 1;
      this.onopen();
    }
    send(data) {
      this.sent.push(JSON.parse(data));
    }
    receive(message) {
      this.onmessage({ data: JSON.stringify(message) });
    }
    drop() {
      this.readyState = 3;
      this.onclose({ code: 1006 });
    }
    close() {
      this.readyState = 3;
    }
  }

  test('start on open, audio frames with rising seq, interrupted flushes, a dropped socket resumes with start', async () => {
    FakeSocket.all = [];
    const events = [];
    let flushed = 0;
    const player = { enqueue() {}, flush: () => (flushed += 1) };
    const session = new SpeakingSession({
      wsUrl: 'ws://127.0.0.1:9/ws',
      token: 't k',
      assessmentId: 'A1',
      WebSocketImpl: FakeSocket,
      onEvent: (m) => events.push(m),
      player,
      backoff: { baseMs: 1 },
    });
    session.connect();
    const first = FakeSocket.all[0];
    assert.equal(first.url, 'ws://127.0.0.1:9/ws?token=t%20k');
    first.open();
    assert.deepEqual(first.sent[0], { action: 'nova-sonic-stream', type: 'start', assessment_id: 'A1' });
    session.pushCapture(new Float32Array(48000 * 0.5), 48000); // half a second: three 160 ms frames
    const audio = first.sent.filter((m) => m.type === 'audio');
    assert.deepEqual(audio.map((m) => m.seq), [0, 1, 2]);
    first.receive({ type: 'interrupted' });
    assert.equal(flushed, 1);
    first.drop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = FakeSocket.all[1];
    assert.ok(second, 'reconnected');
    second.open();
    assert.deepEqual(second.sent[0], { action: 'nova-sonic-stream', type: 'start', assessment_id: 'A1' });
    second.receive({ type: 'complete', assessment_id: 'A1' });
    assert.ok(session.finished);
    assert.ok(events.some((e) => e.type === 'connection' && e.state === 'reconnecting'));
  });
});

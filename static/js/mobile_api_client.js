// The client of the IELTS GenAI Prep API for the web app and the Capacitor app (ES module, browser and node).
// HTTP: regional routing (time-zone guess, then measured latency), failover on network errors and 5xx, retries with
// exponential backoff and full jitter, per-request timeouts, bearer-token or session-cookie auth.
// Speaking: AudioWorklet capture resampled to 16 kHz 16-bit PCM, sent in 160 ms frames; examiner audio (24 kHz)
// scheduled gaplessly through Web Audio; playback flushed on `interrupted`; reconnect with `start` to resume.

export const REGIONS = Object.freeze(['us-east-1', 'eu-west-1', 'ap-southeast-1']);

/** The deployed regional HTTP APIs (custom domains api-<region>, see serverless.yml); injectable for tests. */
export const PRODUCTION_BASE_URLS = Object.freeze({
  'us-east-1': 'https://api-us-east-1.ieltsaiprep.com',
  'eu-west-1': 'https://api-eu-west-1.ieltsaiprep.com',
  'ap-southeast-1': 'https://api-ap-southeast-1.ieltsaiprep.com',
});

/** The deployed regional WebSocket APIs (custom domains ws-<region>, mapped at the root). */
export const PRODUCTION_WS_URLS = Object.freeze({
  'us-east-1': 'wss://ws-us-east-1.ieltsaiprep.com',
  'eu-west-1': 'wss://ws-eu-west-1.ieltsaiprep.com',
  'ap-southeast-1': 'wss://ws-ap-southeast-1.ieltsaiprep.com',
});

export const ACTION = 'nova-sonic-stream';
export const INPUT_SAMPLE_RATE = 16000;
export const OUTPUT_SAMPLE_RATE = 24000;
export const FRAME_MS = 160;
export const MAX_MESSAGE_BYTES = 32 * 1024;

// Time-zone areas served best from Europe (Europe, Africa, the Atlantic and the Middle East).
const EUROPE_AREAS = new Set(['Europe', 'Africa', 'Atlantic', 'Arctic']);
const MIDDLE_EAST = new Set(['Asia/Dubai', 'Asia/Riyadh', 'Asia/Qatar', 'Asia/Bahrain', 'Asia/Kuwait', 'Asia/Baghdad',
  'Asia/Tehran', 'Asia/Jerusalem', 'Asia/Tel_Aviv', 'Asia/Beirut', 'Asia/Amman', 'Asia/Damascus', 'Asia/Nicosia',
  'Asia/Muscat', 'Asia/Aden', 'Asia/Baku', 'Asia/Tbilisi', 'Asia/Yerevan']);
const ASIA_PACIFIC_AREAS = new Set(['Asia', 'Australia', 'Pacific', 'Indian', 'Antarctica']);

/** The region a time zone most likely sits nearest to (the first guess before any latency is measured). */
export function regionForTimeZone(timeZone) {
  if (typeof timeZone !== 'string' || !timeZone) return 'us-east-1';
  if (MIDDLE_EAST.has(timeZone)) return 'eu-west-1';
  const area = timeZone.split('/')[0];
  if (EUROPE_AREAS.has(area)) return 'eu-west-1';
  if (ASIA_PACIFIC_AREAS.has(area)) return 'ap-southeast-1';
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC' || timeZone === 'GMT') return 'eu-west-1';
  return 'us-east-1';
}

/** The device's IANA time zone, or null where Intl cannot tell. */
export function deviceTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

/** `first` followed by the other regions in their fixed order: the failover sequence. */
export function regionOrder(first, regions = REGIONS) {
  return regions.includes(first) ? [first, ...regions.filter((r) => r !== first)] : [...regions];
}

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt, { baseMs = 200, capMs = 5000, random = Math.random } = {}) {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/** An answer of the API with an error status (4xx, or 5xx after every retry). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** No answer at all: the network failed or the request timed out. */
export class NetworkError extends Error {
  constructor(message, { timeout = false, cause } = {}) {
    super(message);
    this.name = 'NetworkError';
    this.timeout = timeout;
    if (cause) this.cause = cause;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token store kept in memory (node, tests) or in a Web Storage object (the app). */
export function tokenStore(storage = null, key = 'ieltsprep.token') {
  let memory = null;
  return {
    get: () => (storage ? storage.getItem(key) : memory),
    set: (value) => (storage ? storage.setItem(key, value) : (memory = value)),
    clear: () => (storage ? storage.removeItem(key) : (memory = null)),
  };
}

export class ApiClient {
  /**
   * @param {object} options
   * @param {Record<string,string>} [options.baseUrls] region -> base URL (no trailing slash)
   * @param {Record<string,string>} [options.wsUrls] region -> WebSocket URL (default: `/ws` beside the base URL,
   *   as the local platform serves it; the production URLs when the production base URLs are used)
   * @param {string} [options.region] the starting region (default: guessed from the time zone)
   * @param {'omit'|'include'|'same-origin'} [options.credentials] 'include' for the web's session cookie
   */
  constructor({
    baseUrls = PRODUCTION_BASE_URLS,
    wsUrls = baseUrls === PRODUCTION_BASE_URLS ? PRODUCTION_WS_URLS : {},
    region,
    timeZone = deviceTimeZone(),
    fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
    timeoutMs = 15000,
    retries = 2,
    backoff = {},
    credentials = 'omit',
    tokens = tokenStore(),
    sleep: sleepImpl = sleep,
  } = {}) {
    this.baseUrls = { ...baseUrls };
    this.wsUrls = { ...wsUrls };
    this.regions = Object.keys(this.baseUrls);
    if (this.regions.length === 0) throw new Error('ApiClient needs at least one base URL');
    const guess = region || regionForTimeZone(timeZone);
    this.region = this.regions.includes(guess) ? guess : this.regions[0];
    this.fetch = fetchImpl;
    this.timeoutMs = timeoutMs;
    this.retries = retries;
    this.backoff = backoff;
    this.credentials = credentials;
    this.tokens = tokens;
    this.sleep = sleepImpl;
  }

  get baseUrl() {
    return this.baseUrls[this.region];
  }

  /** The WebSocket API of the current region (its own URL, or ws:// / wss:// + /ws beside the HTTP base). */
  get wsUrl() {
    return this.wsUrls[this.region] || this.baseUrl.replace(/^http/, 'ws') + '/ws';
  }

  get token() {
    return this.tokens.get();
  }

  /** One fetch with a timeout; resolves to the Response or rejects with NetworkError. */
  async fetchOnce(url, init, timeoutMs = this.timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      return await this.fetch(url, { ...init, signal: controller.signal });
    } catch (error) {
      const timedOut = controller.signal.aborted;
      throw new NetworkError(timedOut ? `no answer within ${timeoutMs} ms` : 'network error', {
        timeout: timedOut,
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Time a GET /api/health on every region; moves to the fastest that answered. Returns {region: ms|null}. */
  async measureLatencies({ timeoutMs = 3000, now = () => performance.now() } = {}) {
    const results = {};
    await Promise.all(
      this.regions.map(async (region) => {
        const started = now();
        try {
          const response = await this.fetchOnce(`${this.baseUrls[region]}/api/health`, { method: 'GET' }, timeoutMs);
          results[region] = response.ok ? now() - started : null;
        } catch {
          results[region] = null;
        }
      }),
    );
    const answered = Object.entries(results).filter(([, ms]) => ms !== null);
    if (answered.length) {
      answered.sort((a, b) => a[1] - b[1]);
      this.region = answered[0][0];
    }
    return results;
  }

  /**
   * Call the API. Idempotent requests (every method but POST, or `idempotent: true`) are retried with backoff on
   * network errors and 5xx, then failed over to the next region; a plain POST is sent once, to one region, because
   * repeating it could spend a credit twice.
   */
  async request(method, path, { body, headers = {}, timeoutMs, idempotent = method !== 'POST', raw = false } = {}) {
    const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: this.credentials };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const token = this.token;
    if (token) init.headers.Authorization = `Bearer ${token}`;
    const regions = idempotent ? regionOrder(this.region, this.regions) : [this.region];
    const attempts = idempotent ? this.retries + 1 : 1;
    let lastError = null;
    for (const region of regions) {
      for (let attempt = 0; attempt < attempts; attempt += 1) {
        if (lastError) await this.sleep(backoffDelay(attempt, this.backoff));
        let response;
        try {
          response = await this.fetchOnce(`${this.baseUrls[region]}${path}`, init, timeoutMs);
        } catch (error) {
          lastError = error;
          continue;
        }
        if (response.status >= 500) {
          lastError = await errorOf(response);
          continue;
        }
        // The region answered: stay there for the next calls.
        this.region = region;
        if (raw) return response;
        if (!response.ok) throw await errorOf(response);
        if (response.status === 204) return null;
        const text = await response.text();
        return text ? JSON.parse(text) : null;
      }
    }
    throw lastError;
  }

  get(path, options) {
    return this.request('GET', path, options);
  }

  post(path, body, options) {
    return this.request('POST', path, { ...options, body });
  }

  put(path, body, options) {
    return this.request('PUT', path, { ...options, body });
  }

  del(path, body, options) {
    return this.request('DELETE', path, { ...options, body });
  }

  /** Log in; keeps the bearer token (the app) unless the client runs on the session cookie (the web). */
  async login(email, password) {
    const data = await this.request('POST', '/api/auth/login', { body: { email, password }, idempotent: true });
    if (this.credentials !== 'include') this.tokens.set(data.token);
    return data;
  }

  async logout() {
    try {
      await this.request('POST', '/api/auth/logout', { idempotent: true });
    } finally {
      this.tokens.clear();
    }
  }
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // A body that is not JSON (a gateway's error page) keeps the status text.
  }
  return new ApiError(response.status, code, message);
}

// ---------------------------------------------------------------------------------------------------------------
// Audio: resampling, PCM, framing, playback

/** A streaming linear resampler: continuous across chunks (the position carries over). */
export class Resampler {
  constructor(fromRate, toRate) {
    this.ratio = fromRate / toRate;
    this.position = 0; // position of the next output sample, in input samples, relative to `previous`
    this.previous = null; // the last input sample of the previous chunk
    // A one-pole low-pass below the new Nyquist keeps aliasing out of the speech band when downsampling.
    this.alpha = toRate < fromRate ? 1 - Math.exp((-2 * Math.PI * (0.45 * toRate)) / fromRate) : 1;
    this.filtered = 0;
  }

  /** Resample one chunk of Float32 samples; returns a Float32Array at the target rate. */
  push(chunk) {
    const input = new Float32Array(chunk.length + 1);
    for (let i = 0; i < chunk.length; i += 1) {
      this.filtered += this.alpha * (chunk[i] - this.filtered);
      input[i + 1] = this.filtered;
    }
    input[0] = this.previous === null ? input[1] ?? 0 : this.previous;
    const out = [];
    let pos = this.position;
    while (pos + 1 <= chunk.length) {
      const i = Math.floor(pos);
      const frac = pos - i;
      out.push(input[i] + (input[i + 1] - input[i]) * frac);
      pos += this.ratio;
    }
    this.position = pos - chunk.length;
    if (chunk.length) this.previous = input[chunk.length];
    return Float32Array.from(out);
  }
}

/** Float samples in [-1, 1] to 16-bit integers (clipped). */
export function floatTo16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    out[i] = v < 0 ? Math.round(v * 0x8000) : Math.round(v * 0x7fff);
  }
  return out;
}

/** 16-bit integers to floats in [-1, 1). */
export function int16ToFloat(samples) {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) out[i] = samples[i] / 0x8000;
  return out;
}

/** Little-endian bytes of 16-bit PCM, base64 encoded (btoa exists in browsers and node 16+). */
export function pcmToBase64(int16) {
  const bytes = new Uint8Array(int16.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < int16.length; i += 1) view.setInt16(i * 2, int16[i], true);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** base64 of little-endian 16-bit PCM back to samples. */
export function base64ToPcm(data) {
  const binary = atob(data);
  const view = new DataView(new ArrayBuffer(binary.length - (binary.length % 2)));
  for (let i = 0; i < view.byteLength; i += 1) view.setUint8(i, binary.charCodeAt(i));
  const out = new Int16Array(view.byteLength / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** Cuts a stream of 16 kHz samples into frames of exactly `frameMs` milliseconds. */
export class Framer {
  constructor(frameMs = FRAME_MS, sampleRate = INPUT_SAMPLE_RATE) {
    this.frameSamples = Math.round((frameMs * sampleRate) / 1000);
    this.buffer = new Int16Array(0);
  }

  /** Add samples; returns the whole frames now complete. */
  push(samples) {
    const joined = new Int16Array(this.buffer.length + samples.length);
    joined.set(this.buffer);
    joined.set(samples, this.buffer.length);
    const frames = [];
    let offset = 0;
    while (joined.length - offset >= this.frameSamples) {
      frames.push(joined.slice(offset, offset + this.frameSamples));
      offset += this.frameSamples;
    }
    this.buffer = joined.slice(offset);
    return frames;
  }
}

/** The `audio` message of one frame. */
export function audioMessage(seq, frame) {
  return { action: ACTION, type: 'audio', seq, data: pcmToBase64(frame) };
}

/** Plays 24 kHz PCM chunks back to back on one AudioContext timeline (no gaps, no overlaps); flush() stops all. */
export class PcmPlayer {
  constructor(context, { sampleRate = OUTPUT_SAMPLE_RATE, leadSeconds = 0.05 } = {}) {
    this.context = context;
    this.sampleRate = sampleRate;
    this.leadSeconds = leadSeconds;
    this.nextTime = 0;
    this.sources = new Set();
    // The examiner's voice passes through an analyser so a page can show it as a live level.
    this.analyser = typeof context.createAnalyser === 'function' ? context.createAnalyser() : null;
    if (this.analyser) {
      this.analyser.fftSize = 512;
      this.analyser.connect(context.destination);
      this.samples = new Float32Array(this.analyser.fftSize);
    }
  }

  /** The loudness of what is playing now (RMS, 0 to 1); 0 when nothing plays. */
  level() {
    if (!this.analyser || !this.playing) return 0;
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const v of this.samples) sum += v * v;
    return Math.sqrt(sum / this.samples.length);
  }

  /** Schedule one chunk right after the previous one (or shortly from now when the queue ran dry). */
  enqueue(int16) {
    if (!int16.length) return;
    const buffer = this.context.createBuffer(1, int16.length, this.sampleRate);
    buffer.getChannelData(0).set(int16ToFloat(int16));
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.analyser || this.context.destination);
    const startAt = Math.max(this.nextTime, this.context.currentTime + this.leadSeconds);
    source.start(startAt);
    this.nextTime = startAt + int16.length / this.sampleRate;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  /** Whether examiner audio is still scheduled to play. */
  get playing() {
    return this.nextTime > this.context.currentTime;
  }

  /** Drop everything queued (the candidate interrupted the examiner). */
  flush() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // Already stopped.
      }
    }
    this.sources.clear();
    this.nextTime = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Speaking session over the WebSocket API

/**
 * One speaking test: the WebSocket, microphone capture and examiner playback.
 * Events reach `onEvent(message)` (every server message, plus {type:'connection', state}).
 */
export class SpeakingSession {
  constructor({
    wsUrl,
    token = null,
    assessmentId,
    WebSocketImpl = globalThis.WebSocket,
    onEvent = () => {},
    player = null,
    maxReconnects = 5,
    backoff = {},
  }) {
    this.wsUrl = wsUrl;
    this.token = token;
    this.assessmentId = assessmentId;
    this.WebSocketImpl = WebSocketImpl;
    this.onEvent = onEvent;
    this.player = player;
    this.maxReconnects = maxReconnects;
    this.backoff = backoff;
    this.seq = 0;
    this.socket = null;
    this.reconnects = 0;
    this.finished = false;
    this.framer = new Framer();
    this.resampler = null;
  }

  /** Open the socket and send `start` (also used to resume after a dropped connection). */
  connect() {
    const url = this.token ? `${this.wsUrl}?token=${encodeURIComponent(this.token)}` : this.wsUrl;
    const socket = new this.WebSocketImpl(url);
    this.socket = socket;
    socket.onopen = () => {
      this.onEvent({ type: 'connection', state: 'open' });
      socket.send(JSON.stringify({ action: ACTION, type: 'start', assessment_id: this.assessmentId }));
    };
    socket.onmessage = (event) => this.handle(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.finished) return;
      if (this.reconnects >= this.maxReconnects) {
        this.onEvent({ type: 'connection', state: 'lost' });
        return;
      }
      this.onEvent({ type: 'connection', state: 'reconnecting' });
      const delay = backoffDelay(this.reconnects, { baseMs: 500, ...this.backoff });
      this.reconnects += 1;
      setTimeout(() => {
        if (!this.finished) this.connect();
      }, delay);
    };
    return socket;
  }

  handle(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.type === 'ready') this.reconnects = 0;
    if (message.type === 'audio' && this.player) this.player.enqueue(base64ToPcm(message.data));
    if (message.type === 'interrupted' && this.player) this.player.flush();
    if (message.type === 'complete') this.close();
    this.onEvent(message);
  }

  /** Feed captured samples at the capture rate; whole frames go out as `audio` messages while connected. */
  pushCapture(samples, sampleRate) {
    if (!this.resampler || this.resampler.fromRate !== sampleRate) {
      this.resampler = new Resampler(sampleRate, INPUT_SAMPLE_RATE);
      this.resampler.fromRate = sampleRate;
    }
    const frames = this.framer.push(floatTo16(this.resampler.push(samples)));
    const socket = this.socket;
    for (const frame of frames) {
      // Frames captured while reconnecting are dropped: the examiner's clock keeps running on the server.
      if (socket && socket.readyState === 1) socket.send(JSON.stringify(audioMessage(this.seq, frame)));
      this.seq += 1;
    }
  }

  /** Try again after the connection was given up ('lost'): a fresh round of reconnects, resuming the test. */
  resume() {
    if (this.socket) return;
    this.finished = false;
    this.reconnects = 0;
    this.connect();
  }

  /** End the test early (what was said so far is scored). */
  stop() {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify({ action: ACTION, type: 'stop' }));
  }

  close() {
    this.finished = true;
    if (this.player) this.player.flush();
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
  }
}

/**
 * Start the microphone through an AudioWorklet and feed `session`; returns {context, stop()}.
 * The AudioContext runs at the device rate (often 44.1 or 48 kHz); the session resamples to 16 kHz.
 */
export async function startMicrophone(session, { workletUrl, mediaDevices = navigator.mediaDevices } = {}) {
  const stream = await mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const context = new AudioContext({ latencyHint: 'interactive' });
  await context.audioWorklet.addModule(workletUrl);
  const source = context.createMediaStreamSource(stream);
  const capture = new AudioWorkletNode(context, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 1 });
  const mute = context.createGain();
  mute.gain.value = 0;
  // The worklet must be pulled by the graph to run; a muted path to the speakers does that without feedback.
  source.connect(capture).connect(mute).connect(context.destination);
  let level = 0;
  capture.port.onmessage = (event) => {
    const samples = event.data;
    let sum = 0;
    for (let i = 0; i < samples.length; i += 1) sum += samples[i] * samples[i];
    level = Math.sqrt(sum / Math.max(1, samples.length));
    session.pushCapture(samples, context.sampleRate);
  };
  if (session.player === null) session.player = new PcmPlayer(context);
  return {
    context,
    level: () => level,
    stop() {
      capture.port.onmessage = null;
      for (const track of stream.getTracks()) track.stop();
      context.close();
    },
  };
}

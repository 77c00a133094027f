// The ringcast demo page: 12 sensor tiles (one EventSource each), a ranking table, a chat that
// publishes with POST, the protocol in use and the count of open streams. Plain browser JavaScript,
// no build step. window.__ringcast exposes what the page received, for the browser tests.
'use strict';

const SENSORS = 12;
const HISTORY_MS = 15000; // a new tile asks for this much history (since=), so its chart starts full
const CHART_POINTS = 75; // 15 s at the feed's 5 readings per second
const CHAT_KEEP = 100; // chat lines kept on the page
const SEQ_KEEP = 5000; // sequence numbers kept per tile for the tests (17 minutes at 5/s)

const $ = (id) => document.getElementById(id);

// Everything the page counts; the tests read it through window.__ringcast.
const state = {
  streams: [], // every Stream below, in the order they were opened
  tiles: {}, // sensor name -> {count, ns, lost, repeated, lastN, values, ...}
  chat: [], // chat records received: {user, text, ts}
  events: 0,
  drops: 0,
  protocol: '',
};

// One EventSource with what it takes to reopen it where it left off. The browser reconnects by
// itself after an error and sends Last-Event-ID; after a deliberate close (drop()) a new
// EventSource cannot send that header, so the id goes in the lastEventId= query parameter instead,
// which the edge treats the same way.
class Stream {
  constructor(path, params, handlers) {
    this.path = path;
    this.params = params; // URLSearchParams of the first connection
    this.handlers = handlers; // event type -> function(data, event)
    this.lastId = '';
    this.everOpen = false;
    this.es = null;
    state.streams.push(this);
    this.open(this.params);
  }

  open(params) {
    this.es = new EventSource(`${this.path}?${params}`);
    this.es.addEventListener('open', () => { this.everOpen = true; });
    for (const [type, fn] of Object.entries(this.handlers)) {
      this.es.addEventListener(type, (e) => {
        if (e.lastEventId) this.lastId = e.lastEventId;
        state.events++;
        fn(e.data, e);
      });
    }
    // The edge announces what a client missed (gap) or a restart of the stream (reset) in-band.
    for (const type of ['gap', 'reset']) {
      this.es.addEventListener(type, (e) => {
        if (e.lastEventId) this.lastId = e.lastEventId;
        showNote(`${this.path}: ${type} ${e.data}`);
      });
    }
  }

  close() {
    if (this.es) this.es.close();
  }

  // Reconnects from the last event received (or, with none yet, from now).
  resume() {
    const params = new URLSearchParams(this.params);
    params.delete('since');
    if (this.lastId) params.set('lastEventId', this.lastId);
    this.open(params);
  }

  // Reconnects with other parameters (the chat's followed user), without resuming.
  replace(params) {
    this.close();
    this.params = params;
    this.lastId = '';
    this.open(params);
  }

  get readyState() {
    return this.es ? this.es.readyState : EventSource.CLOSED;
  }
}

function showNote(text) {
  const note = $('drop-note');
  note.textContent = text;
  note.hidden = false;
}

function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// --- sensor tiles --------------------------------------------------------------------------------

function makeTile(name) {
  const node = $('tile-template').content.firstElementChild.cloneNode(true);
  node.dataset.sensor = name;
  node.querySelector('h3').textContent = name;
  $('tiles').append(node);
  const tile = {
    node,
    canvas: node.querySelector('canvas'),
    count: 0, // events received
    ns: [], // the feed's per-sensor sequence numbers, in order of arrival
    lastN: 0,
    lost: 0, // readings skipped: n jumped forward by more than one
    repeated: 0, // readings seen twice: n did not move forward
    values: [],
    dirty: false,
  };
  state.tiles[name] = tile;
  const since = Date.now() - HISTORY_MS;
  const params = new URLSearchParams({ key: name, since: String(since) });
  const onReading = (data) => receiveReading(tile, data);
  tile.stream = new Stream('/streams/sensors', params, { reading: onReading, message: onReading });
}

function receiveReading(tile, data) {
  const r = parseJSON(data);
  if (!r || typeof r.n !== 'number') return;
  tile.count++;
  // n counts one sensor's readings without a hole: any jump is a lost reading, any step back a
  // repeated one (or a restarted feed, which the page cannot tell apart and counts too).
  if (tile.lastN && r.n !== tile.lastN + 1) {
    if (r.n > tile.lastN) tile.lost += r.n - tile.lastN - 1;
    else tile.repeated++;
  }
  tile.lastN = r.n;
  tile.ns.push(r.n);
  if (tile.ns.length > SEQ_KEEP) tile.ns.shift();
  tile.values.push(r.celsius);
  if (tile.values.length > CHART_POINTS) tile.values.shift();
  tile.last = r;
  tile.dirty = true;
}

function drawTile(tile) {
  const { node, canvas, values, last } = tile;
  node.dataset.count = String(tile.count);
  node.querySelector('.value').textContent = `${last.celsius.toFixed(1)} °C`;
  node.querySelector('.meta').textContent =
    `${tile.count} events · n=${last.n}${tile.lost || tile.repeated ? ` · lost ${tile.lost}, repeated ${tile.repeated}` : ''}`;
  const ctx = canvas.getContext('2d');
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  if (values.length < 2) return;
  const lo = Math.min(...values) - 0.2;
  const hi = Math.max(...values) + 0.2;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = (i / (CHART_POINTS - 1)) * w;
    const y = h - ((v - lo) / (hi - lo)) * h;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#0b6bcb';
  ctx.stroke();
}

// Sizes each canvas for the screen's pixel density once, so the charts stay sharp.
function sizeCanvases() {
  const ratio = window.devicePixelRatio || 1;
  for (const tile of Object.values(state.tiles)) {
    const rect = tile.canvas.getBoundingClientRect();
    tile.canvas.width = Math.max(1, Math.round(rect.width * ratio));
    tile.canvas.height = Math.max(1, Math.round(rect.height * ratio));
    tile.dirty = tile.count > 0;
  }
}

// Events arrive 60 times a second; the tiles are redrawn at most once per frame.
function render() {
  for (const tile of Object.values(state.tiles)) {
    if (tile.dirty) {
      tile.dirty = false;
      drawTile(tile);
    }
  }
  requestAnimationFrame(render);
}

// --- ranking -------------------------------------------------------------------------------------

function receiveRanking(data) {
  const r = parseJSON(data);
  if (!r || !Array.isArray(r.top)) return;
  const rows = r.top.map((e) => {
    const tr = document.createElement('tr');
    for (const text of [String(e.rank), e.sensor, Number(e.celsius).toFixed(2)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $('ranking').replaceChildren(...rows);
  $('ranking-time').textContent = `as of ${new Date(r.ts).toLocaleTimeString()}`;
}

// --- chat ----------------------------------------------------------------------------------------

const pending = new Map(); // text -> time sent, to show each own message's round trip

function chatUser() {
  return $('chat-user').value.trim() || 'guest';
}

function chatParams() {
  const follow = $('chat-follow').value;
  const params = new URLSearchParams();
  if (follow === '@me') params.set('key', chatUser());
  else if (follow) params.set('key', follow);
  return params;
}

function receiveChat(data, e) {
  const m = parseJSON(data) || { user: '?', text: data };
  const user = String(m.user ?? '?');
  const text = String(m.text ?? '');
  state.chat.push({ user, text, ts: m.ts, id: e.lastEventId });
  if (state.chat.length > CHAT_KEEP) state.chat.shift();
  const li = document.createElement('li');
  if (user === chatUser()) li.className = 'mine';
  const who = document.createElement('b');
  who.textContent = user;
  li.append(who, ` ${text}`);
  const sent = pending.get(text);
  if (sent !== undefined && user === chatUser()) {
    pending.delete(text);
    const small = document.createElement('small');
    small.textContent = ` round trip ${Math.round(performance.now() - sent)} ms`;
    li.append(small);
  }
  const log = $('chat-log');
  log.append(li);
  while (log.children.length > CHAT_KEEP) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

async function sendChat(event) {
  event.preventDefault();
  const input = $('chat-text');
  const text = input.value.trim();
  if (!text) return;
  const user = chatUser();
  const status = $('chat-status');
  pending.set(text, performance.now());
  status.textContent = 'sending…';
  try {
    const url = `/streams/chat?${new URLSearchParams({ key: user, event: 'message' })}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user, text, ts: Date.now() }),
    });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`${res.status} ${body.trim()}`);
    const r = parseJSON(body) || {};
    status.textContent = `in Kafka: ${r.topic} partition ${r.partition}, offset ${r.offset}`;
    input.value = '';
  } catch (err) {
    pending.delete(text);
    status.textContent = `not sent: ${err.message}`;
  }
}

function setupChat() {
  const user = $('chat-user');
  user.value = localStorage.getItem('ringcast-user') || `guest-${Math.floor(1000 + Math.random() * 9000)}`;
  const chat = new Stream('/streams/chat', chatParams(), { message: receiveChat });
  const refollow = () => {
    $('chat-log').replaceChildren();
    state.chat.length = 0;
    chat.replace(chatParams());
  };
  user.addEventListener('change', () => {
    localStorage.setItem('ringcast-user', chatUser());
    if ($('chat-follow').value === '@me') refollow();
  });
  $('chat-follow').addEventListener('change', refollow);
  $('chat-form').addEventListener('submit', sendChat);
}

// --- protocol, open streams, drop ----------------------------------------------------------------

// The page's own protocol comes from the navigation entry. A stream's resource entry appears only
// once the stream ends (after a drop), and then says which protocol the streams themselves used.
function protocolInUse() {
  const nav = performance.getEntriesByType('navigation')[0];
  const streams = performance.getEntriesByType('resource').filter((e) => e.name.includes('/streams/'));
  const proto = (streams.length ? streams[streams.length - 1] : nav)?.nextHopProtocol || 'unknown';
  return proto;
}

function updateStatus() {
  state.protocol = protocolInUse();
  $('protocol').textContent = state.protocol;
  $('h1-note').hidden = state.protocol !== 'http/1.1';
  const open = state.streams.filter((s) => s.readyState === EventSource.OPEN).length;
  const waiting = state.streams.filter((s) => s.readyState === EventSource.CONNECTING).length;
  $('open-streams').textContent = `${open} of ${state.streams.length}` + (waiting ? ` (${waiting} waiting)` : '');
  $('events').textContent = String(state.events);
  let lost = 0;
  let repeated = 0;
  for (const tile of Object.values(state.tiles)) {
    lost += tile.lost;
    repeated += tile.repeated;
    const s = tile.stream.readyState;
    const label = s === EventSource.OPEN ? 'live' : tile.stream.everOpen ? 'reconnecting' : 'waiting';
    tile.node.classList.toggle('live', s === EventSource.OPEN);
    tile.node.classList.toggle('waiting', s !== EventSource.OPEN);
    tile.node.querySelector('.state').textContent = label;
  }
  $('holes').textContent = `${lost} / ${repeated}`;
}

// Closes every stream, as a network failure would, and reopens each from its last event id a
// second later: the readings that Kafka got meanwhile arrive then, none lost and none twice.
function drop() {
  state.drops++;
  for (const s of state.streams) s.close();
  const button = $('drop');
  button.disabled = true;
  showNote(`Drop ${state.drops}: every stream closed; reopening from each one's last event id in 1 s…`);
  setTimeout(() => {
    for (const s of state.streams) s.resume();
    button.disabled = false;
    showNote(`Drop ${state.drops}: reopened from the last event ids; "lost / repeated" above stays 0 / 0.`);
  }, 1000);
}

function main() {
  // Tiles first: over HTTP/1.1 they take the six connections and the demo shows the limit on them.
  for (let i = 1; i <= SENSORS; i++) makeTile(`sensor-${i}`);
  const since = String(Date.now() - 5000);
  new Stream('/streams/ranking', new URLSearchParams({ since }), { ranking: receiveRanking, message: receiveRanking });
  setupChat();
  $('drop').addEventListener('click', drop);
  sizeCanvases();
  window.addEventListener('resize', sizeCanvases);
  requestAnimationFrame(render);
  updateStatus();
  setInterval(updateStatus, 500);
}

window.__ringcast = {
  state,
  drop,
  tiles: () =>
    Object.fromEntries(
      Object.entries(state.tiles).map(([name, t]) => [
        name,
        { count: t.count, ns: t.ns.slice(), lost: t.lost, repeated: t.repeated, open: t.stream.readyState === 1 },
      ]),
    ),
  openStreams: () => state.streams.filter((s) => s.readyState === EventSource.OPEN).length,
  protocol: () => protocolInUse(),
};

main();

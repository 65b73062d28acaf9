// Switchboard agent console. A plain ES module served by the server: no framework, no build.
// (Over 500 lines because it is a whole application without a build step: sign-in, presence,
// offers, the request list (waiting chats to pick), chats, transfers, participants (conference,
// consultation, the internal discussion, supervisor monitoring), per-chat notification levels,
// agent-initiated chats (Start a chat), chats between agents (Chat with an agent), the inbox
// (Queue chats: viewing a colleague's chat of my queues), canned responses (the composers' "/"
// picker and My responses), files (attach, drag-and-drop, thumbnails, cards), notes, wrap-up,
// reports (supervisors: per queue and per agent, with CSV downloads);
// the socket, outbox and rendering are chatcore.js.)
// It speaks only the documented websocket protocol (/v1/ws) and REST API (/v1/...).
// Everything customers and agents typed goes into the page as text (textContent), never HTML.
//
// Served as one file: src/api/assets.rs puts chatcore.js in front of this module, so
// SwitchboardCore (the text rendering, the socket and the outbox shared with the customer widget)
// is in this module's scope, not a global.

const { renderText, urlLink, clientMsgId, ChatSocket, Outbox, resumePoint, order, humanSize, BlobUrls, renderFiles, UploadTray, fileMessages, dropFiles, saveBlob } = SwitchboardCore;

const WS_URL = location.origin.replace(/^http/, 'ws') + '/v1/ws';
const STORE_KEY = 'switchboard-console';

// ------------------------------------------------------------------ helpers
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 't') el.setAttribute('data-t', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}
const $ = (id) => document.getElementById(id);

const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const mmss = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

// ------------------------------------------------------------------ state
const S = {
  token: null,
  me: null,
  settings: { pending_yellow_ms: 30000, pending_red_ms: 60000 },
  dispositions: [],
  dispositionRequired: false,
  directory: { agents: [], queues: [] },
  reasons: new Map(), // reason id -> name
  offers: new Map(), // conversation (`i:` + conversation for invitations) -> { kind: 'offer' | 'transfer' | 'invite', ... , deadline }
  chats: new Map(), // conversation -> chat
  selected: null,
  // Chats I stopped viewing (unfollowed): their events still in flight are dropped, not shown.
  dropped: new Set(),
};

/**
 * The request list: the waiting chats of my queues (GET /v1/queues/{id}/waiting), read again
 * when a queue's `waiting` signal says it changed (and on my own offers, joins and presence);
 * a slow poll is the safety net (an agent without a free seat gets no signal: it cannot pick).
 */
const WAITING_POLL_MS = 15000;
const W = {
  byQueue: new Map(), // queue id -> its waiting chats, in line order (the last good answer)
  loaded: false, // a first answer came
  loadError: '',
  pickError: '',
  pickErrorTimer: null,
  picking: new Set(), // conversations with a `pick` in flight
  inFlight: false, // a refresh is running
  again: false, // refresh once more when it is done
  soon: null, // the timer of a refresh asked for by a signal
  gen: 0, // bumped on sign-in/out: answers for an older session are dropped
  drawn: '', // what the list shows, to redraw only on change
};

function persist() {
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify({
      token: S.token,
      chats: [...S.chats.values()].filter((c) => c.status !== 'closed').map((c) => c.id),
      viewing: [...S.chats.values()].filter((c) => c.status !== 'closed' && c.viewing).map((c) => c.id),
      selected: S.selected,
    }));
  } catch { /* storage unavailable */ }
}
function restore() {
  try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null'); } catch { return null; }
}

function agentName(id) {
  if (!id) return 'an agent';
  if (S.me && id === S.me.agent) return S.me.name;
  const a = S.directory.agents.find((x) => x.id === id);
  return a ? a.name : id;
}
function queueName(id) {
  const q = S.directory.queues.find((x) => x.id === id);
  return q ? q.name : id;
}
/** A participant's name as the chat's own events gave it, else the directory's. */
function memberName(c, id) {
  return c.names.get(id) || agentName(id);
}

// ------------------------------------------------------------------ chats between agents
// A chat between two agents (agent_chat, issue 12): its `created` event has channel "internal"
// and no customer. The console names it after the other agent and shows no customer details.

/** The other agent of a chat between agents: who started it, else whom I invited, else who else is in it. */
function peerOf(c) {
  const me = S.me?.agent;
  if (c.initiatedBy && c.initiatedBy !== me) return c.initiatedBy;
  if (c.peer) return c.peer;
  for (const p of c.participants.values()) if (p.id !== me) return p.id;
  return null;
}
function peerName(c) {
  const id = peerOf(c);
  return id ? memberName(c, id) : 'another agent';
}
/** How the console names a chat: the customer, or "Chat with Bob Agent". */
function chatTitle(c) {
  return c.agentChat ? `Chat with ${peerName(c)}` : c.customer.name;
}
/** A message this agent has to read: the customer's, or (between agents) the other agent's. */
function incoming(c, e) {
  if (e.kind !== 'message') return false;
  if (e.author?.role === 'customer') return true;
  return c.agentChat && e.author?.role === 'agent' && !!S.me && e.author.id !== S.me.agent;
}

// Participant roles (participants-spec): how the console names them.
const ROLE_LABEL = { owner: 'owner', conference: 'conference', consult: 'consultant', observer: 'observer', coach: 'coach' };
const ROLE_STATUS = { conference: 'In the conference', consult: 'Consulting', observer: 'Observing', coach: 'Coaching' };
/** Roles that may write in the internal discussion (besides the owner). */
const INTERNAL_ROLES = ['conference', 'consult', 'coach'];

/** Signed in with `supervisor` or `admin`: the monitoring controls. */
function supervisor() {
  return !!S.me && (S.me.roles || []).some((r) => r === 'supervisor' || r === 'admin');
}

// ------------------------------------------------------------------ REST
/** A REST call with the agent's token; `body` is sent as JSON. Rejects with the server's error. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { authorization: `Bearer ${S.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(j.error?.message || r.statusText), { code: j.error?.code });
  return j;
}
async function loadReference() {
  const [settings, dispositions, directory, reasons] = await Promise.allSettled([
    api('/v1/settings'), api('/v1/dispositions'), api('/v1/directory'), api('/v1/reasons'),
  ]);
  if (reasons.status === 'fulfilled') S.reasons = new Map((reasons.value.reasons || []).map((r) => [r.id, r.name]));
  if (settings.status === 'fulfilled') {
    const s = settings.value.settings || {};
    S.settings.pending_yellow_ms = s.pending_yellow_ms ?? S.settings.pending_yellow_ms;
    S.settings.pending_red_ms = s.pending_red_ms ?? S.settings.pending_red_ms;
  }
  if (dispositions.status === 'fulfilled') {
    S.dispositions = dispositions.value.dispositions || [];
    S.dispositionRequired = !!dispositions.value.required;
  }
  if (directory.status === 'fulfilled') S.directory = directory.value;
  startQueues();
  drawAgentPicker();
  for (const c of S.chats.values()) redrawChat(c);
  drawChats();
  if (S.offers.size) drawOffers(); // cards name agents: now with their directory names
}

// ------------------------------------------------------------------ socket (chatcore's ChatSocket)
const sock = new ChatSocket({
  url: WS_URL,
  notConnected: 'Not connected; retrying.',
  hello: () => ({
    token: S.token,
    resume: [...S.chats.values()].filter((c) => c.lastSeq > 0).map((c) => resumePoint(c.id, c.lastSeq, c.epoch)),
  }),
  onConnecting: () => setNet('Connecting…', 'warn'),
  onHello,
  onEvent,
  onSignal,
  onClose: () => { if (!sock.stopped) setNet('Reconnecting…', 'warn'); },
});
const request = (cmd) => sock.request(cmd);
const fire = (cmd) => sock.fire(cmd);

function setNet(text, kind) {
  const n = $('net');
  n.textContent = text;
  n.className = 'net ' + (kind || '');
}

function onHello(f) {
  if (f.type === 'error') {
    signOut(`Sign-in failed: ${f.message}`);
    return;
  }
  const d = f.data;
  if (d.role !== 'agent') { signOut('This is not an agent token.'); return; }
  S.me = d;
  sock.signedIn();
  setNet('Connected', 'ok');
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = `${d.name} (${d.agent})`;
  drawMe();
  $('monitor').hidden = !supervisor();
  $('reports-open').hidden = !supervisor();
  drawNotifyPermission();
  loadMonitoring();
  startQueues();
  // Chats the server follows for us: the assigned ones and those we take part in (any role but
  // owner), replayed from our resume points.
  const participating = d.participating || [];
  for (const id of d.assigned) chatFor(id);
  for (const id of participating) chatFor(id);
  // Ended chats awaiting wrap-up are not assigned any more: resume them explicitly.
  for (const c of S.chats.values()) {
    if (d.assigned.includes(c.id) || participating.includes(c.id)) continue;
    if (c.status === 'ended' || (c.status !== 'done' && c.status !== 'left' && c.status !== 'closed')) {
      resume(c);
    }
  }
  // Offers and transfer requests come again as signals after the ack; drop stale ones.
  S.offers.clear();
  // A new socket follows nothing it was not told to: nothing unfollowed is in flight any more.
  S.dropped.clear();
  drawOffers();
  drawChats();
  showSelected(); // after a reload: the chat that was in view is again
  for (const c of S.chats.values()) { c.outbox.flush(); c.internal.flush(); }
  persist();
  loadReference();
  W.gen++;
  W.byQueue.clear();
  W.loaded = false;
  drawWaiting();
  loadWaiting();
  QC.gen++;
  QC.loaded = false;
  drawQueueChats();
  loadQueueChats();
}

function resume(c) {
  c.resuming = true;
  sock.resume(c.id, c.lastSeq, c.epoch)
    .then(() => { c.resuming = false; })
    .catch((e) => {
      c.resuming = false;
      if (e.code === 'not_found' && c.lastSeq === 0) { S.chats.delete(c.id); drawChats(); persist(); }
    });
}

// ------------------------------------------------------------------ chats
function chatFor(id) {
  let c = S.chats.get(id);
  if (!c) {
    c = {
      id, events: [], lastSeq: 0, epoch: null, status: 'waiting', owner: null,
      customer: { name: 'Customer' }, queue: null, reason: null, unread: 0, readSent: 0,
      customerRead: 0, pendingSince: null, transfer: null, typing: false, typingTimer: null,
      outbox: null, dom: null, leftNote: null, resuming: false,
      // Participants by agent id ({ id, name, role, since }: the owner too), pending invitations
      // by invited agent, and every name the chat's events gave (for those who left).
      participants: new Map(), invites: new Map(), names: new Map(), internal: null,
      // Notifications (monitoring levels): events up to `notifyAfter` are history (a replay);
      // Infinity until a `resumed` or `joined` signal says where the live part begins.
      notifyAfter: Infinity, awaitJoin: false, awaitJoinTimer: null,
      outbound: false, customerSpoke: false,
      // A chat between agents (channel "internal"): who started it, and whom they invited.
      agentChat: false, initiatedBy: null, peer: null,
      // Opened to view (the inbox, or a supervisor's open-by-id) without being in it: see viewer().
      viewing: false,
      // Bot-first chats (PROTOCOL §9.12): the bot ({ id, name }), who handed the chat over, and
      // what the bot gathered (the `intake` event: answers, summary, skill).
      bot: null, handedOverBy: null, intake: null,
      // Tickets from chats (PROTOCOL §9.13): the tickets the integration linked (id -> url or
      // null), and the requests asked for (request id -> { ticket, by, seq, linked }).
      tickets: new Map(), ticketRequests: new Map(),
      // The ticket controls' own state: my requests the server took (202) whose event has not
      // come yet, the last refusal, and whether the append form is open.
      ticketAsked: new Map(), ticketError: '', ticketAppendOpen: false, ticketBusy: false,
    };
    // Replies not acked yet, retried under their client_msg_id (chatcore's Outbox); one that
    // the server refused for good stays, marked failed.
    c.outbox = new Outbox({
      socket: sock,
      idPrefix: 'c',
      conversation: () => c.id,
      delivered: (id) => c.events.some((e) => e.kind === 'message' && e.client_msg_id === id),
      changed: () => drawOutbox(c),
    });
    // The internal discussion's messages not acked yet: the same retries, under `internal`.
    c.internal = new Outbox({
      socket: sock,
      idPrefix: 'i',
      command: 'internal',
      conversation: () => c.id,
      delivered: (id) => c.events.some((e) => e.kind === 'internal' && e.client_msg_id === id),
      changed: () => drawInternalOutbox(c),
    });
    S.chats.set(id, c);
    if (!S.selected) S.selected = id;
    persist();
  }
  return c;
}

function onEvent(f) {
  // Stopped viewing: what the server sent before the unfollow took effect is not shown.
  if (S.dropped.has(f.conversation)) return;
  const c = chatFor(f.conversation);
  const place = order(c.lastSeq, f);
  if (place === 'seen') return;
  if (place === 'gap') {
    // A gap: the server replays from our last seq.
    if (!c.resuming) resume(c);
    return;
  }
  c.lastSeq = f.seq;
  c.epoch = f.epoch;
  const e = f.event;
  c.events.push(e);
  apply(c, e);
  if (c.dom) { appendEvent(c, e); refreshChat(c); }
  drawChats();
  if (incoming(c, e)) maybeRead(c);
  if (c.awaitJoin && myJoin(e)) {
    // After a `joined` signal the whole log comes first: everything up to my own join is history.
    c.awaitJoin = false; clearTimeout(c.awaitJoinTimer);
    c.notifyAfter = e.seq;
  } else if (shouldNotify(c, e)) {
    notify(c, e);
  }
}

/** Folds one event into the chat's summary state. */
function apply(c, e) {
  switch (e.kind) {
    case 'created':
      c.customer = { id: e.customer || null, name: e.customer_name, email: e.customer_email, verified: e.verified };
      c.queue = e.queue; c.reason = e.reason; c.status = 'waiting';
      // An agent-initiated chat: the customer has a request to accept or decline.
      c.outbound = e.channel === 'outbound';
      // A chat between agents: no customer.
      c.agentChat = e.channel === 'internal';
      c.initiatedBy = c.agentChat ? e.context?.initiated_by || e.author?.id || null : null;
      break;
    // Back in a queue (possibly another): its canned responses and {{queue.name}} may differ.
    case 'queued': c.queue = e.queue; c.canned = null; break;
    case 'assigned': c.owner = e.agent; c.status = 'assigned'; break;
    case 'participant_joined':
      if (e.role === 'owner') {
        c.owner = e.participant;
        c.status = S.me && e.participant !== S.me.agent && c.leftNote ? 'left' : 'assigned';
      }
      if (e.role !== 'customer') {
        c.names.set(e.participant, e.name);
        c.participants.set(e.participant, { id: e.participant, name: e.name, role: e.role, since: e.seq });
        if (S.me && e.participant === S.me.agent && e.role !== 'owner') c.leftNote = null;
      }
      break;
    case 'participant_left': {
      const p = c.participants.get(e.participant);
      if (p && (p.role === e.role || e.role !== 'owner')) c.participants.delete(e.participant);
      if (S.me && e.participant === S.me.agent) {
        if (e.role !== 'owner') {
          // Left or removed: no more events of this chat (the `left` signal follows).
          const by = e.author?.role === 'agent' && e.author.id && e.author.id !== S.me.agent ? e.author.name || memberName(c, e.author.id) : null;
          c.leftNote = by ? `${by} removed you from this chat.` : 'You left this chat.';
          c.status = 'left'; c.pendingSince = null; c.typing = false;
        } else if (!c.leftNote) {
          c.leftNote = 'You left this chat.';
        }
      }
      break;
    }
    case 'role_changed': {
      c.names.set(e.participant, e.name);
      const p = c.participants.get(e.participant);
      c.participants.set(e.participant, { id: e.participant, name: e.name, role: e.to, since: p ? p.since : e.seq });
      break;
    }
    case 'ownership_changed': {
      c.names.set(e.to, e.name);
      const p = c.participants.get(e.to);
      if (e.from && e.from !== e.to && c.participants.get(e.from)?.role === 'owner') c.participants.delete(e.from);
      c.participants.set(e.to, { id: e.to, name: e.name, role: 'owner', since: p ? p.since : e.seq });
      c.owner = e.to;
      if (S.me && e.to === S.me.agent) {
        c.leftNote = null;
        if (c.status === 'left' || c.status === 'waiting') c.status = 'assigned';
      } else if (S.me && e.from === S.me.agent) {
        c.leftNote = `You left this chat; ${e.name} owns it now.`;
        c.pendingSince = null;
        // Handed over (left, or a consultation turned transfer): no longer in the chat.
        if (!c.participants.has(S.me.agent)) { c.status = 'left'; c.typing = false; }
      }
      break;
    }
    case 'invited':
      c.invites.set(e.to, { to: e.to, role: e.role, by: e.by, note: e.note });
      if (c.agentChat && !c.peer && S.me && e.to !== S.me.agent) c.peer = e.to;
      break;
    case 'invite_ended': c.invites.delete(e.to); break;
    case 'internal':
      c.internal.remove(e.client_msg_id);
      break;
    case 'message':
      if (e.author?.role === 'customer') {
        c.customerSpoke = true;
        if (!c.pendingSince) c.pendingSince = Date.parse(e.at);
        // A chat I only view leaves no read receipt: only what comes live (not the replay) counts as unread.
        const news = !viewer(c) || e.seq > c.notifyAfter;
        if ((S.selected !== c.id || document.hidden) && e.seq > c.readSent && news) c.unread++;
        c.typing = false; c.typingPreview = null;
      } else if (e.author?.role === 'bot') {
        // The bot answered: nobody owes the customer a reply.
        c.pendingSince = null; c.typing = false;
      } else if (e.author?.role === 'agent') {
        c.pendingSince = null;
        c.outbox.remove(e.client_msg_id);
        // Between agents, the other agent's messages are the ones to read.
        if (incoming(c, e) && (S.selected !== c.id || document.hidden) && e.seq > c.readSent) c.unread++;
      }
      break;
    case 'read':
      if (e.author?.role === 'customer') c.customerRead = Math.max(c.customerRead, e.up_to);
      else if (S.me && e.author?.id === S.me.agent && e.up_to > c.readSent) {
        // Read in another tab (or before a reload): those messages are not unread here.
        c.readSent = e.up_to;
        c.unread = c.events.filter((x) => incoming(c, x) && x.seq > e.up_to).length;
      } else if (c.agentChat && e.author?.role === 'agent') {
        // Between agents: the other agent read my messages.
        c.customerRead = Math.max(c.customerRead, e.up_to);
      }
      break;
    case 'transfer_requested': c.transfer = { to: e.to, from: e.from }; c.status = 'transferring'; break;
    case 'transfer_accepted':
      c.transfer = null; c.status = 'assigned';
      if (S.me && e.from === S.me.agent) c.leftNote = `Transferred to ${agentName(e.to)} (accepted)`;
      break;
    case 'transfer_rejected':
    case 'transfer_expired':
      c.transfer = null; if (c.status === 'transferring') c.status = 'assigned';
      break;
    case 'transferred_to_queue':
      if (S.me && e.from === S.me.agent) c.leftNote = `Transferred to queue ${queueName(e.queue)}`;
      c.owner = null; c.status = 'waiting';
      break;
    case 'ended': c.status = 'ended'; c.pendingSince = null; c.typing = false; c.transfer = null; c.invites.clear(); break;
    case 'wrap_up': c.status = 'done'; break;
    case 'bot_engaged': c.bot = { id: e.bot, name: e.name }; c.status = 'bot'; break;
    // The bot phase is over: `queued` follows; the chat waits for an agent like any other.
    case 'handed_over': c.handedOverBy = e.by; if (c.status === 'bot') c.status = 'waiting'; break;
    case 'intake': c.intake = e; if (c.dom) drawCaseData(c); break;
    case 'ticket_requested':
      c.ticketRequests.set(e.request, { request: e.request, ticket: e.ticket || null, by: e.author, seq: e.seq, linked: null });
      c.ticketAsked.delete(e.request);
      break;
    case 'ticket_linked': {
      const r = c.ticketRequests.get(e.request);
      if (r) r.linked = e.ticket;
      c.ticketAsked.delete(e.request);
      // The same ticket linked again (an append): a url learnt now is kept, a known one stays.
      const url = safeUrl(e.url);
      if (!c.tickets.has(e.ticket) || url) c.tickets.set(e.ticket, url || c.tickets.get(e.ticket) || null);
      if (c.dom) drawCaseData(c);
      break;
    }
    default: break;
  }
}

function mine(c) { return S.me && c.owner === S.me.agent && c.status !== 'left' && c.status !== 'closed'; }

/** My part in the chat: 'owner', a participant role, or null (not in it, or not any more). */
function myRole(c) {
  if (!S.me || c.status === 'left' || c.status === 'closed') return null;
  if (mine(c)) return 'owner';
  const p = c.participants.get(S.me.agent);
  return p && p.role !== 'owner' ? p.role : null;
}

/** The chat is being served (has an owner, not ended): people can join, write and leave. */
function live(c) { return c.status === 'assigned' || c.status === 'transferring'; }

/**
 * Viewing a chat without being in it (the inbox, seed 001: an agent of its queue; or a
 * supervisor's open-by-id): the agents' view, read-only but for the internal discussion. No
 * role, no seat, no read receipts or typing; the customer never sees the viewer. Joining it
 * (an accepted invitation, monitoring) makes it an ordinary chat of mine.
 */
function viewer(c) {
  return c.viewing && !myRole(c) && c.status !== 'left' && c.status !== 'closed';
}
/** The chat is open (not ended): the internal discussion takes messages. */
function stillOpen(c) {
  return c.events.length > 0 && !['ended', 'done', 'left', 'closed'].includes(c.status);
}

function maybeRead(c) {
  if (S.selected !== c.id || document.hidden || !sock.ready) return;
  if (c.status === 'ended' || c.status === 'done' || c.status === 'left') return;
  // Read receipts are the owner's (and a conference participant's, who talks to the customer);
  // consultants, observers and coaches leave none.
  const role = myRole(c);
  if (role !== 'owner' && role !== 'conference') return;
  let top = 0;
  for (const e of c.events) if (incoming(c, e)) top = Math.max(top, e.seq);
  c.unread = 0;
  if (top > c.readSent) {
    c.readSent = top;
    request({ type: 'read', conversation: c.id, seq: top }).catch(() => { c.readSent = 0; });
  }
}
document.addEventListener('visibilitychange', () => {
  const c = S.chats.get(S.selected);
  if (c) { maybeRead(c); drawChats(); }
});

// ------------------------------------------------------------------ signals
function onSignal(f) {
  const now = Date.now();
  // Offers ending, chats joined or left, presence changes: the request list may have changed.
  if (['offer', 'offer_ended', 'joined', 'left', 'presence', 'transfer_ended'].includes(f.signal)) refreshWaiting();
  // A queue's list changed: every agent of it is told at once, so the reads are spread out.
  if (f.signal === 'waiting') refreshWaiting(100 + Math.floor(Math.random() * 400));
  switch (f.signal) {
    case 'offer':
      S.offers.set(f.conversation, { kind: 'offer', conversation: f.conversation, customer: f.customer_name, queue: f.queue, deadline: now + f.expires_in_ms, total: f.expires_in_ms });
      drawOffers();
      break;
    case 'offer_ended':
      if (S.offers.delete(f.conversation)) notice(`An offer ${f.outcome === 'expired' ? 'expired' : 'was withdrawn'}.`);
      drawOffers();
      break;
    case 'transfer_offer':
      S.offers.set(f.conversation, { kind: 'transfer', conversation: f.conversation, from: f.from, note: f.note, deadline: now + f.expires_in_ms, total: f.expires_in_ms });
      drawOffers();
      break;
    case 'transfer_ended':
      if (S.offers.delete(f.conversation)) notice(`A transfer request ${f.outcome === 'expired' ? 'expired' : 'was cancelled'}.`);
      drawOffers();
      break;
    case 'invitation':
      S.offers.set(`i:${f.conversation}`, { kind: 'invite', key: `i:${f.conversation}`, conversation: f.conversation, from: f.from, role: f.role, customer: f.customer_name, note: f.note, internal: !!f.internal, deadline: now + f.expires_in_ms, total: f.expires_in_ms });
      drawOffers();
      break;
    case 'invitation_ended':
      if (S.offers.delete(`i:${f.conversation}`)) notice(`An invitation ${f.outcome === 'expired' ? 'expired' : 'was cancelled'}.`);
      drawOffers();
      break;
    case 'presence':
      Object.assign(S.me, { presence: f.presence, assigned_count: f.assigned, max_chats: f.max_chats });
      drawMe();
      break;
    case 'joined': {
      S.dropped.delete(f.conversation);
      const c = chatFor(f.conversation);
      // The log follows, up to and including my own join: no notifications for that history.
      // (Should my join not show up, whatever came in the meantime counts as history.)
      c.awaitJoin = true;
      c.notifyAfter = Infinity;
      clearTimeout(c.awaitJoinTimer);
      c.awaitJoinTimer = setTimeout(() => { if (c.awaitJoin) { c.awaitJoin = false; c.notifyAfter = c.lastSeq; } }, 3000);
      S.offers.delete(f.conversation);
      S.offers.delete(`i:${f.conversation}`);
      // In it now (invited, picked, monitoring): no longer only viewing.
      c.viewing = false;
      if (c.status === 'left') c.status = 'assigned';
      if (!S.selected || !S.chats.has(S.selected)) S.selected = c.id;
      drawOffers(); drawChats(); showSelected();
      break;
    }
    case 'left': {
      const c = S.chats.get(f.conversation);
      if (c) {
        c.status = 'left'; c.pendingSince = null; c.typing = false;
        if (!c.leftNote) c.leftNote = c.participants.get(S.me?.agent) && c.owner !== S.me?.agent ? 'You are no longer in this chat.' : 'This chat was transferred away.';
        redrawChat(c); drawChats(); persist();
      }
      break;
    }
    case 'typing': {
      const c = S.chats.get(f.conversation);
      if (!c || f.who !== 'customer') return;
      c.typing = f.on;
      // Typing preview (the org's setting): what the customer has typed, not sent yet.
      c.typingPreview = f.on && typeof f.preview === 'string' ? f.preview : null;
      clearTimeout(c.typingTimer);
      if (f.on) c.typingTimer = setTimeout(() => { c.typing = false; c.typingPreview = null; refreshChat(c); }, 8000);
      refreshChat(c);
      break;
    }
    case 'resumed': {
      const c = S.chats.get(f.conversation);
      // The replay up to the log's end is history, except (after a reconnect) what this page had
      // not seen yet: missed while offline, so news.
      if (c) {
        c.awaitJoin = false; clearTimeout(c.awaitJoinTimer);
        c.notifyAfter = f.recovered && c.lastSeq > 0 ? c.lastSeq : (Number.isFinite(f.last_seq) ? f.last_seq : c.lastSeq);
      }
      if (c && !f.recovered) {
        // The log was reset: the server replays it from the start.
        Object.assign(c, { events: [], lastSeq: 0, epoch: f.epoch, pendingSince: null, customerRead: 0, participants: new Map(), invites: new Map(), customerSpoke: false, bot: null, handedOverBy: null, intake: null, tickets: new Map(), ticketRequests: new Map() });
        redrawChat(c);
      }
      break;
    }
    default: break;
  }
}

function notice(text) {
  const n = h('div', { class: 'notice', t: 'notice', text });
  $('notices').prepend(n);
  setTimeout(() => n.remove(), 8000);
}

// ------------------------------------------------------------------ per-chat monitoring: notifications
// Seed 002: per chat, a three-way switch of what raises a notification while that chat is not
// the one in view (or the page is hidden):
//   'none'      nothing;
//   'customer'  the customer's activity: their messages, ending the chat, continuing it after an
//               idle prompt, the survey (not their read receipts: too chatty);
//   'all'       any new action by anyone else: the above, agents' messages, notes, the internal
//               discussion, joins and leaves, invitations, transfers, the chat ending or parked.
// The agent's own actions (and events about the agent itself: its join) never notify; replays
// (a reload, a `joined` log) never notify either. Default while never set: 'customer' for a chat
// the agent answers the customer in (owner, conference), 'none' for one it only consults on,
// coaches or observes (and chats it is no longer in). Kept per agent and chat by the server
// (GET/PUT /v1/me/monitoring: the same levels in any browser), with a copy in localStorage that
// is used until the server's answer comes and shared at once with the agent's other tabs.
const MONITORING = [
  ['none', 'Off', 'No notifications for this chat'],
  ['customer', 'Customer', 'Notify me of the customer’s activity in this chat'],
  ['all', 'All', 'Notify me of every new action in this chat'],
];
const MONITORING_KEY = 'switchboard-console-monitoring';
const MONITORING_KEEP = 500; // chats remembered per agent, the most recently set kept
/** Customer actions that count as activity ('customer' level). */
const CUSTOMER_ACTIVITY = ['message', 'ended', 'continued', 'survey', 'participant_left'];
/** Bookkeeping that never notifies, whatever the level. */
const QUIET_KINDS = ['read', 'queued', 'assigned', 'created'];
const TOAST_MS = 15000;
const TOAST_MAX = 6;

function monitoringKey() { return S.me ? `${MONITORING_KEY}:${S.me.org}:${S.me.agent}` : null; }
function monitoringStore() {
  const key = monitoringKey();
  if (!key) return {};
  try { return JSON.parse(localStorage.getItem(key) || '{}') || {}; } catch { return {}; }
}
/** The server's levels once loaded (chat id -> level), else null (the local copy applies). */
let serverLevels = null;
/** The level the agent set for this chat, or null (never set: the default applies). */
function storedLevel(c) {
  const v = serverLevels ? serverLevels.get(c.id) : monitoringStore()[c.id];
  return MONITORING.some(([l]) => l === v) ? v : null;
}
/** Loads the agent's levels from the server (after sign-in) and makes them the local copy. */
async function loadMonitoring() {
  const key = monitoringKey();
  try {
    const { levels = {} } = await api('/v1/me/monitoring');
    if (key !== monitoringKey()) return; // signed out or in as someone else meanwhile
    serverLevels = new Map(Object.entries(levels));
    try { localStorage.setItem(key, JSON.stringify(levels)); } catch { /* this page only */ }
    for (const c of S.chats.values()) { c.monitoringOverride = null; drawMonitoring(c); }
  } catch (e) {
    notice(`Could not load your monitoring levels: ${e.message}`);
  }
}
function defaultLevel(c) {
  const role = myRole(c);
  // Between agents there is no customer: the other agent's every action is what to follow.
  if (c.agentChat) return role === 'owner' || role === 'conference' ? 'all' : 'none';
  return role === 'owner' || role === 'conference' ? 'customer' : 'none';
}
function setMonitoringLevel(c, level) {
  const key = monitoringKey();
  if (!key) return;
  const store = monitoringStore();
  delete store[c.id]; // re-inserted last: the most recently set are kept
  store[c.id] = level;
  const ids = Object.keys(store);
  for (const id of ids.slice(0, Math.max(0, ids.length - MONITORING_KEEP))) delete store[id];
  try { localStorage.setItem(key, JSON.stringify(store)); } catch { /* storage unavailable: this page only */ }
  serverLevels?.set(c.id, level);
  c.monitoringOverride = level;
  drawMonitoring(c);
  api(`/v1/me/monitoring/${encodeURIComponent(c.id)}`, { method: 'PUT', body: { level } })
    .catch((e) => notice(`Could not save the monitoring level: ${e.message}`));
}
// Another tab of the same agent changed a level: redraw.
window.addEventListener('storage', (ev) => {
  if (ev.key !== monitoringKey()) return;
  serverLevels = new Map(Object.entries(monitoringStore()));
  for (const c of S.chats.values()) { c.monitoringOverride = null; drawMonitoring(c); }
});
/** This page's latest choice (kept here too should storage fail), else the stored one, else the default. */
function effectiveLevel(c) {
  const level = c.monitoringOverride || storedLevel(c) || defaultLevel(c);
  // No customer level between agents (no customer): all of it.
  return c.agentChat && level === 'customer' ? 'all' : level;
}

/** Events this agent did itself or that are about itself. */
function ownEvent(e) {
  const me = S.me?.agent;
  if (!me) return true;
  if (e.author?.role === 'agent' && e.author.id === me) return true;
  return e.participant === me || (e.kind === 'assigned' && e.agent === me);
}
/** My arrival in the chat: the last event of a `joined` replay. */
function myJoin(e) {
  const me = S.me?.agent;
  if (!me) return false;
  return (e.kind === 'participant_joined' && e.participant === me)
    || (e.kind === 'role_changed' && e.participant === me)
    || (e.kind === 'ownership_changed' && e.to === me)
    || (e.kind === 'transfer_accepted' && e.to === me);
}

function shouldNotify(c, e) {
  if (!S.me || !(e.seq > c.notifyAfter) || c.status === 'closed') return false;
  if (QUIET_KINDS.includes(e.kind) || ownEvent(e)) return false;
  if (c.agentChat && e.kind === 'wrap_up') return false; // the server's own close of a chat between agents
  // The internal message announcing a linked ticket: its `ticket_linked` event notified already.
  if (e.kind === 'internal' && e.author?.role === 'system' && String(e.client_msg_id || '').startsWith('ticket:')) return false;
  const level = effectiveLevel(c);
  if (level === 'none') return false;
  if (level === 'customer' && !(e.author?.role === 'customer' && CUSTOMER_ACTIVITY.includes(e.kind))) return false;
  // The chat in view on a visible page: the agent sees it happen.
  return S.selected !== c.id || document.hidden;
}

/** One line for a notification: "Grace Hopper: Any news?", "Bob Agent joined the conference", … */
function describe(c, e) {
  const who = e.author?.role === 'customer' ? c.customer.name : authorName(c, e);
  const one = (t) => (t || '').replace(/\s+/g, ' ').trim().slice(0, 200);
  switch (e.kind) {
    case 'message': return `${who}: ${one(e.text)}`;
    case 'internal': return `${who} (internal): ${one(e.text)}`;
    case 'note': return `${who} (note): ${one(e.text)}`;
    case 'ended':
      if (c.agentChat && e.reason !== 'agent') return 'The chat ended';
      if (e.reason === 'customer') return `${c.customer.name} ended the chat`;
      if (e.reason === 'agent') return `${who} ended the chat`;
      return `The chat ended (${(e.reason || 'closed').replace(/_/g, ' ')})`;
    case 'continued': return `${c.customer.name} continued the chat`;
    case 'survey': return `${c.customer.name} rated the chat ${e.rating}/10${e.comment ? `: ${one(e.comment)}` : ''}`;
    case 'participant_joined': return e.role === 'owner' ? `${e.name} joined` : joinedText(e.name, e.role);
    case 'participant_left': return e.role === 'customer' ? `${c.customer.name} left the chat` : `${memberName(c, e.participant)} left`;
    case 'role_changed': return joinedText(e.name, e.to);
    case 'ownership_changed': return `Ownership passed to ${e.name || memberName(c, e.to)}`;
    case 'invited': return `${memberName(c, e.by)} invited ${memberName(c, e.to)} as ${ROLE_LABEL[e.role] || e.role}`;
    case 'invite_ended': return `Invitation to ${memberName(c, e.to)} ${e.outcome}`;
    case 'transfer_requested': return `${agentName(e.from)} asked ${agentName(e.to)} to take this chat`;
    case 'transfer_accepted': return `Transfer accepted by ${agentName(e.to)}`;
    case 'transferred_to_queue': return `${agentName(e.from)} transferred the chat to queue ${queueName(e.queue)}`;
    case 'wrap_up': return `${who} wrapped up the chat`;
    case 'handed_over': return handedOverText(c, e);
    case 'handover_failed': return `Handover failed: ${e.message || e.reason}`;
    case 'ticket_requested': return ticketRequestedText(c, e);
    case 'ticket_linked': return `Ticket ${e.ticket} is linked to this chat`;
    default: return `${e.kind.replace(/_/g, ' ')}`;
  }
}

/** Raises a notification: always in the page (testable, works without permission), and from the browser when allowed. */
function notify(c, e) {
  const text = describe(c, e);
  const title = c.agentChat ? chatTitle(c) : `Chat with ${c.customer.name}`;
  const list = $('toasts');
  const open = () => { toast.remove(); select(c.id); };
  const toast = h('div', { class: 'toast', t: 'notification', role: 'status', 'data-conversation': c.id, 'data-kind': e.kind, 'data-seq': e.seq },
    h('button', { type: 'button', class: 'toast-main', t: 'notification-open', onclick: open },
      h('span', { class: 'toast-chat muted small', t: 'notification-chat', text: `${title} · ${clock(e.at)}` }),
      h('span', { class: 'toast-text', t: 'notification-text', text })),
    h('button', { type: 'button', class: 'toast-close', t: 'notification-dismiss', 'aria-label': 'Dismiss', text: '×', onclick: () => toast.remove() }));
  list.prepend(toast); // newest first
  while (list.children.length > TOAST_MAX) list.lastChild.remove();
  setTimeout(() => toast.remove(), TOAST_MS);
  if ('Notification' in window && Notification.permission === 'granted') {
    try {
      const n = new Notification(title, { body: text, tag: `switchboard-${c.id}` });
      n.onclick = () => { window.focus(); n.close(); open(); };
    } catch { /* some browsers allow notifications only from a service worker */ }
  }
}

/** The header button asking for the browser's permission, while it can still be asked. */
function drawNotifyPermission() {
  const b = $('notify-permission');
  b.hidden = !('Notification' in window) || Notification.permission !== 'default';
}
$('notify-permission').addEventListener('click', () => {
  Notification.requestPermission().then(drawNotifyPermission, drawNotifyPermission);
});

/** The chat's three-way switch. */
function drawMonitoring(c) {
  const d = c.dom;
  if (!d) return;
  const level = effectiveLevel(c);
  const explicit = !!(c.monitoringOverride || storedLevel(c));
  d.monitoring.hidden = c.status === 'left' || c.status === 'done' || c.status === 'closed';
  d.monitoring.setAttribute('data-level', level);
  d.monitoring.setAttribute('data-explicit', explicit ? 'true' : 'false');
  for (const b of d.monitoring.querySelectorAll('button')) {
    b.hidden = c.agentChat && b.value === 'customer';
    const on = b.value === level;
    b.classList.toggle('pressed', on);
    b.setAttribute('aria-checked', on ? 'true' : 'false');
  }
}

// ------------------------------------------------------------------ drawing: header, offers, list
function drawMe() {
  if (!S.me) return;
  $('presence').value = S.me.presence;
  const assigned = S.me.assigned_count ?? S.me.assigned.length;
  $('me-load').textContent = `${assigned}/${S.me.max_chats} chats`;
}

function drawOffers() {
  const ul = $('offers');
  ul.replaceChildren();
  for (const o of S.offers.values()) {
    // A pick comes as an offer that the same command accepts: no card for it.
    if (o.kind === 'offer' && W.picking.has(o.conversation)) continue;
    const bar = h('div', { class: 'bar' }, h('span'));
    const left = h('span', { class: 'countdown', t: 'countdown' });
    const err = h('div', { class: 'error small' });
    const accept = h('button', { type: 'button', class: 'primary', t: 'accept', text: 'Accept' });
    const reject = h('button', { type: 'button', class: 'ghost', t: 'reject', text: 'Reject' });
    const isOffer = o.kind === 'offer';
    const isInvite = o.kind === 'invite';
    const key = o.key || o.conversation;
    const answer = (yes) => {
      accept.disabled = reject.disabled = true;
      const type = isOffer ? (yes ? 'accept' : 'reject')
        : isInvite ? (yes ? 'invite_accept' : 'invite_reject')
          : (yes ? 'transfer_accept' : 'transfer_reject');
      request({ type, conversation: o.conversation }).then(() => {
        S.offers.delete(key);
        if (yes) S.selected = o.conversation;
        drawOffers(); drawChats(); showSelected();
      }, (e) => {
        err.textContent = e.code === 'expired' ? 'This request has expired.' : e.message;
        if (e.code === 'expired') setTimeout(() => { S.offers.delete(key); drawOffers(); }, 1500);
        else accept.disabled = reject.disabled = false;
      });
    };
    accept.addEventListener('click', () => answer(true));
    reject.addEventListener('click', () => answer(false));
    const li = isInvite && o.internal
      // An agent asks to chat (agent_chat): no customer, nothing to join but the two of them.
      ? h('li', { class: 'offer invite agent-chat', t: 'invitation', 'data-conversation': o.conversation, 'data-role': o.role, 'data-internal': 'true' },
        h('div', { class: 'offer-head' },
          h('strong', { t: 'invite-from', text: `Agent chat · ${agentName(o.from)}` }), left),
        h('div', { class: 'muted small', t: 'invite-what', text: `${agentName(o.from)} wants to chat with you` }),
        o.note ? h('div', { class: 'offer-note', t: 'invite-note', text: `“${o.note}”` }) : null,
        bar, err, h('div', { class: 'actions' }, accept, reject))
      : isInvite
      ? h('li', { class: 'offer invite', t: 'invitation', 'data-conversation': o.conversation, 'data-role': o.role },
        h('div', { class: 'offer-head' },
          h('strong', { t: 'invite-from', text: `${o.role === 'consult' ? 'Consultation' : 'Conference'} · ${agentName(o.from)}` }), left),
        h('div', { class: 'muted small', t: 'invite-what', text: `${agentName(o.from)} invites you ${o.role === 'consult' ? 'to consult (agents only)' : 'to join the chat'} with ${o.customer || 'a customer'}` }),
        o.note ? h('div', { class: 'offer-note', t: 'invite-note', text: `“${o.note}”` }) : null,
        bar, err, h('div', { class: 'actions' }, accept, reject))
      : h('li', { class: 'offer ' + o.kind, t: isOffer ? 'offer' : 'transfer-request', 'data-conversation': o.conversation },
        h('div', { class: 'offer-head' },
          h('strong', { text: isOffer ? o.customer : `Transfer from ${agentName(o.from)}` }), left),
        h('div', { class: 'muted small', text: isOffer ? `New chat · ${queueName(o.queue)}` : 'Asks you to take over a chat' }),
        o.note ? h('div', { class: 'offer-note', t: 'transfer-note', text: `“${o.note}”` }) : null,
        bar, err, h('div', { class: 'actions' }, accept, reject));
    li._tick = () => {
      const ms = o.deadline - Date.now();
      left.textContent = `${Math.max(0, Math.ceil(ms / 1000))}s`;
      bar.firstChild.style.width = `${Math.max(0, Math.min(100, (ms / o.total) * 100))}%`;
    };
    li._tick();
    ul.append(li);
  }
  $('no-offers').hidden = ul.children.length > 0;
  drawWaiting();
}

// ------------------------------------------------------------------ the request list
/** Refreshes the waiting chats of every queue of mine; one refresh at a time. */
async function loadWaiting() {
  if (!S.me || !S.token) return;
  if (W.inFlight) { W.again = true; return; }
  W.inFlight = true;
  const gen = W.gen;
  try {
    const queues = S.me.queues || [];
    const answers = await Promise.allSettled(queues.map((q) => api(`/v1/queues/${encodeURIComponent(q)}/waiting`)));
    if (gen !== W.gen || !S.me) return;
    let failed = null;
    answers.forEach((a, i) => {
      if (a.status === 'fulfilled') W.byQueue.set(queues[i], a.value.waiting || []);
      else if (a.reason?.code === 'not_found') W.byQueue.set(queues[i], []); // not (any more) mine to see
      else failed = a.reason; // keep the last good answer for that queue
    });
    W.loaded = W.loaded || answers.some((a) => a.status === 'fulfilled');
    W.loadError = failed ? `Could not refresh the waiting chats: ${failed.message}` : '';
    drawWaiting();
  } finally {
    W.inFlight = false;
    if (W.again) { W.again = false; loadWaiting(); }
  }
}
/** A refresh shortly (signals come in bursts: one refresh for them all). */
function refreshWaiting(delay = 150) {
  clearTimeout(W.soon);
  W.soon = setTimeout(loadWaiting, delay);
}
setInterval(loadWaiting, WAITING_POLL_MS);

function waitingItems() {
  const items = [];
  for (const q of S.me?.queues || []) {
    for (const x of W.byQueue.get(q) || []) {
      // Just picked (the next answer will not list it): not offered again.
      if (S.chats.has(x.conversation) && mine(S.chats.get(x.conversation))) continue;
      items.push({ ...x, queue: q });
    }
  }
  return items;
}

function setPickError(text) {
  W.pickError = text;
  clearTimeout(W.pickErrorTimer);
  if (text) W.pickErrorTimer = setTimeout(() => { W.pickError = ''; drawWaiting(); }, 15000);
  drawWaiting();
}

/** Takes a waiting chat: it opens like an accepted offer (the `joined` signal follows the ack). */
function pickChat(x) {
  if (W.picking.has(x.conversation)) return;
  W.picking.add(x.conversation);
  setPickError('');
  request({ type: 'pick', conversation: x.conversation }).then(() => {
    W.picking.delete(x.conversation);
    S.offers.delete(x.conversation);
    S.selected = x.conversation;
    drawOffers(); drawChats(); showSelected(); persist();
    refreshWaiting(0);
  }, (e) => {
    W.picking.delete(x.conversation);
    setPickError(`Could not pick the chat with ${x.customer_name || 'the customer'}: ${e.message}`);
    drawOffers();
    refreshWaiting(0);
  });
}

function drawWaiting() {
  const panel = $('waiting-panel');
  panel.hidden = !S.me || !(S.me.queues || []).length;
  const err = W.pickError || W.loadError;
  if ($('waiting-error').textContent !== err) $('waiting-error').textContent = err;
  const items = waitingItems();
  const key = JSON.stringify([items, [...W.picking], [...S.offers.keys()], S.directory.queues.length]);
  $('no-waiting').hidden = !W.loaded || items.length > 0;
  if (key === W.drawn) return;
  W.drawn = key;
  const ul = $('waiting');
  ul.replaceChildren();
  for (const x of items) {
    const picking = W.picking.has(x.conversation);
    const toMe = S.offers.get(x.conversation)?.kind === 'offer';
    const since = h('span', { t: 'waiting-time' });
    const li = h('li', { class: 'waiting-item' + (x.offered ? ' offered' : ''), t: 'waiting-item', 'data-conversation': x.conversation, 'data-queue': x.queue, 'data-offered': x.offered ? 'true' : 'false' },
      h('div', { class: 'waiting-main' },
        h('div', { class: 'waiting-name', t: 'waiting-name', text: x.customer_name || 'Customer' }),
        h('div', { class: 'muted small', t: 'waiting-place', text: `${queueName(x.queue)} · ${x.position === 1 ? 'next in line' : `#${x.position} in line`}` }),
        h('div', { class: 'muted small waiting-meta' }, since,
          x.offered ? h('span', { class: 'offered-tag', t: 'waiting-offered', text: toMe ? 'Offered to you' : 'Being offered' }) : null)),
      h('button', { type: 'button', class: 'primary', t: 'pick', text: picking ? 'Picking…' : 'Pick', disabled: picking, onclick: () => pickChat(x) }));
    li._tick = () => {
      const ms = Date.now() - Date.parse(x.waiting_since);
      since.textContent = `Waiting ${mmss(Number.isFinite(ms) ? ms : 0)}`;
    };
    li._tick();
    ul.append(li);
  }
}

// ------------------------------------------------------------------ the inbox: Queue chats
// Seed 001: an agent may read any chat of its queues without being in it, and write in its
// internal discussion (PROTOCOL "The inbox"). The Queue chats panel lists the open chats of my
// queues (GET /v1/conversations by status; supervisors get the whole org there, the panel keeps
// to their queues) that I am not in, polled; a click opens one to view (resume from 0).
const QUEUE_CHATS_POLL_MS = 10000;
/** The open statuses listed: being served, a transfer pending, parked (asynchronous chat), with the bot (bot-first chats). */
const QUEUE_CHAT_STATUSES = ['assigned', 'transferring', 'parked', 'bot'];
/** Rows asked for per status; the server's list is newest first. */
const QUEUE_CHATS_LIMIT = 200;
const QC = {
  rows: [], // the last good answer: ConversationSummary rows of my queues, newest first
  loaded: false, // a first answer came
  error: '', // the last refresh failed (the rows are the last good ones)
  openError: '', // opening a chat failed
  openErrorTimer: null,
  inFlight: false,
  again: false,
  gen: 0, // bumped on sign-in/out: answers for an older session are dropped
  rowsKey: '',
  drawn: '',
  loads: 0,
};

async function loadQueueChats() {
  if (!S.me || !S.token) return;
  if (QC.inFlight) { QC.again = true; return; }
  QC.inFlight = true;
  const gen = QC.gen;
  try {
    const answers = await Promise.allSettled(QUEUE_CHAT_STATUSES.map((st) => api(`/v1/conversations?status=${st}&limit=${QUEUE_CHATS_LIMIT}`)));
    if (gen !== QC.gen || !S.me) return;
    const failed = answers.find((a) => a.status === 'rejected');
    if (failed) {
      QC.error = `Could not refresh the queue chats: ${failed.reason?.message || 'network error'}`;
    } else {
      const mine = new Set(S.me.queues || []);
      QC.rows = answers.flatMap((a) => a.value.conversations || [])
        .filter((r) => r.queue && mine.has(r.queue))
        .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      // What the rows show, to redraw only on change (drawQueueChats runs on every chat event).
      QC.rowsKey = JSON.stringify(QC.rows.map((r) => [r.id, r.status, r.owner, r.customer_name, r.queue, r.created_at]));
      QC.loaded = true;
      QC.error = '';
      // Answers so far (tests wait for a refresh on it).
      $('queue-chats-panel').setAttribute('data-loads', String(++QC.loads));
    }
    drawQueueChats();
  } finally {
    QC.inFlight = false;
    if (QC.again) { QC.again = false; loadQueueChats(); }
  }
}
setInterval(loadQueueChats, QUEUE_CHATS_POLL_MS);
$('queue-chats-refresh').addEventListener('click', () => loadQueueChats());

/** The rows to list: not the chats I am in (owner or participant); those I view are marked. */
function queueChatItems() {
  const me = S.me?.agent;
  return QC.rows.filter((r) => {
    if (r.owner === me) return false;
    const c = S.chats.get(r.id);
    return !(c && c.status !== 'closed' && myRole(c));
  });
}

/** "4:05", "1 h 07 min": how long a chat has been open. */
function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 3600) return mmss(ms);
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

function setQueueChatsOpenError(text) {
  QC.openError = text;
  clearTimeout(QC.openErrorTimer);
  if (text) QC.openErrorTimer = setTimeout(() => { QC.openError = ''; drawQueueChats(); }, 15000);
  drawQueueChats();
}

function drawQueueChats() {
  const panel = $('queue-chats-panel');
  panel.hidden = !S.me || !(S.me.queues || []).length;
  const err = QC.openError || QC.error;
  if ($('queue-chats-error').textContent !== err) $('queue-chats-error').textContent = err;
  if (!S.me) return;
  const items = queueChatItems();
  const viewing = items.filter((r) => S.chats.get(r.id)?.viewing && S.chats.get(r.id).status !== 'closed').map((r) => r.id);
  $('no-queue-chats').hidden = !QC.loaded || items.length > 0;
  const key = JSON.stringify([QC.rowsKey, items.map((r) => r.id), viewing, S.selected, S.directory.queues.length, S.directory.agents.length]);
  if (key === QC.drawn) return;
  QC.drawn = key;
  const ul = $('queue-chats');
  ul.replaceChildren();
  for (const r of items) {
    const isViewing = viewing.includes(r.id);
    const open = h('span', { t: 'queue-chat-time' });
    const status = { assigned: 'In progress', transferring: 'Transfer pending', parked: 'Parked', bot: 'With the bot' }[r.status] || r.status;
    const li = h('li', { class: `queue-chat-item st-${r.status}` + (r.status === 'parked' ? ' parked' : '') + (isViewing ? ' viewing' : '') + (S.selected === r.id ? ' selected' : ''),
      t: 'queue-chat-item', 'data-conversation': r.id, 'data-queue': r.queue, 'data-status': r.status, 'data-viewing': isViewing ? 'true' : 'false',
      tabindex: '0', role: 'button', title: isViewing ? 'You are viewing this chat' : 'View this chat: read it and write to the agents',
      onclick: () => viewChat(r.id, r), onkeydown: (ev) => { if (ev.key === 'Enter') viewChat(r.id, r); } },
      h('div', { class: 'queue-chat-top' },
        h('span', { class: 'queue-chat-name', t: 'queue-chat-name' },
          isViewing ? h('span', { class: 'viewing-tag', t: 'queue-chat-viewing', text: 'Viewing' }) : null,
          r.customer_name || 'Customer')),
      h('div', { class: 'muted small queue-chat-meta' },
        h('span', { t: 'queue-chat-queue', text: queueName(r.queue) }),
        h('span', { text: '·' }),
        h('span', { t: 'queue-chat-owner', text: r.owner ? agentName(r.owner) : 'no agent' })),
      h('div', { class: 'muted small queue-chat-meta' },
        h('span', { t: 'queue-chat-status', text: status }),
        h('span', { text: '·' }),
        open));
    li._tick = () => {
      const ms = Date.now() - Date.parse(r.created_at);
      open.textContent = `Open ${age(Number.isFinite(ms) ? ms : 0)}`;
    };
    li._tick();
    ul.append(li);
  }
}

/**
 * Opens a chat to view it (the inbox; a supervisor's open-by-id): it joins the chat list with a
 * Viewing tag and is resumed from the start. A chat already in the list is just selected.
 * `failed(error)` reports a refusal (not_found: not of my queues, or gone).
 */
function viewChat(id, row, failed) {
  S.dropped.delete(id);
  if (S.chats.get(id)?.status === 'closed') S.chats.delete(id);
  const known = S.chats.get(id);
  if (known) { select(id); return Promise.resolve(); }
  const c = chatFor(id);
  c.viewing = true;
  if (row) {
    // Named at once, before its log comes.
    if (row.customer_name) c.customer = { name: row.customer_name, email: row.customer_email };
    c.queue = row.queue || null;
    c.owner = row.owner || null;
  }
  select(id);
  setQueueChatsOpenError('');
  c.resuming = true;
  return sock.resume(c.id, c.lastSeq, c.epoch).then(() => { c.resuming = false; refreshChat(c); drawChats(); }, (e) => {
    c.resuming = false;
    if (c.lastSeq === 0 && S.chats.get(id) === c) {
      S.chats.delete(id);
      if (S.selected === id) S.selected = [...S.chats.values()].find((x) => x.status !== 'closed')?.id || null;
      drawChats(); showSelected(); persist();
    }
    if (failed) failed(e);
    else {
      setQueueChatsOpenError(e.code === 'not_found' ? `The chat with ${row?.customer_name || 'that customer'} is no longer in your queues.` : `Could not open the chat: ${e.message}`);
      loadQueueChats();
    }
  });
}

/** Stops viewing: the chat leaves the list and this socket stops following it (`unfollow`). */
function stopViewing(c) {
  S.dropped.add(c.id);
  S.chats.delete(c.id);
  clearTimeout(c.typingTimer); clearTimeout(c.awaitJoinTimer);
  if (sock.ready) request({ type: 'unfollow', conversation: c.id }).catch(() => { /* a reconnect follows nothing viewed anyway */ });
  for (const t of $('toasts').querySelectorAll('[data-t=notification]')) if (t.getAttribute('data-conversation') === c.id) t.remove();
  if (S.selected === c.id) S.selected = [...S.chats.values()].find((x) => x.status !== 'closed')?.id || null;
  drawChats(); showSelected(); persist();
}

function pendingLevel(c) {
  if (!c.pendingSince || !mine(c) || c.status === 'ended' || c.status === 'done') return null;
  const ms = Date.now() - c.pendingSince;
  if (ms >= S.settings.pending_red_ms) return ['red', ms];
  if (ms >= S.settings.pending_yellow_ms) return ['yellow', ms];
  return ['green', ms];
}

function statusLabel(c) {
  if (viewer(c)) {
    if (c.status === 'ended') return 'Ended';
    if (c.status === 'done') return 'Wrapped up';
    if (c.status === 'bot') return `With ${botName(c)}`;
    return c.owner ? `With ${agentName(c.owner)}` : c.status === 'waiting' && c.events.length ? 'Waiting in the queue' : 'Open';
  }
  // (The server may close a chat between agents at once on its end: nothing to wrap up.)
  if (c.agentChat && (c.status === 'ended' || c.status === 'done')) return 'Ended';
  if (c.agentChat && live(c) && myRole(c)) {
    const peer = peerOf(c);
    return peer && c.invites.has(peer) ? `Waiting for ${peerName(c)} to accept` : 'Agents only';
  }
  switch (c.status) {
    case 'transferring': return `Transfer to ${agentName(c.transfer?.to)} pending`;
    case 'ended': return 'Ended – wrap-up';
    case 'done': return 'Wrapped up';
    case 'left': return c.leftNote || 'Transferred';
    case 'waiting': return 'Waiting';
    case 'bot': return `With ${botName(c)}`;
    default: return ROLE_STATUS[myRole(c)] || c.customer.email || 'Active';
  }
}

function drawChats() {
  const ul = $('chats');
  ul.replaceChildren();
  for (const c of S.chats.values()) {
    if (c.status === 'closed') continue;
    const level = pendingLevel(c);
    const dot = h('span', { class: 'dot ' + (level ? level[0] : 'none'), t: 'pending', 'data-level': level ? level[0] : 'none', title: level ? `Waiting for your reply for ${mmss(level[1])}` : 'Nothing pending' });
    const viewing = viewer(c);
    const li = h('li', { class: 'chat-item' + (S.selected === c.id ? ' selected' : '') + ` st-${c.status}` + (c.agentChat ? ' agent-chat' : '') + (viewing ? ' viewing' : ''), t: 'chat-item', 'data-conversation': c.id, 'data-internal': c.agentChat ? 'true' : null, 'data-viewing': viewing ? 'true' : null, tabindex: '0', role: 'button',
      onclick: () => select(c.id), onkeydown: (ev) => { if (ev.key === 'Enter') select(c.id); } },
      dot,
      h('div', { class: 'chat-item-main' },
        h('div', { class: 'chat-item-name', t: 'chat-name' },
          c.agentChat ? h('span', { class: 'internal-tag', t: 'chat-internal', text: 'Internal' }) : null,
          viewing ? h('span', { class: 'viewing-tag', t: 'chat-viewing', text: 'Viewing' }) : null,
          c.agentChat ? peerName(c) : c.customer.name),
        h('div', { class: 'muted small', text: statusLabel(c) })),
      c.unread ? h('span', { class: 'unread', t: 'unread', text: String(c.unread) }) : null);
    ul.append(li);
  }
  $('no-chats').hidden = [...S.chats.values()].some((c) => c.status !== 'closed');
  drawQueueChats(); // chats I am in (or view) now are not offered (or are marked) there
}

function select(id) {
  S.selected = id;
  // Its notifications are read: the chat is in view.
  for (const t of $('toasts').querySelectorAll('[data-t=notification]')) if (t.getAttribute('data-conversation') === id) t.remove();
  const c = S.chats.get(id);
  if (c) { c.unread = 0; maybeRead(c); }
  drawChats(); showSelected(); persist();
}

// ------------------------------------------------------------------ drawing: the chat pane
function showSelected() {
  const pane = $('pane');
  const c = S.chats.get(S.selected);
  if (!c || c.status === 'closed') { pane.replaceChildren(h('div', { class: 'empty muted', text: 'Select a chat.' })); return; }
  if (!c.dom) buildChat(c);
  if (pane.firstChild !== c.dom.root) pane.replaceChildren(c.dom.root);
  refreshChat(c);
  c.dom.scroll.scrollTop = c.dom.scroll.scrollHeight;
}

/** The chat's files: object URLs revoked, uploads not sent cancelled (its pane goes away). */
function dropChatFiles(c) {
  if (!c.dom) return;
  c.dom.urls.revokeAll();
  c.dom.tray.clear();
}

function drawFiles(c, el, attachments) {
  renderFiles(el, attachments, { server: '', token: () => S.token, urls: c.dom.urls, hook: 'data-t', cls: '' });
}

function redrawChat(c) {
  if (!c.dom) return;
  c.dom.urls.revokeAll();
  c.dom.urls = new BlobUrls();
  c.dom.list.replaceChildren();
  c.dom.internalList.replaceChildren();
  c.dom.bySeq = new Map();
  for (const e of c.events) appendEvent(c, e);
  drawCaseData(c);
  refreshChat(c);
}

function buildChat(c) {
  const title = h('h2', { t: 'chat-title' });
  const sub = h('div', { class: 'muted small', t: 'chat-sub' });
  const pend = h('span', { class: 'pending-label', t: 'pending-label' });
  const list = h('ol', { class: 'transcript', t: 'transcript' });
  const outbox = h('ol', { class: 'transcript outbox' });
  const earlier = h('div', { class: 'earlier', t: 'earlier', hidden: true });
  const scroll = h('div', { class: 'scroll' }, earlier, list, outbox);
  scroll.addEventListener('scroll', () => { if (scroll.scrollTop < 24) loadEarlier(c); }, { passive: true });
  const typing = h('div', { class: 'typing', t: 'typing', hidden: true, text: 'Customer is typing…' });
  const banner = h('div', { class: 'banner', t: 'banner', hidden: true });
  const input = h('textarea', { rows: '2', t: 'composer-input', placeholder: 'Reply to the customer…', maxlength: '4000' });
  const asNote = h('input', { type: 'checkbox', t: 'note-toggle' });
  const send = h('button', { type: 'submit', class: 'primary', t: 'send', text: 'Send' });
  const err = h('div', { class: 'error small', t: 'composer-error' });
  const noteLabel = h('label', { class: 'note-label', t: 'note-label' }, asNote, ' Internal note (agents only)');
  // Files (PROTOCOL §9.8): Attach or a drop on the chat; each uploads at once into the tray above
  // the reply, and goes with the next Send (the reply's text as its caption). Not in notes.
  const fileInput = h('input', { type: 'file', multiple: true, t: 'file-input', hidden: true, tabindex: '-1' });
  const attach = h('button', { type: 'button', class: 'ghost', t: 'attach', text: 'Attach', title: 'Attach files (or drop them on the chat)', 'aria-label': 'Attach files',
    onclick: () => fileInput.click() });
  const trayEl = h('ul', { class: 'tray', t: 'uploads', 'aria-label': 'Files to send', hidden: true });
  const tray = new UploadTray({ el: trayEl, server: '', hook: 'data-t', cls: '', token: () => S.token, conversation: () => c.id });
  fileInput.addEventListener('change', () => { tray.add(fileInput.files); fileInput.value = ''; });
  // Canned responses: "/" at the start of the composer, or the Responses button (unfiltered).
  const picker = cannedPicker(c, input);
  const cannedOpen = h('button', { type: 'button', class: 'ghost', t: 'canned-open', text: 'Responses', title: 'Insert a canned response (or type / at the start)',
    'aria-haspopup': 'listbox', onmousedown: (ev) => ev.preventDefault(), onclick: () => picker.toggle() });
  const composer = h('form', { class: 'composer', t: 'composer' },
    picker.el, trayEl, input, fileInput, h('div', { class: 'composer-bar' }, noteLabel, err, attach, cannedOpen, send));
  asNote.addEventListener('change', () => {
    composer.classList.toggle('as-note', asNote.checked);
    input.placeholder = asNote.checked ? 'Note for agents – the customer never sees it…' : c.agentChat ? `Message ${peerName(c)}…` : 'Reply to the customer…';
  });
  let typingOn = false; let typingIdle = null;
  const stopTyping = () => {
    clearTimeout(typingIdle);
    if (typingOn) { typingOn = false; fire({ type: 'typing', conversation: c.id, on: false }); }
  };
  input.addEventListener('input', () => {
    picker.update();
    // Typing indicators are for the customer: none between agents.
    if (asNote.checked || !input.value || c.agentChat) { stopTyping(); return; }
    if (!typingOn) { typingOn = true; fire({ type: 'typing', conversation: c.id, on: true }); }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 3000);
  });
  input.addEventListener('keydown', (ev) => {
    // While the picker is open, its keys (Enter picks, never sends).
    if (picker.key(ev)) return;
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); composer.requestSubmit(); }
  });
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    const withFiles = tray.has() && !asNote.checked;
    if (!text.trim() && !withFiles) return;
    err.textContent = '';
    stopTyping();
    if (withFiles) {
      input.value = '';
      const caption = text.trim() ? text : '';
      tray.take().then((files) => {
        if (!files.length) { if (caption) c.outbox.add(caption); return; }
        for (const m of fileMessages(caption, files)) c.outbox.add(m.text, m);
      });
    } else if (asNote.checked) {
      send.disabled = true;
      request({ type: 'note', conversation: c.id, text }).then(() => { input.value = ''; }, (e) => { err.textContent = e.message; })
        .finally(() => { send.disabled = false; });
    } else {
      input.value = '';
      c.outbox.add(text);
    }
  });

  // Beside the transcript: the participants and the internal discussion (agents only).
  const people = h('ul', { class: 'participants', t: 'participants' });
  const peopleErr = h('div', { class: 'error small', t: 'participants-error' });
  const internalList = h('ol', { class: 'internal-list', t: 'internal-thread' });
  const internalOutbox = h('ol', { class: 'internal-list outbox' });
  const internalScroll = h('div', { class: 'internal-scroll' }, internalList, internalOutbox);
  const internalInput = h('textarea', { rows: '2', t: 'internal-input', placeholder: 'Message the other agents…', maxlength: '4000' });
  const internalSend = h('button', { type: 'submit', class: 'ghost', t: 'internal-send', text: 'Send' });
  const internalPicker = cannedPicker(c, internalInput);
  internalInput.addEventListener('input', () => internalPicker.update());
  const internalComposer = h('form', { class: 'internal-composer', t: 'internal-composer' }, internalPicker.el, internalInput, internalSend);
  const internalClosed = h('div', { class: 'muted small internal-closed', t: 'internal-readonly', hidden: true, text: 'The chat has ended: the discussion is read-only.' });
  internalInput.addEventListener('keydown', (ev) => {
    if (internalPicker.key(ev)) return;
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); internalComposer.requestSubmit(); }
  });
  internalComposer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = internalInput.value;
    if (!text.trim()) return;
    internalInput.value = '';
    c.internal.add(text);
  });
  const internalHead = h('h3', { text: 'Internal discussion · agents only' });
  // Case data: what a bot gathered before the handover (bot-first chats).
  const caseHead = h('h3', { text: 'Case data', hidden: true });
  const caseData = h('div', { class: 'case-data', t: 'case-data-panel', hidden: true });
  const side = h('aside', { class: 'chat-side', t: 'chat-side' },
    caseHead, caseData,
    h('h3', { text: 'Participants' }), people, peopleErr,
    internalHead, internalScroll, internalClosed, internalComposer);

  // Actions: transfer, invite, leave, monitoring, end, wrap-up, close.
  const actions = h('div', { class: 'chat-actions' });
  const tools = h('div', { class: 'tools', t: 'tools' });
  // Notifications for this chat (per-chat monitoring level).
  const monitoring = h('div', { class: 'monitoring', t: 'monitoring', role: 'radiogroup', 'aria-label': 'Notifications for this chat' },
    h('span', { class: 'muted small', text: 'Notify me:' }),
    MONITORING.map(([level, label, title]) => h('button', { type: 'button', class: 'ghost', role: 'radio', value: level, t: `monitoring-${level}`, text: label, title,
      onclick: () => setMonitoringLevel(c, level) })));
  c.dom = {
    monitoring, attach, tray, urls: new BlobUrls(),
    root: null, title, sub, pend, earlier, list, outbox, scroll, typing, banner, composer, noteLabel, input, actions, tools, bySeq: new Map(), toolsFor: null,
    people, peopleErr, peopleKey: null, internalList, internalOutbox, internalScroll, internalComposer, internalClosed, internalHead,
    pickers: [picker, internalPicker], caseHead, caseData,
    ...buildTicketBar(c),
  };
  const main = h('div', { class: 'chat-main' }, scroll, typing, composer);
  dropFiles(main, 'dropping', () => !composer.hidden && !attach.hidden, (files) => tray.add(files));
  c.dom.root = h('section', { class: 'chat', t: 'chat', 'data-conversation': c.id },
    h('header', { class: 'chat-head' }, h('div', { class: 'chat-head-main' }, title, sub, monitoring), pend, actions),
    tools, c.dom.ticketBar, banner,
    h('div', { class: 'chat-body' }, main, side));
  for (const e of c.events) appendEvent(c, e);
  drawInternalOutbox(c);
  drawCaseData(c);
}

function drawInternalOutbox(c) {
  if (!c.dom) return;
  c.dom.internalOutbox.replaceChildren();
  for (const m of c.internal.items()) {
    const text = h('div', { class: 'text' });
    renderText(text, m.text);
    c.dom.internalOutbox.append(h('li', { class: 'internal-msg mine sending' + (m.failed ? ' failed' : ''), t: 'internal-pending', 'data-client-msg-id': m.id },
      text, h('div', { class: 'meta', text: m.failed ? `Not sent: ${m.failed}` : 'Sending…' })));
  }
}

/** One message of the internal discussion, into its thread. */
function appendInternal(c, e) {
  const d = c.dom;
  const text = h('div', { class: 'text', t: 'internal-text' });
  renderText(text, e.text);
  const system = e.author?.role === 'system';
  const me = S.me && !system && e.author?.id === S.me.agent;
  const stick = d.internalScroll.scrollTop + d.internalScroll.clientHeight >= d.internalScroll.scrollHeight - 40;
  d.internalList.append(h('li', { class: 'internal-msg' + (me ? ' mine' : '') + (system ? ' system' : ''), t: 'internal-msg', 'data-seq': e.seq, 'data-author': e.author?.id, 'data-author-role': e.author?.role },
    h('div', { class: 'who', t: 'internal-author', text: authorName(c, e) }),
    text, h('div', { class: 'meta' }, h('time', { datetime: e.at, text: clock(e.at) }))));
  if (stick) d.internalScroll.scrollTop = d.internalScroll.scrollHeight;
}

/** The participant list: roles, pending invitations, and the owner's remove / convert buttons. */
function drawParticipants(c) {
  const d = c.dom;
  const owner = mine(c) && live(c);
  const meId = S.me?.agent;
  const people = [...c.participants.values()].sort((a, b) => (a.role === 'owner' ? -1 : b.role === 'owner' ? 1 : a.since - b.since));
  const key = JSON.stringify([owner, meId, people, [...c.invites.values()]]);
  if (d.peopleKey === key) return;
  d.peopleKey = key;
  d.people.replaceChildren();
  const act = (btn, cmd) => {
    btn.disabled = true;
    d.peopleErr.textContent = '';
    request(cmd).catch((e) => { d.peopleErr.textContent = e.message; btn.disabled = false; });
  };
  for (const p of people) {
    const buttons = [];
    if (owner && p.id !== meId && p.role !== 'owner') {
      if (p.role === 'consult') {
        buttons.push(h('button', { type: 'button', class: 'ghost small', t: 'convert-transfer', text: 'Make transfer',
          onclick: (ev) => act(ev.target, { type: 'consult_convert', conversation: c.id, agent: p.id, to: 'transfer' }) }));
        buttons.push(h('button', { type: 'button', class: 'ghost small', t: 'convert-conference', text: 'Make conference',
          onclick: (ev) => act(ev.target, { type: 'consult_convert', conversation: c.id, agent: p.id, to: 'conference' }) }));
      }
      buttons.push(h('button', { type: 'button', class: 'ghost danger small', t: 'remove', text: 'Remove',
        onclick: (ev) => act(ev.target, { type: 'remove', conversation: c.id, agent: p.id }) }));
    }
    d.people.append(h('li', { class: 'participant', t: 'participant', 'data-agent': p.id, 'data-role': p.role },
      h('span', { class: 'participant-name', t: 'participant-name', text: p.name + (p.id === meId ? ' (you)' : '') }),
      h('span', { class: 'role-tag role-' + p.role, t: 'participant-role', text: ROLE_LABEL[p.role] || p.role }),
      buttons.length ? h('span', { class: 'participant-actions' }, buttons) : null));
  }
  for (const i of c.invites.values()) {
    d.people.append(h('li', { class: 'participant invited', t: 'invitee', 'data-agent': i.to, 'data-role': i.role },
      h('span', { class: 'participant-name', text: agentName(i.to) }),
      h('span', { class: 'role-tag', text: `invited · ${ROLE_LABEL[i.role] || i.role}` })));
  }
}

function drawOutbox(c) {
  if (!c.dom) return;
  c.dom.outbox.replaceChildren();
  for (const m of c.outbox.items()) {
    const text = h('div', { class: 'text' });
    renderText(text, m.text);
    const files = m.files?.length ? h('ul', { class: 'pending-files' }, m.files.map((f) => h('li', { text: `${f.name} (${humanSize(f.size)})` }))) : null;
    c.dom.outbox.append(h('li', { class: 'msg agent mine sending' + (m.failed ? ' failed' : ''), t: 'msg-pending', 'data-client-msg-id': m.id },
      files, m.text ? text : null, h('div', { class: 'meta', text: m.failed ? `Not sent: ${m.failed}` : 'Sending…' })));
  }
}

/** "Bob Agent joined as consultant", "Carol Supervisor is observing", … */
function joinedText(name, role) {
  switch (role) {
    case 'conference': return `${name} joined the conference`;
    case 'consult': return `${name} joined as consultant`;
    case 'observer': return `${name} is observing`;
    case 'coach': return `${name} is coaching`;
    default: return `${name} joined as ${role}`;
  }
}

// ------------------------------------------------------------------ bot-first chats
/** Who asked for the handover, as the transcript says it. */
const HANDOVER_BY = { bot: 'asked by the bot', customer: 'asked by the customer', timeout: 'the bot did not answer' };
function botName(c) { return c.bot?.name || 'the bot'; }
/** The bot's name, said to be a bot unless the name says so already ("Ava (bot)"). */
function botLabel(name) { return name ? (/\bbot\b/i.test(name) ? name : `${name} (bot)`) : 'the bot'; }
function handedOverText(c, e) {
  const name = botLabel(c.bot?.name);
  switch (e.by) {
    case 'bot': return `Handed over to an agent by ${name}`;
    case 'customer': return `The customer asked for an agent: handed over from ${name}`;
    case 'timeout': return `Handed over to an agent: ${name} did not answer in time`;
    default: return `Handed over to an agent from ${name}`;
  }
}
/** The bot's intake as a case-data card: the answers (key: value), the skill and the summary. */
function intakeCard(c, e, t) {
  const rows = [];
  const value = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
  for (const [k, v] of Object.entries(e.answers || {})) {
    rows.push(h('div', { class: 'intake-row', t: 'intake-answer', 'data-key': k }, h('dt', { text: k }), h('dd', { text: value(v) })));
  }
  if (e.skill) rows.push(h('div', { class: 'intake-row', t: 'intake-skill' }, h('dt', { text: 'Skill' }), h('dd', { text: e.skill })));
  return h('div', { class: 'intake', t },
    h('div', { class: 'intake-head' }, h('span', { class: 'bot-badge', text: 'bot' }), ` Case data from ${botName(c)}`,
      e.at ? h('time', { class: 'muted small', datetime: e.at, text: ` ${clock(e.at)}` }) : null),
    rows.length ? h('dl', { class: 'intake-list' }, rows) : null,
    e.summary ? h('p', { class: 'intake-summary', t: 'intake-summary' }, h('strong', { text: 'Summary: ' }), h('span', { text: e.summary })) : null);
}
/** The side panel's case data: the latest intake of the chat, if any. */
function drawCaseData(c) {
  const d = c.dom;
  if (!d) return;
  const tickets = c.tickets?.size ? ticketChips(c) : null;
  d.caseHead.hidden = d.caseData.hidden = !c.intake && !tickets;
  d.caseData.replaceChildren(...[c.intake ? intakeCard(c, c.intake, 'case-data') : null, tickets].filter(Boolean));
}

// ------------------------------------------------------------------ tickets from chats
// PROTOCOL §9.13: an agent who has held the chat (or a supervisor) asks the org's ticket
// integration for a ticket (POST /v1/conversations/{id}/tickets: a new one, or to append the
// chat to one); the integration answers later, and the chat logs `ticket_linked` (and, while
// open, a system message in the internal discussion). All of it is agents only.

/** Who wrote an event, as the console names them: "System" for the server's own messages. */
function authorName(c, e) {
  if (e.author?.role === 'system') return 'System';
  return e.author?.name || memberName(c, e.author?.id);
}
/** An address that may become a link: http(s) only, else null (ticket urls are untrusted). */
function safeUrl(url) {
  if (typeof url !== 'string' || !url) return null;
  try { return /^https?:$/.test(new URL(url).protocol) ? url : null; } catch { return null; }
}
/** A link to a ticket, opened in a new tab; `url` must have passed safeUrl. */
function ticketAnchor(url, text, t, extra = {}) {
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', t, title: url, ...extra, text });
}
function ticketRequestedText(c, e) {
  const who = authorName(c, e);
  return e.ticket ? `${who} asked to append this chat to ticket ${e.ticket}` : `${who} asked for a ticket`;
}
/** The case data's tickets: one chip per ticket, a link when its url is known. */
function ticketChips(c) {
  return h('div', { class: 'tickets', t: 'tickets' },
    h('span', { class: 'tickets-head muted small', text: 'Tickets' }),
    [...c.tickets].map(([id, url]) => (url
      ? ticketAnchor(url, id, 'ticket-chip', { class: 'ticket-chip', 'data-ticket': id })
      : h('span', { class: 'ticket-chip', t: 'ticket-chip', 'data-ticket': id, text: id }))));
}
/** May I ask for a ticket from this chat: I am (or was, now it has ended) in it, or supervise. */
function ticketable(c) {
  if (!S.me || c.agentChat || !c.events.length || c.status === 'closed' || c.status === 'left') return false;
  return !!myRole(c) || (viewer(c) && supervisor());
}
/** Asks for a ticket (`ticket`: append to it); true once the server took the request. */
async function requestTicket(c, ticket) {
  if (c.ticketBusy) return false;
  c.ticketBusy = true;
  c.ticketError = '';
  drawTickets(c);
  try {
    const r = await api(`/v1/conversations/${encodeURIComponent(c.id)}/tickets`, { method: 'POST', body: ticket ? { ticket } : {} });
    // Its event may have come first (then the chat's log says it is pending, or linked already).
    if (r.request && !c.ticketRequests.has(r.request)) c.ticketAsked.set(r.request, { request: r.request, ticket: ticket || null });
    return true;
  } catch (e) {
    c.ticketError = `Could not request a ticket: ${e.message}`;
    return false;
  } finally {
    c.ticketBusy = false;
    drawTickets(c);
  }
}
/** The ticket bar under the chat's header: the append form, the pending requests, the last error. */
function drawTickets(c) {
  const d = c.dom;
  if (!d) return;
  const allowed = ticketable(c);
  if (!allowed) c.ticketAppendOpen = false;
  d.ticketForm.hidden = !c.ticketAppendOpen;
  d.ticketGo.disabled = c.ticketBusy;
  const pending = [...c.ticketRequests.values()].filter((r) => !r.linked)
    .map((r) => ({ request: r.request, ticket: r.ticket, by: r.by?.role === 'agent' && r.by.id !== S.me?.agent ? authorName(c, { author: r.by }) : null }))
    .concat([...c.ticketAsked.values()].map((r) => ({ request: r.request, ticket: r.ticket, by: null })));
  const key = JSON.stringify([pending, c.ticketBusy]);
  if (d.ticketKey !== key) {
    d.ticketKey = key;
    d.ticketPending.replaceChildren(...pending.map((r) => h('div', { class: 'ticket-pending', t: 'ticket-pending', 'data-request': r.request, role: 'status' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      `Ticket requested…${r.ticket ? ` (append to ${r.ticket})` : ''}${r.by ? ` by ${r.by}` : ''} · waiting for the ticket system`)));
    if (c.ticketBusy) d.ticketPending.append(h('div', { class: 'ticket-pending muted', t: 'ticket-sending', text: 'Requesting a ticket…' }));
  }
  d.ticketError.hidden = !c.ticketError;
  if (d.ticketError.textContent !== c.ticketError) d.ticketError.textContent = c.ticketError;
  d.ticketBar.hidden = d.ticketForm.hidden && !d.ticketPending.childElementCount && !c.ticketError;
}
/** The ticket bar's elements (into c.dom). */
function buildTicketBar(c) {
  const input = h('input', { type: 'text', t: 'ticket-id', placeholder: 'Ticket id, e.g. T-77', maxlength: '100', spellcheck: 'false', 'aria-label': 'The ticket to append this chat to' });
  const go = h('button', { type: 'submit', class: 'primary', t: 'ticket-append-go', text: 'Append' });
  const form = h('form', { class: 'tool-row', t: 'ticket-append-form', hidden: true }, h('strong', { text: 'Append this chat to ticket' }), input, go,
    h('button', { type: 'button', class: 'ghost', t: 'ticket-append-cancel', text: 'Cancel', onclick: () => { c.ticketAppendOpen = false; c.ticketError = ''; drawTickets(c); } }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ticket = input.value.trim();
    if (!ticket) { c.ticketError = 'Enter the ticket to append this chat to.'; drawTickets(c); input.focus(); return; }
    if (await requestTicket(c, ticket)) { input.value = ''; c.ticketAppendOpen = false; drawTickets(c); }
  });
  const pending = h('div', { class: 'ticket-pending-list' });
  const error = h('div', { class: 'error small', t: 'ticket-error', role: 'alert', hidden: true });
  const bar = h('div', { class: 'ticket-bar', t: 'ticket-bar', hidden: true }, form, pending, error);
  return { ticketBar: bar, ticketForm: form, ticketInput: input, ticketGo: go, ticketPending: pending, ticketError: error, ticketKey: null };
}

function sysLine(c, e, text, t) {
  return h('li', { class: 'sys', t: t || 'system', 'data-seq': e.seq },
    h('time', { datetime: e.at, text: clock(e.at) }), ' ', h('span', { text }));
}

function appendEvent(c, e) {
  const d = c.dom;
  if (!d) return;
  let li = null;
  const who = e.author?.role === 'system' ? 'System' : e.author?.name || agentName(e.author?.id);
  switch (e.kind) {
    case 'created': {
      if (e.channel === 'internal') {
        li = sysLine(c, e, `Chat between agents started by ${memberName(c, e.context?.initiated_by || e.author?.id)} · no customer`, 'sys-created');
        break;
      }
      const bits = [e.channel === 'outbound'
        ? `Chat started by ${agentName(e.context?.initiated_by)} with ${e.customer_name}`
        : `Chat started by ${e.customer_name}`];
      if (e.reason) bits.push(`reason: ${S.reasons.get(e.reason) || e.reason}`);
      bits.push(`queue: ${queueName(e.queue)}`);
      if (e.verified) bits.push('verified customer');
      li = sysLine(c, e, bits.join(' · '), 'sys-created');
      break;
    }
    case 'participant_joined':
      if (e.role === 'owner') li = sysLine(c, e, `${e.name} joined`, 'sys-joined');
      else if (e.role !== 'customer') li = sysLine(c, e, joinedText(e.name, e.role), 'sys-participant-joined');
      break;
    case 'participant_left':
      if (e.role === 'owner') li = sysLine(c, e, `${memberName(c, e.participant)} left`, 'sys-left');
      else if (e.role !== 'customer') {
        const name = memberName(c, e.participant);
        const by = e.author?.id && e.author.id !== e.participant ? e.author.name || memberName(c, e.author.id) : null;
        const what = { observer: 'stopped observing', coach: 'stopped coaching', consult: 'left the consultation' }[e.role] || 'left';
        li = sysLine(c, e, by ? `${by} removed ${name} (${ROLE_LABEL[e.role] || e.role})` : `${name} ${what}`, 'sys-participant-left');
      }
      break;
    case 'role_changed': {
      let text;
      if (e.to === 'conference') text = e.from === 'consult' ? `${e.name} joined the conference (was consultant)` : `${e.name} barged in: now in the conference`;
      else text = joinedText(e.name, e.to);
      li = sysLine(c, e, text, 'sys-role-changed');
      break;
    }
    case 'ownership_changed':
      li = sysLine(c, e, `Ownership passed to ${e.name || memberName(c, e.to)}`, 'sys-ownership-changed');
      break;
    case 'parked':
      li = sysLine(c, e, `Parked: open with nobody in it until the customer writes again (then offered to ${memberName(c, e.previous)} first)`, 'sys-parked');
      break;
    case 'invited':
      li = sysLine(c, e, `${memberName(c, e.by)} invited ${memberName(c, e.to)} as ${ROLE_LABEL[e.role] || e.role}${e.note ? ` – “${e.note}”` : ''}`, 'sys-invited');
      break;
    case 'invite_ended':
      if (c.agentChat) {
        const name = memberName(c, e.to);
        li = sysLine(c, e, { accepted: `${name} accepted the chat`, rejected: `${name} declined the chat`, expired: `${name} did not answer`, cancelled: `The request to ${name} was withdrawn` }[e.outcome] || `Invitation to ${name} ${e.outcome}`, 'sys-invite-ended');
        break;
      }
      li = sysLine(c, e, `Invitation to ${memberName(c, e.to)} ${{ accepted: 'accepted', rejected: 'rejected', expired: 'expired without an answer', cancelled: 'cancelled' }[e.outcome] || e.outcome}`, 'sys-invite-ended');
      break;
    case 'internal':
      appendInternal(c, e);
      break;
    case 'message': {
      const fromCustomer = e.author?.role === 'customer';
      if (e.author?.role === 'bot') {
        // The org's bot (bot-first chats): its name and a badge, on the customer's side.
        let text = null;
        if (e.text) { text = h('div', { class: 'text' }); renderText(text, e.text); }
        li = h('li', { class: 'msg bot', t: 'msg-bot', 'data-seq': e.seq, 'data-author': e.author.id },
          h('div', { class: 'who' }, h('span', { text: e.author.name || botName(c) }), ' ', h('span', { class: 'bot-badge', t: 'bot-badge', text: 'bot' })),
          text, h('div', { class: 'meta' }, h('time', { datetime: e.at, text: clock(e.at) })));
        break;
      }
      // Between agents: the other agent's messages on the left, mine (with receipts) on the right.
      const fromPeer = !fromCustomer && incoming(c, e);
      let text = null;
      if (e.text) { text = h('div', { class: 'text' }); renderText(text, e.text); }
      let files = null;
      if (e.attachments?.length) { files = h('div'); drawFiles(c, files, e.attachments); files = files.firstChild; }
      const receipt = fromCustomer || fromPeer ? null : h('span', { class: 'receipt', t: 'receipt' });
      li = h('li', { class: 'msg ' + (fromCustomer ? 'customer' : 'agent') + (fromPeer ? ' peer' : ''), t: fromCustomer ? 'msg-customer' : 'msg-agent', 'data-seq': e.seq, 'data-author': fromCustomer ? null : e.author?.id },
        h('div', { class: 'who', text: fromCustomer ? c.customer.name : who }),
        files, text,
        h('div', { class: 'meta' }, h('time', { datetime: e.at, text: clock(e.at) }), receipt));
      if (receipt) d.bySeq.set(e.seq, li);
      break;
    }
    case 'url_pushed':
      li = h('li', { class: 'sys pushed-url', t: 'pushed-url', 'data-seq': e.seq },
        h('span', { text: `${who} pushed a link: ` }), urlLink(e.url), h('time', { class: 'muted small', datetime: e.at, text: ` ${clock(e.at)}` }));
      if (c.dom?.toolsFor === 'push') drawPushed(c);
      break;
    case 'note': {
      const text = h('div', { class: 'text' });
      renderText(text, e.text);
      li = h('li', { class: 'note', t: 'note', 'data-seq': e.seq },
        h('div', { class: 'who' }, h('span', { class: 'tag', text: 'Internal note · agents only' }), ` ${who}`),
        text, h('div', { class: 'meta' }, h('time', { datetime: e.at, text: clock(e.at) })));
      break;
    }
    case 'read': break;
    case 'transfer_requested':
      li = sysLine(c, e, `${agentName(e.from)} asked ${agentName(e.to)} to take this chat${e.note ? ` – “${e.note}”` : ''}`, 'sys-transfer-requested');
      break;
    case 'transfer_accepted':
      li = sysLine(c, e, `Transfer accepted by ${agentName(e.to)}`, 'sys-transfer-accepted');
      break;
    case 'transfer_rejected':
      li = sysLine(c, e, `Transfer rejected by ${agentName(e.to)}`, 'sys-transfer-rejected');
      break;
    case 'transfer_expired':
      li = sysLine(c, e, `Transfer to ${agentName(e.to)} expired without an answer`, 'sys-transfer-expired');
      break;
    case 'transferred_to_queue':
      li = sysLine(c, e, `${agentName(e.from)} transferred the chat to queue ${queueName(e.queue)}${e.note ? ` – “${e.note}”` : ''}`, 'sys-transfer-queue');
      break;
    case 'queued':
      break;
    case 'assigned':
      break;
    case 'idle_warning':
      li = sysLine(c, e, 'Idle prompt sent to the customer', 'sys-idle');
      break;
    case 'continued':
      li = sysLine(c, e, 'The customer continued the chat', 'sys-continued');
      break;
    case 'ended': {
      if (c.agentChat && e.reason !== 'agent') {
        li = sysLine(c, e, 'Chat ended', 'sys-ended');
        break;
      }
      const by = { customer: 'by the customer', agent: `by ${who}`, idle_timeout: '(customer idle)', auto_complete: '(auto-completed)', blocked: '(blocked)' }[e.reason] || '';
      li = sysLine(c, e, `Chat ended ${by}`.trim(), 'sys-ended');
      break;
    }
    case 'wrap_up': {
      if (c.agentChat) break; // no disposition between agents
      const label = S.dispositions.find((x) => x.code === e.disposition)?.label || e.disposition || 'no disposition';
      li = sysLine(c, e, `Wrapped up: ${label}${e.note ? ` – “${e.note}”` : ''}`, 'sys-wrap-up');
      break;
    }
    case 'survey':
      li = sysLine(c, e, `Customer survey: ${e.rating}/10${e.comment ? ` – “${e.comment}”` : ''}`, 'sys-survey');
      break;
    case 'bot_engaged':
      li = sysLine(c, e, `${e.name ? botLabel(e.name) : 'The bot'} took the chat`, 'sys-bot-engaged');
      break;
    case 'handed_over':
      li = sysLine(c, e, handedOverText(c, e), 'sys-handed-over');
      break;
    case 'handover_failed':
      li = sysLine(c, e, `Handover failed (${(e.reason || 'refused').replace(/_/g, ' ')}${HANDOVER_BY[e.by] ? `, ${HANDOVER_BY[e.by]}` : ''})${e.message ? `: ${e.message}` : ''} · the chat stays with ${botLabel(c.bot?.name)}`, 'sys-handover-failed');
      break;
    case 'intake':
      li = h('li', { class: 'intake-item', 'data-seq': e.seq }, intakeCard(c, e, 'intake'));
      break;
    case 'ticket_requested':
      li = sysLine(c, e, ticketRequestedText(c, e), 'sys-ticket-requested');
      break;
    case 'ticket_linked': {
      const url = safeUrl(e.url);
      li = h('li', { class: 'sys ticket-linked', t: 'sys-ticket-linked', 'data-seq': e.seq, 'data-ticket': e.ticket },
        h('time', { datetime: e.at, text: clock(e.at) }), ' ',
        h('span', { text: `Ticket ${e.ticket} is linked to this chat${url ? ': ' : ''}` }),
        url ? ticketAnchor(url, url, 'ticket-link') : null);
      break;
    }
    default:
      li = sysLine(c, e, e.kind.replace(/_/g, ' '));
  }
  if (li) {
    const stick = d.scroll.scrollTop + d.scroll.clientHeight >= d.scroll.scrollHeight - 40;
    d.list.append(li);
    if (stick) d.scroll.scrollTop = d.scroll.scrollHeight;
  }
  if (e.kind === 'message' && e.author?.role === 'agent') drawOutbox(c);
}

/** Everything derived from state: header, receipts, pending label, banner, actions, composer. */
function refreshChat(c) {
  const d = c.dom;
  if (!d) return;
  d.title.textContent = chatTitle(c);
  d.root.classList.toggle('agent-chat', c.agentChat);
  d.root.toggleAttribute('data-internal', c.agentChat);
  const viewing = viewer(c);
  d.root.classList.toggle('viewing', viewing);
  d.root.toggleAttribute('data-viewing', viewing);
  drawMonitoring(c);
  if (!c.agentChat && c.customer.id && !c.earlier) initEarlier(c);
  // Between agents: no customer details (no customer), no queue (it was never queued).
  d.sub.textContent = c.agentChat ? 'Internal chat · agents only, no customer'
    : [c.customer.email, c.customer.verified ? 'verified' : null, c.queue ? `queue ${queueName(c.queue)}` : null, c.reason ? `reason: ${S.reasons.get(c.reason) || c.reason}` : null]
      .filter(Boolean).join(' · ');
  for (const [seq, li] of d.bySeq) {
    const read = c.customerRead >= seq;
    li.classList.toggle('read', read);
    li.querySelector('[data-t=receipt]').textContent = read ? 'Read' : 'Sent';
  }
  const level = pendingLevel(c);
  d.pend.className = 'pending-label ' + (level ? level[0] : 'none');
  d.pend.setAttribute('data-level', level ? level[0] : 'none');
  d.pend.textContent = level ? `Waiting ${mmss(level[1])}` : '';
  d.typing.hidden = !c.typing;
  const typingText = c.typingPreview ? `Customer is typing: “${c.typingPreview}”` : 'Customer is typing…';
  if (d.typing.textContent !== typingText) d.typing.textContent = typingText;
  d.typing.classList.toggle('preview', !!c.typingPreview);
  const owner = mine(c);
  const role = myRole(c);
  const open = owner && (c.status === 'assigned' || c.status === 'transferring');
  // The customer composer: the owner's, and a conference participant's (no notes: those are
  // the owner's); consultants, coaches and observers talk only in the internal discussion.
  const talks = open || (role === 'conference' && live(c));
  // Between agents: no notes (all of it is agents only) and no wrap-up once it has ended.
  d.composer.hidden = !(talks || (c.status === 'ended' && owner && !c.agentChat));
  d.composer.classList.toggle('notes-only', c.status === 'ended');
  // Files go to the chat's people: not into notes, not once it has ended.
  d.attach.hidden = c.status === 'ended';
  if (!talks) d.tray.clear();
  d.noteLabel.hidden = !owner || c.agentChat;
  const noteToggle = d.composer.querySelector('[data-t=note-toggle]');
  if (c.status === 'ended' && !c.agentChat) {
    if (!noteToggle.checked) { noteToggle.checked = true; noteToggle.dispatchEvent(new Event('change')); }
  } else if ((!owner || c.agentChat) && noteToggle.checked) {
    noteToggle.checked = false; noteToggle.dispatchEvent(new Event('change'));
  }
  if (c.agentChat && !noteToggle.checked) d.input.placeholder = `Message ${peerName(c)}…`;
  // The internal discussion: written by the owner, conference participants, consultants and
  // coaches while the chat is served; read-only once it has ended; observers only read.
  // A chat between agents has none: it is internal already.
  for (const el of [d.internalHead, d.internalScroll]) el.hidden = c.agentChat;
  // Viewing it (the inbox): agents of its queue (and supervisors) write there while it is open.
  d.internalComposer.hidden = c.agentChat || !((live(c) && (owner || INTERNAL_ROLES.includes(role))) || (viewing && stillOpen(c)));
  d.internalClosed.hidden = c.agentChat || !(c.status === 'ended' || c.status === 'done');
  drawParticipants(c);
  // Banner
  let banner = null;
  if (viewing) {
    banner = !c.events.length ? 'Viewing: loading the chat…'
      : stillOpen(c) ? (supervisor() && !c.agentChat
        ? 'Viewing: you are not in this chat. Write to the agents in the internal discussion, or observe, coach or barge in.'
        : 'Viewing: you are not in this chat. Write to the agents in the internal discussion.')
        : 'Viewing: this chat has ended; its internal discussion is read-only.';
  } else if (c.status === 'left') banner = c.leftNote || 'This chat was transferred away.';
  else if (c.status === 'transferring') banner = `Waiting for ${agentName(c.transfer?.to)} to accept the transfer…`;
  else if (c.status === 'done') banner = c.agentChat ? 'This chat has ended.' : 'Wrapped up.';
  else if (c.status === 'waiting' && !owner && c.owner === null && c.events.length) banner = 'Waiting in the queue.';
  else if (c.status === 'bot') banner = `${c.bot?.name ? botLabel(c.bot.name) : 'The bot'} is handling this chat.`;
  else if (c.agentChat && live(c) && owner && peerOf(c) && c.invites.has(peerOf(c))) banner = `Waiting for ${peerName(c)} to accept your chat…`;
  else if (c.agentChat && live(c) && owner && peerOf(c) && c.names.has(peerOf(c)) && !c.participants.has(peerOf(c))) banner = `${peerName(c)} is not in this chat any more.`;
  else if (live(c) && owner && c.outbound && !c.customerSpoke) banner = `Chat request sent: ${c.customer.name} sees your message and can accept or decline.`;
  else if (live(c) && role === 'consult') banner = 'You are consulting: write in the internal discussion; the customer does not see you.';
  else if (live(c) && role === 'coach') banner = 'You are coaching: the agents see your internal messages; the customer does not see you.';
  else if (live(c) && role === 'observer') banner = 'You are observing silently: the customer does not see you.';
  d.banner.hidden = !banner;
  d.banner.textContent = banner || '';
  drawTickets(c);
  // Actions
  // (Nothing to monitor in a chat between agents.)
  const monitors = supervisor() && !owner && !c.agentChat && (live(c) || c.status === 'waiting');
  const tickets = ticketable(c);
  const key = `${c.status}|${owner}|${role}|${monitors}|${c.agentChat}|${viewing}|${tickets}`;
  if (d.actionsKey !== key) {
    d.actionsKey = key;
    d.actions.replaceChildren();
    if (open && c.status === 'assigned' && !c.agentChat) {
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'transfer', text: 'Transfer', onclick: () => toggleTools(c, 'transfer') }));
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'invite', text: 'Invite', onclick: () => toggleTools(c, 'invite') }));
    }
    if (monitors) {
      // Supervisors: watch silently, coach the agents, or barge in (the customer sees them).
      for (const [mode, label, as] of [['observe', 'Observe', 'observer'], ['coach', 'Coach', 'coach'], ['barge', 'Barge in', 'conference']]) {
        d.actions.append(h('button', { type: 'button', class: 'ghost' + (role === as ? ' pressed' : ''), t: `monitor-${mode}`, text: label, 'aria-pressed': role === as ? 'true' : 'false', disabled: role === as,
          onclick: (ev) => {
            ev.target.disabled = true;
            request({ type: 'monitor', conversation: c.id, mode }).then((data) => {
              // Monitoring follows the chat; should its event not have come, fetch it.
              setTimeout(() => { if (c.lastSeq < (data.seq || 0) && !c.resuming) resume(c); }, 1000);
            }, (e) => { notice(`${label}: ${e.message}`); ev.target.disabled = false; });
          } }));
      }
    }
    if (role && live(c)) {
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'leave', text: 'Leave', onclick: (ev) => {
        if (owner) { toggleTools(c, 'leave'); return; }
        ev.target.disabled = true;
        request({ type: 'leave', conversation: c.id }).catch((e) => { notice(`Could not leave: ${e.message}`); ev.target.disabled = false; });
      } }));
    }
    // View & export (seeds 001, 002): the transcript as CSV, text or PDF, or emailed, for anyone
    // who sees the chat.
    if (!c.agentChat) {
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'export', text: 'Export', onclick: () => toggleTools(c, 'export') }));
      if (c.customer.id) d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'journey', text: 'Journey', onclick: () => toggleTools(c, 'journey') }));
    }
    // Tickets from chats: whoever is (or was, once it ended) in the chat, and supervisors.
    if (tickets) {
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'ticket-create', text: 'Create ticket', title: 'Ask the ticket system for a new ticket with this chat',
        onclick: () => { c.ticketAppendOpen = false; requestTicket(c, null); } }));
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'ticket-append', text: 'Append to ticket', title: 'Add this chat to an existing ticket',
        'aria-expanded': String(c.ticketAppendOpen), onclick: (ev) => {
          c.ticketAppendOpen = !c.ticketAppendOpen;
          c.ticketError = '';
          ev.currentTarget.setAttribute('aria-expanded', String(c.ticketAppendOpen));
          drawTickets(c);
          if (c.ticketAppendOpen) d.ticketInput.focus();
        } }));
    }
    // Push a link to the customer (seed 004): whoever talks to the customer.
    if ((open || (role === 'conference' && live(c))) && !c.agentChat) {
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'push-url', text: 'Push link', onclick: () => toggleTools(c, 'push') }));
    }
    if (open) d.actions.append(h('button', { type: 'button', class: 'ghost danger', t: 'end', text: 'End chat', onclick: () => toggleTools(c, 'end') }));
    const pushes = d.toolsFor === 'push' && role === 'conference' && live(c);
    if (d.toolsFor && !(d.toolsFor === 'wrapup' && c.status === 'ended') && !(open && c.status === 'assigned') && !pushes) { d.toolsFor = null; d.tools.replaceChildren(); }
    if (c.status === 'ended' && owner && !c.agentChat && !d.toolsFor) toggleTools(c, 'wrapup');
    if (viewing) {
      // Not in it: nothing to leave or close, only to stop following.
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'stop-viewing', text: 'Stop viewing', onclick: () => stopViewing(c) }));
    } else if (c.status === 'done' || c.status === 'left' || (c.status === 'ended' && (!owner || c.agentChat))) {
      d.actions.append(h('button', { type: 'button', class: 'ghost', t: 'close', text: 'Close', onclick: () => closeChat(c) }));
    }
  }
}

function closeChat(c) {
  c.status = 'closed';
  dropChatFiles(c);
  c.dom = null;
  if (S.selected === c.id) S.selected = [...S.chats.values()].find((x) => x.status !== 'closed')?.id || null;
  drawChats(); showSelected(); persist();
}

/** Agents (presence, load) and queues to pick from; `agent:ID` / `queue:ID` values. */
function targetPicker(t) {
  return h('select', { t },
    h('optgroup', { label: 'Agents' }, S.directory.agents.filter((a) => a.id !== S.me.agent)
      .map((a) => h('option', { value: `agent:${a.id}`, text: `${a.name} – ${a.presence}${a.max_chats ? ` (${a.assigned}/${a.max_chats})` : ''}` }))),
    h('optgroup', { label: 'Queues' }, S.directory.queues.map((q) => h('option', { value: `queue:${q.id}`, text: `Queue: ${q.name}` }))));
}

/** The owner invites an agent (or someone from a queue) to a conference or a consultation. */
function inviteTools(c, err) {
  const d = c.dom;
  const role = h('select', { t: 'invite-role' },
    h('option', { value: 'conference', text: 'Conference (joins the chat with the customer)' }),
    h('option', { value: 'consult', text: 'Consultation (agents only)' }));
  const target = targetPicker('invite-target');
  const note = h('input', { type: 'text', t: 'invite-note', placeholder: 'Note for the invited agent (optional)', maxlength: '2000' });
  const go = h('button', { type: 'button', class: 'primary', t: 'invite-go', text: 'Invite' });
  go.addEventListener('click', () => {
    const [kind, id] = target.value.split(/:(.*)/s);
    if (!id) { err.textContent = 'Choose an agent or a queue.'; return; }
    go.disabled = true;
    const cmd = { type: 'invite', conversation: c.id, role: role.value };
    if (kind === 'agent') cmd.to_agent = id; else cmd.to_queue = id;
    if (note.value.trim()) cmd.note = note.value;
    request(cmd).then(() => { d.toolsFor = null; d.tools.replaceChildren(); }, (e) => { err.textContent = e.message; go.disabled = false; });
  });
  d.tools.replaceChildren(h('div', { class: 'tool-row' }, h('strong', { text: 'Invite' }), role, target, note, go,
    h('button', { type: 'button', class: 'ghost', text: 'Cancel', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } }), err));
}

async function toggleTools(c, what) {
  const d = c.dom;
  if (d.toolsFor === what && what !== 'wrapup') { d.toolsFor = null; d.tools.replaceChildren(); return; }
  d.toolsFor = what;
  const err = h('div', { class: 'error small', t: 'tools-error' });
  if (what === 'end') {
    d.tools.replaceChildren(h('div', { class: 'tool-row' }, h('span', { text: c.agentChat ? `End this chat with ${peerName(c)}?` : 'End this chat for the customer?' }),
      h('button', { type: 'button', class: 'primary danger', t: 'confirm-end', text: 'End chat', onclick: (ev) => {
        ev.target.disabled = true;
        request({ type: 'end', conversation: c.id }).then(() => { d.toolsFor = null; d.tools.replaceChildren(); refreshChat(c); }, (e) => { err.textContent = e.message; ev.target.disabled = false; });
      } }),
      h('button', { type: 'button', class: 'ghost', text: 'Cancel', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } }), err));
    return;
  }
  if (what === 'leave') {
    const next = [...c.participants.values()].filter((p) => p.role === 'conference').sort((a, b) => a.since - b.since)[0];
    d.tools.replaceChildren(h('div', { class: 'tool-row' },
      h('span', { t: 'leave-what', text: next ? `Leave this chat? ${next.name} becomes its owner.`
        : c.agentChat ? 'Leave this chat? Nobody else is in it: it ends.'
          : 'Leave this chat? Nobody in the conference can take it over: as your org is set up, it ends, goes back to its queue, or stays open until the customer writes again.' }),
      h('button', { type: 'button', class: 'primary', t: 'confirm-leave', text: 'Leave', onclick: (ev) => {
        ev.target.disabled = true;
        request({ type: 'leave', conversation: c.id }).then(() => { d.toolsFor = null; d.tools.replaceChildren(); refreshChat(c); }, (e) => { err.textContent = e.message; ev.target.disabled = false; });
      } }),
      h('button', { type: 'button', class: 'ghost', text: 'Cancel', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } }), err));
    return;
  }
  if (what === 'push') { pushTools(c, err); return; }
  if (what === 'export') { exportTools(c, err); return; }
  if (what === 'journey') { journeyTools(c, err); return; }
  if (what === 'wrapup') {
    const sel = h('select', { t: 'disposition' }, h('option', { value: '', text: S.dispositionRequired ? 'Choose a disposition…' : 'No disposition' }),
      S.dispositions.map((x) => h('option', { value: x.code, text: x.label })));
    const note = h('input', { type: 'text', t: 'wrapup-note', placeholder: 'Wrap-up note (optional)', maxlength: '2000' });
    const go = h('button', { type: 'button', class: 'primary', t: 'wrapup', text: 'Wrap up' });
    go.addEventListener('click', () => {
      if (S.dispositionRequired && !sel.value) { err.textContent = 'Choose a disposition.'; return; }
      go.disabled = true;
      const cmd = { type: 'wrap_up', conversation: c.id };
      if (sel.value) cmd.disposition = sel.value;
      if (note.value.trim()) cmd.note = note.value;
      request(cmd).then(() => { d.toolsFor = null; d.tools.replaceChildren(); }, (e) => { err.textContent = e.message; go.disabled = false; });
    });
    d.tools.replaceChildren(h('div', { class: 'tool-row' }, h('strong', { text: 'Wrap-up' }), sel, note, go, err));
    return;
  }
  // transfer or invite: a target picker from the directory (agents with presence and load, queues)
  try { S.directory = await api('/v1/directory'); } catch { /* keep the last known */ }
  if (d.toolsFor !== what) return;
  if (what === 'invite') { inviteTools(c, err); return; }
  const target = targetPicker('transfer-target');
  const note = h('input', { type: 'text', t: 'transfer-note', placeholder: 'Note for the next agent (optional)', maxlength: '2000' });
  const go = h('button', { type: 'button', class: 'primary', t: 'transfer-go', text: 'Request transfer' });
  go.addEventListener('click', () => {
    const [kind, id] = target.value.split(/:(.*)/s);
    if (!id) { err.textContent = 'Choose an agent or a queue.'; return; }
    go.disabled = true;
    const cmd = { type: 'transfer', conversation: c.id };
    if (kind === 'agent') cmd.to_agent = id; else cmd.to_queue = id;
    if (note.value.trim()) cmd.note = note.value;
    request(cmd).then(() => { d.toolsFor = null; d.tools.replaceChildren(); }, (e) => { err.textContent = e.message; go.disabled = false; });
  });
  d.tools.replaceChildren(h('div', { class: 'tool-row' }, h('strong', { text: 'Transfer to' }), target, note, go,
    h('button', { type: 'button', class: 'ghost', text: 'Cancel', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } }), err));
}

// ------------------------------------------------------------------ earlier chats (seed 004)
// The customer's earlier chats show above the current one, oldest at the top, divided by day
// ("Yesterday", "November 29"); a page loads when the agent scrolls to the top (or presses the
// button), and once all are there a notice says how far back they go. From
// GET /v1/customers/{id}/history: the same access as the conversation list.
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function initEarlier(c) {
  c.earlier = { items: [], cursor: null, done: false, loading: false, since: null, error: null };
  const d = c.dom;
  if (!d) return;
  d.earlier.hidden = false;
  drawEarlier(c);
}

function dayLabel(date) {
  const [y, m, dd] = date.split('-').map(Number);
  const day = new Date(y, m - 1, dd);
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const diff = Math.round((today - day) / 86400000);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  const opts = { month: 'long', day: 'numeric' };
  if (y !== today.getFullYear()) opts.year = 'numeric';
  return day.toLocaleDateString([], opts);
}

function sinceText(iso) {
  const days = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 86400000));
  const when = new Date(iso).toLocaleDateString([], { year: 'numeric', month: 'long', day: 'numeric' });
  const ago = days === 0 ? 'today' : days === 1 ? '1 day ago' : `${days} days ago`;
  return `All earlier chats are shown: they are available since ${when} (${ago}).`;
}

async function loadEarlier(c) {
  const x = c.earlier;
  if (!x || x.done || x.loading || !c.dom) return;
  x.loading = true; x.error = null;
  drawEarlier(c);
  const d = c.dom;
  const before = d.scroll.scrollHeight - d.scroll.scrollTop;
  try {
    const q = new URLSearchParams({ exclude: c.id, limit: '5', tz: TZ });
    if (x.cursor) q.set('cursor', x.cursor);
    const page = await api(`/v1/customers/${encodeURIComponent(c.customer.id)}/history?${q}`);
    for (const day of page.days) for (const conv of day.conversations) x.items.push({ date: day.date, ...conv });
    x.cursor = page.next_cursor;
    x.done = !page.next_cursor;
    x.since = page.available_since || (x.items.length ? x.items[x.items.length - 1].conversation.created_at : null);
  } catch (e) {
    x.error = `Could not load earlier chats: ${e.message}`;
  } finally {
    x.loading = false;
  }
  if (!c.dom) return;
  drawEarlier(c);
  // Keep what the agent was looking at in place: the new chats grow the list upwards.
  d.scroll.scrollTop = d.scroll.scrollHeight - before;
}

function earlierSession(c, item) {
  const s = item.conversation;
  const names = new Map();
  const lines = [];
  for (const e of item.events) {
    if (e.kind === 'participant_joined' || e.kind === 'assigned') names.set(e.participant || e.agent, e.name || e.agent_name);
    if (e.kind === 'message') {
      const who = e.author?.role === 'customer' ? 'customer' : 'agent';
      const name = who === 'customer' ? s.customer_name : (e.author?.name || names.get(e.author?.id) || e.author?.id || 'Agent');
      const text = h('span', { class: 'text' });
      renderText(text, e.text);
      lines.push(h('li', { class: `msg ${who} earlier-msg`, t: `earlier-msg-${who}` },
        h('div', { class: 'meta' }, h('strong', { text: name }), h('time', { text: ` ${clock(e.at)}` })), text));
    } else if (e.kind === 'ended') {
      lines.push(h('li', { class: 'sys', text: `Chat ended · ${clock(e.at)}` }));
    }
  }
  const who = s.agents.map((a) => agentName(a)).join(', ');
  const head = [`Chat at ${clock(s.created_at)}`, who ? `with ${who}` : 'no agent', s.disposition ? s.disposition : null].filter(Boolean).join(' · ');
  return h('li', { class: 'earlier-session', t: 'earlier-session', 'data-conversation': s.id },
    h('div', { class: 'sys earlier-head', text: head }), h('ol', { class: 'transcript' }, lines));
}

function drawEarlier(c) {
  const d = c.dom; const x = c.earlier;
  if (!d || !x) return;
  const parts = [];
  if (x.error) parts.push(h('div', { class: 'error small', t: 'earlier-error', text: x.error }));
  if (x.done) {
    parts.push(h('div', { class: 'muted small earlier-note', t: 'earlier-since',
      text: x.items.length && x.since ? sinceText(x.since) : 'No earlier chats with this customer.' }));
  } else {
    parts.push(h('button', { type: 'button', class: 'ghost small', t: 'earlier-load', disabled: x.loading,
      text: x.loading ? 'Loading earlier chats…' : 'Load earlier chats', onclick: () => loadEarlier(c) }));
  }
  // Oldest first; a day heading above each day's first chat.
  const list = h('ol', { class: 'earlier-list' });
  let day = null;
  for (const item of [...x.items].reverse()) {
    if (item.date !== day) { day = item.date; list.append(h('li', { class: 'earlier-day', t: 'earlier-day', text: dayLabel(day) })); }
    list.append(earlierSession(c, item));
  }
  parts.push(list);
  parts.push(h('div', { class: 'earlier-current', t: 'earlier-current',
    text: x.done ? 'The current chat begins here.' : 'The current chat begins here. Scroll up to see older chats.' }));
  d.earlier.replaceChildren(...parts);
}

// ------------------------------------------------------------------ customer journey (seed 001)
/** Every interaction of the customer with its status, agent and times (GET …/journey). */
async function journeyTools(c, err) {
  const d = c.dom;
  const close = h('button', { type: 'button', class: 'ghost', text: 'Close', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } });
  const list = h('ol', { class: 'journey', t: 'journey-list' });
  d.tools.replaceChildren(h('div', { class: 'tool-row', t: 'journey-tools' }, h('strong', { text: 'Customer journey' }), close, err), list);
  try {
    const j = await api(`/v1/customers/${encodeURIComponent(c.customer.id)}/journey?limit=50`);
    if (d.toolsFor !== 'journey') return;
    if (!j.interactions.length) list.append(h('li', { class: 'muted small', text: 'No interactions.' }));
    for (const x of j.interactions) {
      const when = new Date(x.created_at).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
      const steps = x.steps.map((s) => `${clock(s.at)} ${s.status}${s.agent ? ` ${agentName(s.agent)}` : s.queue ? ` (${queueName(s.queue)})` : ''}`).join(' → ');
      list.append(h('li', { class: 'journey-item' + (x.conversation === c.id ? ' current' : ''), t: 'journey-item', 'data-conversation': x.conversation },
        h('span', { class: `badge status-${x.status}`, t: 'journey-status', text: x.status }),
        h('span', { text: ` ${when}` }),
        h('span', { class: 'muted', text: x.agent ? ` · ${agentName(x.agent)}` : ' · no agent' }),
        x.conversation === c.id ? h('span', { class: 'muted', text: ' · this chat' }) : null,
        h('div', { class: 'muted small', text: steps })));
    }
  } catch (e) {
    err.textContent = `Could not load the journey: ${e.message}`;
  }
}

// ------------------------------------------------------------------ export a transcript (seed 001)
/** Downloads the chat's transcript (GET …/transcript?format=csv|txt|pdf) with the agent's token. */
function exportTools(c, err) {
  const d = c.dom;
  const get = (format, label) => h('button', { type: 'button', class: 'ghost', t: `export-${format}`, text: label, onclick: async (ev) => {
    ev.target.disabled = true;
    err.textContent = '';
    try {
      const r = await fetch(`/v1/conversations/${encodeURIComponent(c.id)}/transcript?format=${format}`, { headers: { authorization: `Bearer ${S.token}` }, cache: 'no-store' });
      if (!r.ok) {
        const j = await r.json().catch(() => ({}));
        throw new Error(j.error?.message || r.statusText);
      }
      saveBlob(await r.blob(), `transcript-${c.id}.${format}`, d.tools);
    } catch (e) {
      err.textContent = `Could not export: ${e.message}`;
    } finally {
      ev.target.disabled = false;
    }
  } });
  d.tools.replaceChildren(h('div', { class: 'tool-row', t: 'export-tools' }, h('strong', { text: 'Export transcript' }),
    get('csv', 'CSV'), get('txt', 'Text'), get('pdf', 'PDF'),
    h('button', { type: 'button', class: 'ghost', text: 'Close', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } }), err),
  emailRow(c));
}

/**
 * Emails the transcript (seed 002: POST …/transcript/email, the text in the body, the PDF
 * attached when chosen) and follows its status (GET /v1/emails/{id}) until sent or failed.
 */
function emailRow(c) {
  const d = c.dom;
  const to = h('input', { type: 'email', t: 'email-to', placeholder: 'customer@example.com', maxlength: '254', 'aria-label': 'Email the transcript to' });
  to.value = c.customer?.email || '';
  const pdf = h('input', { type: 'checkbox', t: 'email-pdf' });
  const status = h('span', { class: 'muted', t: 'email-status', role: 'status', 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', class: 'primary', t: 'email-send', text: 'Email transcript' });
  const form = h('form', { class: 'tool-row', t: 'email-tools' }, h('strong', { text: 'Email' }), to,
    h('label', { class: 'check' }, pdf, 'attach PDF'), go, status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    go.disabled = true;
    status.textContent = 'Sending…';
    try {
      const sent = await api(`/v1/conversations/${encodeURIComponent(c.id)}/transcript/email`,
        { method: 'POST', body: { to: to.value.trim(), format: pdf.checked ? 'pdf' : 'txt' } });
      status.textContent = `Queued for ${to.value.trim()}`;
      for (let i = 0; i < 60 && d.toolsFor === 'export'; i += 1) {
        await new Promise((r) => setTimeout(r, 1000));
        const e = await api(`/v1/emails/${encodeURIComponent(sent.id)}`);
        if (e.status === 'sent') { status.textContent = `Sent to ${e.to}`; break; }
        if (e.status === 'failed') { status.textContent = `Could not send: ${e.last_error || 'failed'}`; break; }
        status.textContent = e.attempts > 0 && e.last_error ? `Queued, retrying (${e.last_error})` : `Queued for ${e.to}`;
      }
    } catch (e) {
      status.textContent = `Could not email: ${e.message}`;
    } finally {
      go.disabled = false;
    }
  });
  return form;
}

// ------------------------------------------------------------------ push a link (seed 004)
// The agent sends a URL the customer's widget shows as "Please navigate to the link: <url>" and
// opens only on the customer's click. One client_msg_id per attempt at the same address: a retry
// after a lost answer cannot push it twice. The chat's pushed links (its history) come from its
// `url_pushed` events.
function pushTools(c, err) {
  const d = c.dom;
  const input = h('input', { type: 'url', t: 'push-url-input', placeholder: 'https://…', maxlength: '2048', spellcheck: 'false', 'aria-label': 'Link to push to the customer' });
  const go = h('button', { type: 'submit', class: 'primary', t: 'push-url-go', text: 'Push link' });
  const attempt = { url: null, id: null };
  const form = h('form', { class: 'tool-row', t: 'push-url-form' }, h('strong', { text: 'Push a link' }), input, go,
    h('button', { type: 'button', class: 'ghost', text: 'Close', onclick: () => { d.toolsFor = null; d.tools.replaceChildren(); } }), err);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const url = input.value.trim();
    err.textContent = '';
    if (!/^https?:\/\//i.test(url)) { err.textContent = 'Enter an address starting with http:// or https://'; return; }
    if (attempt.url !== url) { attempt.url = url; attempt.id = clientMsgId('u'); }
    go.disabled = true;
    request({ type: 'push_url', conversation: c.id, client_msg_id: attempt.id, url }).then(() => {
      go.disabled = false; input.value = ''; attempt.url = null;
    }, (e) => { err.textContent = e.message; go.disabled = false; });
  });
  const history = h('ol', { class: 'pushed-list', t: 'pushed-urls' });
  d.tools.replaceChildren(form, h('div', { class: 'muted small', text: 'Pushed in this chat' }), history);
  d.pushedList = history;
  drawPushed(c);
  input.focus();
}
function drawPushed(c) {
  const list = c.dom?.pushedList;
  if (!list) return;
  const pushed = c.events.filter((e) => e.kind === 'url_pushed');
  list.replaceChildren(...pushed.map((e) => h('li', { t: 'pushed-url-item', 'data-seq': e.seq },
    urlLink(e.url), h('span', { class: 'muted small', text: ` · ${memberName(c, e.author?.id)} · ${clock(e.at)}` }))));
  if (!pushed.length) list.append(h('li', { class: 'muted small', text: 'Nothing pushed yet.' }));
}

// ------------------------------------------------------------------ ticking: countdowns, pending colours
setInterval(() => {
  for (const li of $('offers').children) li._tick?.();
  for (const li of $('waiting').children) li._tick?.();
  for (const li of $('queue-chats').children) li._tick?.();
  for (const [id, o] of S.offers) if (o.deadline < Date.now() - 3000) S.offers.delete(id);
  if (S.me) {
    let changed = false;
    for (const c of S.chats.values()) {
      const lvl = pendingLevel(c)?.[0] || 'none';
      if (lvl !== c.lastLevel) { c.lastLevel = lvl; changed = true; }
    }
    if (changed) drawChats();
    else for (const dot of $('chats').querySelectorAll('[data-t=pending]')) {
      const c = S.chats.get(dot.closest('[data-conversation]').getAttribute('data-conversation'));
      const l = c && pendingLevel(c);
      dot.title = l ? `Waiting for your reply for ${mmss(l[1])}` : 'Nothing pending';
    }
    const c = S.chats.get(S.selected);
    if (c) refreshChat(c);
  }
}, 1000);

// ------------------------------------------------------------------ canned responses
// The responses that apply to a chat (GET /v1/conversations/{id}/canned: mine, its queue's and
// the org's, one per shortcut, placeholders filled for this chat as `rendered`), fetched once per
// chat when a picker first opens and again after "My responses" changed. "/" at the start of a
// composer (or its Responses button) opens the picker; a pick puts the rendered text into the
// composer in place of the "/query", to edit before sending: it never sends by itself.
const CANNED_SCOPE = { personal: 'Mine', queue: 'Queue', org: 'Org' };
const CANNED = { gen: 0 }; // bumped when my personal responses change: every chat's list is stale

/** The chat's responses: { list, error, loading }; fetched if stale, or (`retry`) if it failed. */
function loadCanned(c, retry) {
  const have = c.canned;
  if (have && have.gen === CANNED.gen && !(retry && have.error && !have.loading)) return have;
  const entry = { gen: CANNED.gen, list: null, error: '', loading: null };
  c.canned = entry;
  entry.loading = api(`/v1/conversations/${encodeURIComponent(c.id)}/canned`)
    .then((j) => { entry.list = Array.isArray(j.responses) ? j.responses : []; },
      (e) => { entry.error = e.message || 'unknown error'; })
    .finally(() => {
      entry.loading = null;
      if (c.canned === entry) for (const p of c.dom?.pickers || []) p.redraw();
    });
  return entry;
}

/** Responses for `query` (lower-case): shortcut prefix first, then title or text substring. */
function cannedMatches(list, query) {
  if (!query) return list.slice();
  const first = list.filter((r) => r.shortcut.toLowerCase().startsWith(query));
  const then = list.filter((r) => !first.includes(r) && [r.shortcut, r.title, r.rendered ?? r.text]
    .some((x) => String(x || '').toLowerCase().includes(query)));
  return first.concat(then);
}

/**
 * The picker of one composer's textarea. `update()` on every input (opens on a leading "/",
 * filters, closes once the text no longer starts with "/"), `key(ev)` first in its keydown
 * (true: the picker took the key), `toggle()` for the Responses button (unfiltered).
 */
function cannedPicker(c, input) {
  const status = h('div', { class: 'canned-status muted small', t: 'canned-status' });
  const list = h('ul', { class: 'canned-list', role: 'listbox', 'aria-label': 'Canned responses' });
  const el = h('div', { class: 'canned-picker', t: 'canned-picker', hidden: true },
    h('div', { class: 'canned-help muted small', text: '↑ ↓ choose · Enter inserts · Esc closes' }), status, list);
  // mode 'slash': the text starts with "/query" (replaced by the pick); 'all': opened by the
  // button over other text (the pick goes in at the caret, replacing the selection).
  const P = { open: false, mode: 'slash', at: [0, 0], items: [], active: 0, quiet: false };

  const query = () => (P.mode === 'slash' ? input.value.slice(1, input.selectionEnd || input.value.length).trimEnd().toLowerCase() : '');
  function open(mode) {
    P.open = true; P.mode = mode; P.active = 0;
    if (mode === 'all') P.at = [input.selectionStart ?? input.value.length, input.selectionEnd ?? input.value.length];
    el.hidden = false;
    loadCanned(c, true);
    redraw();
  }
  function close() {
    if (!P.open) return;
    P.open = false; P.items = [];
    el.hidden = true;
    list.replaceChildren();
  }
  function redraw() {
    if (!P.open) return;
    const entry = loadCanned(c, false);
    let note = '';
    P.items = [];
    if (entry.list) {
      const q = query();
      P.items = cannedMatches(entry.list, q);
      if (!entry.list.length) note = 'No canned responses yet. Add your own under “My responses”.';
      else if (!P.items.length) note = `No response matches “/${q}”. Esc closes.`;
    } else if (entry.error) note = `Could not load canned responses: ${entry.error}`;
    else note = 'Loading canned responses…';
    status.textContent = note;
    status.hidden = !note;
    status.classList.toggle('error', !!entry.error && !entry.list);
    if (P.active >= P.items.length) P.active = Math.max(0, P.items.length - 1);
    list.replaceChildren(...P.items.map((r, i) => {
      const text = r.rendered ?? r.text ?? '';
      return h('li', {
        class: 'canned-item' + (i === P.active ? ' active' : ''), t: 'canned-item', role: 'option',
        'aria-selected': i === P.active ? 'true' : 'false', 'data-shortcut': r.shortcut, 'data-scope': r.scope,
        onmousedown: (ev) => ev.preventDefault(), // keep the focus (and caret) in the composer
        onclick: () => pick(r),
      },
      h('div', { class: 'canned-top' },
        h('span', { class: 'canned-shortcut', t: 'canned-shortcut', text: `/${r.shortcut}` }),
        h('span', { class: 'canned-title', t: 'canned-title', text: r.title || '' }),
        h('span', { class: `scope-tag scope-${r.scope}`, t: 'canned-scope', text: CANNED_SCOPE[r.scope] || r.scope || '' })),
      h('div', { class: 'canned-preview', t: 'canned-preview', text: text.replace(/\s+/g, ' ').trim() }));
    }));
    list.children[P.active]?.scrollIntoView?.({ block: 'nearest' });
  }
  function pick(r) {
    const text = r.rendered ?? r.text ?? '';
    const v = input.value;
    const [from, to] = P.mode === 'slash' ? [0, v.startsWith('/') ? (input.selectionEnd || v.length) : 0] : P.at;
    input.value = v.slice(0, from) + text + v.slice(to);
    close();
    input.focus();
    input.setSelectionRange(from + text.length, from + text.length);
    // Tell the composer (typing indicator) without reopening the picker.
    P.quiet = true;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    P.quiet = false;
  }
  function update() {
    if (P.quiet) return;
    const v = input.value;
    if (P.open && P.mode === 'all') { close(); if (!v.startsWith('/')) return; }
    if (!v.startsWith('/') || v.slice(0, input.selectionEnd || v.length).includes('\n')) { close(); return; }
    if (!P.open) { open('slash'); return; }
    P.active = 0;
    redraw();
  }
  function key(ev) {
    if (!P.open || ev.isComposing) return false;
    const n = P.items.length;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (n) { P.active = (P.active + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n; redraw(); }
      return true;
    }
    if ((ev.key === 'Enter' && !ev.shiftKey) || (ev.key === 'Tab' && n)) {
      // Enter picks; with nothing to pick it does nothing (Esc closes, then Enter sends).
      ev.preventDefault();
      if (n) pick(P.items[P.active]);
      return true;
    }
    if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); close(); return true; }
    return false;
  }
  function toggle() {
    if (P.open) { close(); input.focus(); return; }
    input.focus();
    if (!input.value) {
      input.value = '/';
      input.setSelectionRange(1, 1);
      open('slash');
    } else open(input.value.startsWith('/') ? 'slash' : 'all');
  }
  input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) close(); }, 0));
  return { el, update, key, toggle, close, redraw, isOpen: () => P.open };
}

/** My personal responses changed: every chat's list is fetched again (open pickers at once). */
function cannedChanged() {
  CANNED.gen++;
  for (const c of S.chats.values()) {
    c.canned = null;
    for (const p of c.dom?.pickers || []) if (p.isOpen()) { loadCanned(c, true); p.redraw(); }
  }
}

// ------------------------------------------------------------------ My responses (personal canned responses)
// The agent's own responses: GET /v1/me/canned, PUT /v1/me/canned/{id} (creates or replaces),
// DELETE /v1/me/canned/{id}. The server validates (shortcut, title, text, placeholders, a
// shortcut taken by another of mine) and its message shows inline.
const MINE = { list: [], loaded: false, gen: 0, busy: false };

async function loadMyResponses() {
  const gen = MINE.gen;
  const err = $('my-responses-error');
  try {
    const j = await api('/v1/me/canned');
    if (gen !== MINE.gen) return;
    MINE.list = (j.responses || []).slice().sort((a, b) => a.shortcut.localeCompare(b.shortcut));
    MINE.loaded = true;
    err.textContent = '';
  } catch (e) {
    if (gen !== MINE.gen) return;
    err.textContent = `Could not load your responses: ${e.message}`;
  }
  drawMyResponses();
}
function drawMyResponses() {
  $('my-responses-list').replaceChildren(...MINE.list.map((r) => h('li', { class: 'my-response', t: 'my-response', 'data-id': r.id, 'data-shortcut': r.shortcut },
    h('div', { class: 'canned-top' },
      h('span', { class: 'canned-shortcut', text: `/${r.shortcut}` }),
      h('span', { class: 'canned-title', text: r.title })),
    h('div', { class: 'canned-preview', text: r.text.replace(/\s+/g, ' ').trim() }),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'ghost small', t: 'my-response-edit', text: 'Edit', onclick: () => editMyResponse(r) }),
      h('button', { type: 'button', class: 'ghost small danger', t: 'my-response-delete', text: 'Delete', onclick: (ev) => deleteMyResponse(r, ev.target) })))));
  $('my-responses-empty').hidden = !MINE.loaded || MINE.list.length > 0;
}
function showMyResponses(show) {
  $('my-responses-body').hidden = !show;
  $('my-responses-open').setAttribute('aria-expanded', show ? 'true' : 'false');
  if (show) loadMyResponses(); else editMyResponse(null);
}
/** Opens the form for `r` (null: closes it; {}: a new response). */
function editMyResponse(r) {
  const form = $('my-response-form');
  $('my-response-error').textContent = '';
  form.hidden = !r;
  $('my-response-add').hidden = !!r;
  if (!r) { form.dataset.id = ''; return; }
  // A new response gets an id of its own (the shortcut may change later, the id never does),
  // kept across retries of this form: a PUT that is retried replaces, never duplicates.
  form.dataset.id = r.id || `p-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  $('my-response-heading').textContent = r.id ? `Edit /${r.shortcut}` : 'New response';
  $('my-response-shortcut').value = r.shortcut || '';
  $('my-response-title').value = r.title || '';
  $('my-response-text').value = r.text || '';
  $('my-response-shortcut').focus();
}
async function deleteMyResponse(r, button) {
  $('my-responses-error').textContent = '';
  button.disabled = true;
  try {
    await api(`/v1/me/canned/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
  } catch (e) {
    // Gone already (another tab): the list below says so.
    if (e.code !== 'not_found') { $('my-responses-error').textContent = `Could not delete /${r.shortcut}: ${e.message}`; button.disabled = false; return; }
  }
  if ($('my-response-form').dataset.id === r.id) editMyResponse(null);
  cannedChanged();
  await loadMyResponses();
}
$('my-responses-open').addEventListener('click', () => showMyResponses($('my-responses-body').hidden));
$('my-response-add').addEventListener('click', () => editMyResponse({}));
$('my-response-cancel').addEventListener('click', () => editMyResponse(null));
$('my-response-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (MINE.busy) return;
  const form = $('my-response-form');
  const err = $('my-response-error');
  const body = {
    shortcut: $('my-response-shortcut').value.trim().replace(/^\//, ''),
    title: $('my-response-title').value.trim(),
    text: $('my-response-text').value,
  };
  err.textContent = '';
  if (!body.shortcut) { err.textContent = 'Enter a shortcut.'; return; }
  const id = form.dataset.id;
  MINE.busy = true;
  $('my-response-save').disabled = true;
  try {
    await api(`/v1/me/canned/${encodeURIComponent(id)}`, { method: 'PUT', body });
    editMyResponse(null);
    cannedChanged();
    await loadMyResponses();
  } catch (e) {
    err.textContent = e.message;
  } finally {
    MINE.busy = false;
    $('my-response-save').disabled = false;
  }
});

// ------------------------------------------------------------------ sign in / out
function signIn(token) {
  S.token = token.trim();
  persist();
  sock.start();
}
function signOut(message) {
  sock.stop();
  for (const x of S.chats.values()) dropChatFiles(x);
  S.token = null; S.me = null; S.chats.clear(); S.offers.clear(); S.selected = null;
  serverLevels = null;
  W.gen++; W.byQueue.clear(); W.loaded = false; W.picking.clear(); W.loadError = ''; setPickError('');
  S.dropped.clear();
  QC.gen++; QC.rows = []; QC.rowsKey = ''; QC.loaded = false; QC.error = ''; setQueueChatsOpenError('');
  try { sessionStorage.removeItem(STORE_KEY); } catch { /* ignore */ }
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('pane').replaceChildren(h('div', { class: 'empty muted', text: 'Select a chat.' }));
  $('toasts').replaceChildren();
  showStartForm(false);
  showAgentChatForm(false);
  MINE.gen++; MINE.list = []; MINE.loaded = false;
  showMyResponses(false);
  drawMyResponses();
  showReports(false);
}

$('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('token').value.trim();
  if (!t) { $('signin-error').textContent = 'Paste your token.'; return; }
  $('signin-error').textContent = '';
  signIn(t);
});
$('signout').addEventListener('click', () => {
  if (sock.ready) fire({ type: 'status', presence: 'offline' });
  signOut();
});
$('presence').addEventListener('change', (ev) => {
  const presence = ev.target.value;
  request({ type: 'status', presence }).catch((e) => { notice(`Could not change status: ${e.message}`); drawMe(); });
});

// Supervisors: open any chat of the org by its id (resumed from the start), then monitor it.
$('monitor-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = $('monitor-id').value.trim();
  const err = $('monitor-error');
  err.textContent = '';
  if (!id) { err.textContent = 'Enter a chat id.'; return; }
  // The inbox's path: viewed (not joined) until the supervisor observes, coaches or barges in.
  viewChat(id, null, (e) => { err.textContent = e.code === 'not_found' ? `No chat ${id} in your org.` : e.message; })
    .then(() => { if (!err.textContent) $('monitor-id').value = ''; });
});

// ------------------------------------------------------------------ agent-initiated chat (start_chat)
// The agent starts a chat with a known (verified) customer: the customer's id, optionally a name
// and a queue of the agent's, and the first message. The ack names the conversation; `joined`
// and the log follow like after accepting an offer. One client_msg_id per attempt at the same
// form content: retrying after a lost answer cannot log the first message twice.
const START = { msgId: null, key: '', busy: false };
function startQueues() {
  const sel = $('start-queue');
  const queues = S.me?.queues || [];
  const want = JSON.stringify([queues, queues.map(queueName)]);
  if (sel.dataset.drawn === want) return;
  sel.dataset.drawn = want;
  const keep = sel.value;
  sel.replaceChildren(h('option', { value: '', text: 'Default queue' }), ...queues.map((q) => h('option', { value: q, text: queueName(q) })));
  sel.value = queues.includes(keep) ? keep : '';
}
function showStartForm(show) {
  $('start-form').hidden = !show;
  $('start-chat').setAttribute('aria-expanded', show ? 'true' : 'false');
  if (show) { startQueues(); $('start-customer').focus(); } else $('start-error').textContent = '';
}
$('start-chat').addEventListener('click', () => showStartForm($('start-form').hidden));
$('start-cancel').addEventListener('click', () => showStartForm(false));
$('start-text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $('start-form').requestSubmit(); }
});
$('start-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (START.busy) return;
  const err = $('start-error');
  const customer = $('start-customer').value.trim();
  const name = $('start-name').value.trim();
  const queue = $('start-queue').value;
  const text = $('start-text').value;
  err.textContent = '';
  if (!customer) { err.textContent = 'Enter the customer’s id.'; return; }
  if (!text.trim()) { err.textContent = 'Write the first message.'; return; }
  const key = JSON.stringify([customer, name, queue, text]);
  if (key !== START.key || !START.msgId) {
    START.key = key;
    START.msgId = `o-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }
  const cmd = { type: 'start_chat', customer, client_msg_id: START.msgId, text };
  if (name) cmd.customer_name = name;
  if (queue) cmd.queue = queue;
  START.busy = true;
  $('start-go').disabled = true;
  request(cmd).then((data) => {
    START.msgId = null; START.key = '';
    for (const id of ['start-customer', 'start-name', 'start-text']) $(id).value = '';
    showStartForm(false);
    if (data?.conversation) {
      if (S.chats.get(data.conversation)?.status === 'closed') S.chats.delete(data.conversation);
      chatFor(data.conversation);
      select(data.conversation);
    }
  }, (e) => {
    // The server's reason: the customer already has an open chat, you are at capacity, …
    err.textContent = `Could not start the chat: ${e.message}`;
  }).finally(() => { START.busy = false; $('start-go').disabled = false; });
});

// ------------------------------------------------------------------ chats between agents (agent_chat)
// An agent starts a chat with another agent of the org: the agent (from the directory, with its
// presence) and the first message. The ack names the conversation; `joined` and the log follow,
// and the other agent gets an invitation (internal) to accept or reject. No customer, and neither
// seat counts against max_chats. One client_msg_id per attempt at the same form content, as for
// Start a chat.
const AGENT_CHAT = { msgId: null, key: '', busy: false };
/** The agent picker: every other agent of the org, with its presence as the directory saw it. */
function drawAgentPicker() {
  const sel = $('agent-chat-to');
  const agents = S.me ? S.directory.agents.filter((a) => a.id !== S.me.agent) : [];
  const want = JSON.stringify(agents.map((a) => [a.id, a.name, a.presence]));
  if (sel.dataset.drawn === want) return;
  sel.dataset.drawn = want;
  const keep = sel.value;
  sel.replaceChildren(h('option', { value: '', text: 'Choose an agent…' }),
    ...agents.map((a) => h('option', { value: a.id, 'data-presence': a.presence, text: `${a.name} – ${a.presence}` })));
  sel.value = agents.some((a) => a.id === keep) ? keep : '';
}
async function refreshAgentPicker() {
  try { S.directory = await api('/v1/directory'); } catch { /* keep the last known */ }
  drawAgentPicker();
}
function showAgentChatForm(show) {
  $('agent-chat-form').hidden = !show;
  $('agent-chat-open').setAttribute('aria-expanded', show ? 'true' : 'false');
  if (show) { drawAgentPicker(); refreshAgentPicker(); $('agent-chat-to').focus(); } else $('agent-chat-error').textContent = '';
}
$('agent-chat-open').addEventListener('click', () => showAgentChatForm($('agent-chat-form').hidden));
$('agent-chat-cancel').addEventListener('click', () => showAgentChatForm(false));
$('agent-chat-text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $('agent-chat-form').requestSubmit(); }
});
$('agent-chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (AGENT_CHAT.busy) return;
  const err = $('agent-chat-error');
  const to = $('agent-chat-to').value;
  const text = $('agent-chat-text').value;
  err.textContent = '';
  if (!to) { err.textContent = 'Choose an agent.'; return; }
  if (!text.trim()) { err.textContent = 'Write the first message.'; return; }
  const key = JSON.stringify([to, text]);
  if (key !== AGENT_CHAT.key || !AGENT_CHAT.msgId) {
    AGENT_CHAT.key = key;
    AGENT_CHAT.msgId = `a-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  }
  AGENT_CHAT.busy = true;
  $('agent-chat-go').disabled = true;
  request({ type: 'agent_chat', to_agent: to, client_msg_id: AGENT_CHAT.msgId, text }).then((data) => {
    AGENT_CHAT.msgId = null; AGENT_CHAT.key = '';
    $('agent-chat-text').value = '';
    $('agent-chat-to').value = '';
    showAgentChatForm(false);
    if (data?.conversation) {
      if (S.chats.get(data.conversation)?.status === 'closed') S.chats.delete(data.conversation);
      const c = chatFor(data.conversation);
      // Known before its log comes: the pane and the list name the other agent at once.
      if (!c.events.length) { c.agentChat = true; c.initiatedBy = S.me?.agent || null; c.peer = to; }
      select(data.conversation);
    }
  }, (e) => {
    // The server's reason: the agent is offline, …
    err.textContent = `Could not start the chat: ${e.message}`;
    if (e.code === 'unavailable') refreshAgentPicker();
  }).finally(() => { AGENT_CHAT.busy = false; $('agent-chat-go').disabled = false; });
});

// ------------------------------------------------------------------ reports (issue 14)
// Supervisors and admins: per queue and per agent figures of the chats that ended between two
// days (GET /v1/reports/queues and /v1/reports/agents, PROTOCOL §9.10), drawn as two tables, and
// each downloadable as CSV. Opened from the top bar; loaded when opened and on Show.
const REPORTS = {
  kinds: [
    { kind: 'queues', key: 'queue', label: 'Queue', name: (id) => queueName(id) },
    { kind: 'agents', key: 'agent', label: 'Agent', name: (id) => agentName(id) },
  ],
  columns: [
    ['handled', 'Handled'], ['abandoned', 'Abandoned'], ['wait_avg_ms', 'Avg wait', 'time'],
    ['wait_p90_ms', 'p90 wait', 'time'], ['first_response_avg_ms', 'Avg first response', 'time'],
    ['handle_avg_ms', 'Avg handle time', 'time'], ['transfers', 'Transfers'], ['surveys', 'Surveys'], ['nps', 'NPS'],
    // The bot's share (issue 15): per queue and in the total only — an agent's row counts people's handling.
    ['bot_only', 'Bot only', 'count', 'queues'], ['handed_over', 'Handed over', 'count', 'queues'],
    ['bot_avg_ms', 'Avg bot time', 'time', 'queues'],
  ],
  gen: 0, // bumped on every load and on sign-out: older answers are dropped
  loads: 0,
};

/** A UTC day `daysAgo` days before today, as a date input holds it. */
function reportDay(daysAgo) {
  return new Date(Date.now() - daysAgo * 86400000).toISOString().slice(0, 10);
}

/** A figure as shown: times as "4.2 s", "42 s" or "3:05", nothing measured as "–". */
function reportFigure(value, type) {
  if (value === null || value === undefined) return '–';
  if (type !== 'time') return String(value);
  if (value < 10000) return `${(value / 1000).toFixed(1)} s`;
  return value < 60000 ? `${Math.round(value / 1000)} s` : mmss(value);
}

function reportQuery() {
  return `from=${encodeURIComponent($('reports-from').value)}&to=${encodeURIComponent($('reports-to').value)}`;
}

function drawReport({ kind, key, label, name }, data) {
  const columns = REPORTS.columns.filter(([, , , only]) => !only || only === kind);
  const cells = (f) => columns.map(([col, , type]) => h('td', { 'data-col': col, text: reportFigure(f[col], type) }));
  const rows = (data?.rows || []).map((r) => h('tr', { t: `report-${key}-row`, 'data-id': r[key] },
    h('td', { title: r[key], text: name(r[key]) }), cells(r)));
  $(`report-${kind}`).replaceChildren(
    h('thead', {}, h('tr', {}, h('th', { text: label }), columns.map(([, title]) => h('th', { text: title })))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { class: 'muted', colspan: String(columns.length + 1), text: 'No finished chats in these days.' }))),
    data ? h('tfoot', {}, h('tr', { t: 'report-total' }, h('td', { text: 'Total' }), cells(data.total))) : null);
}

async function loadReports() {
  if (!S.me || !supervisor()) return;
  const gen = ++REPORTS.gen;
  $('reports-error').textContent = '';
  try {
    const answers = await Promise.all(REPORTS.kinds.map((k) => api(`/v1/reports/${k.kind}?${reportQuery()}`)));
    if (gen !== REPORTS.gen) return;
    REPORTS.kinds.forEach((k, i) => drawReport(k, answers[i]));
    // Answers so far (tests wait for a new one).
    $('reports').setAttribute('data-loads', String(++REPORTS.loads));
  } catch (e) {
    if (gen === REPORTS.gen) $('reports-error').textContent = `Could not load the reports: ${e.message}`;
  }
}

/** Saves one report as CSV (the server's file, with the caller's token). */
async function downloadReport(kind, button) {
  button.disabled = true;
  $('reports-error').textContent = '';
  try {
    const r = await fetch(`/v1/reports/${kind}?${reportQuery()}&format=csv`, { headers: { authorization: `Bearer ${S.token}` }, cache: 'no-store' });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      throw new Error(j.error?.message || r.statusText);
    }
    saveBlob(await r.blob(), `report-${kind}-${$('reports-from').value}-${$('reports-to').value}.csv`, $('reports'));
  } catch (e) {
    $('reports-error').textContent = `Could not download the report: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

function showReports(open) {
  $('reports').hidden = !open;
  $('reports-open').setAttribute('aria-expanded', String(open));
  if (!open) {
    REPORTS.gen++;
    for (const k of REPORTS.kinds) $(`report-${k.kind}`).replaceChildren();
    return;
  }
  // The last 7 days by default.
  if (!$('reports-to').value) $('reports-to').value = reportDay(0);
  if (!$('reports-from').value) $('reports-from').value = reportDay(6);
  loadReports();
}

$('reports-open').addEventListener('click', () => showReports($('reports').hidden));
$('reports-close').addEventListener('click', () => showReports(false));
$('reports-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadReports(); });
for (const { kind } of REPORTS.kinds) {
  $(`reports-csv-${kind}`).addEventListener('click', (ev) => downloadReport(kind, ev.currentTarget));
}

// Test and support hook: drop the connection (the console reconnects and resumes by itself).
window.switchboardConsole = {
  drop() { sock.drop(); },
  connected() { return sock.ready; },
  /** The last seq this page has of a chat (0 if none): tests wait on it. */
  lastSeq(id) { return S.chats.get(id)?.lastSeq || 0; },
};

// Start: a token in the URL fragment (#token=…), else the one this tab signed in with.
{
  const frag = new URLSearchParams(location.hash.slice(1));
  const saved = restore();
  if (frag.get('token')) {
    history.replaceState(null, '', location.pathname + location.search);
    signIn(frag.get('token'));
  } else if (saved?.token) {
    for (const id of saved.chats || []) chatFor(id);
    for (const id of saved.viewing || []) { const c = S.chats.get(id); if (c) c.viewing = true; }
    S.selected = saved.selected && S.chats.has(saved.selected) ? saved.selected : S.selected;
    signIn(saved.token);
  } else {
    $('signin').hidden = false;
  }
}

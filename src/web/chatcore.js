/*
 * Switchboard chat core: what the customer widget (widget.js) and the agent console (console.js)
 * share. There is no build step: src/api/assets.rs serves this file in front of each of them, so
 * that `/widget.js` (a retailer's single <script> tag) and `/console.js` stay one file each.
 *
 * It declares one name, SwitchboardCore, and it never reaches the page's globals: the widget's
 * bundle is wrapped in a function by assets.rs, and the console is an ES module (module scope).
 *
 *   SwitchboardCore.renderText(el, text)                   chat text into the DOM, as text only
 *   SwitchboardCore.urlLink(url)                           a pushed URL: a link showing its address
 *   SwitchboardCore.clientMsgId(prefix)                    a fresh client_msg_id
 *   SwitchboardCore.resumePoint(conversation, lastSeq, epoch)   a `resume` entry (hello, resume)
 *   SwitchboardCore.order(lastSeq, frame)                  'seen' | 'gap' | 'next' for an event
 *   new SwitchboardCore.ChatSocket(options)                /v1/ws: hello, requests, resume, reconnects
 *   new SwitchboardCore.Outbox(options)                    un-acked sends, retried under their id
 *
 * DESIGN invariant 7 (customers never see agent-only content; pages insert chat text as text)
 * holds on the pages through renderText: everything a person typed goes into the DOM as text
 * nodes, never as HTML, and the only element it makes is a link whose text is its real address.
 * The protocol rules (docs/PROTOCOL.md §1.2 hello, §3 request ids and acks, §4.3 retried sends
 * under the same client_msg_id, §7 ordering and resume) live in the socket and the outbox.
 */
var SwitchboardCore = (function () {
  'use strict';

  function own(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  /** An Error with the protocol's error code (`disconnected` for a lost or missing socket). */
  function failure(code, message) {
    var e = new Error(message);
    e.code = code;
    return e;
  }

  // ---------------------------------------------------------------- text

  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

  /**
   * Appends `text` to `el` as text nodes. An http(s) address becomes a link (new tab, no referrer,
   * no opener) whose text is the address itself, so what a link says is where it goes; trailing
   * punctuation stays outside it. Nothing else is ever markup: no innerHTML anywhere.
   */
  function renderText(el, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      var url = m[0].replace(/[.,;:!?)\]}]+$/, '');
      if (!url) continue;
      el.appendChild(document.createTextNode(text.slice(last, m.index)));
      var ok = false;
      try { ok = /^https?:$/.test(new URL(url).protocol); } catch (e) { ok = false; }
      if (ok) {
        var a = document.createElement('a');
        a.setAttribute('href', url);
        a.setAttribute('target', '_blank');
        a.setAttribute('rel', 'noopener noreferrer nofollow');
        a.textContent = url;
        el.appendChild(a);
      } else {
        el.appendChild(document.createTextNode(url));
      }
      last = m.index + url.length;
      URL_RE.lastIndex = last;
    }
    el.appendChild(document.createTextNode(text.slice(last)));
  }

  /**
   * A pushed URL (PROTOCOL §4.30) as a link whose text is the whole address: opened only by a
   * click, in a new tab, without a referrer or an opener. Anything but http(s) stays plain text
   * (the server refuses other schemes; this is the page's own check).
   */
  function urlLink(url) {
    var ok = false;
    try { ok = /^https?:$/.test(new URL(url).protocol); } catch (e) { ok = false; }
    if (!ok) return document.createTextNode(String(url));
    var a = document.createElement('a');
    a.setAttribute('href', url);
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer nofollow');
    a.textContent = url;
    return a;
  }

  // ---------------------------------------------------------------- ids, sequence numbers

  /** A fresh client_msg_id (PROTOCOL §4.3: 1–64 printable ASCII characters, no spaces). */
  function clientMsgId(prefix) {
    return (prefix || 'm') + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  /** Where to resume a conversation from (PROTOCOL §7.3): the last seq received, in its epoch. */
  function resumePoint(conversation, lastSeq, epoch) {
    return { conversation: conversation, last_seq: lastSeq, epoch: epoch || undefined };
  }

  /**
   * An event frame against the last seq held for its conversation (PROTOCOL §7.2): 'seen' (a
   * duplicate: ignore it), 'gap' (something is missing: resume from the last seq, the server
   * replays it) or 'next' (apply it, then hold its seq and epoch).
   */
  function order(lastSeq, f) {
    if (f.seq <= lastSeq) return 'seen';
    if (f.prev !== lastSeq) return 'gap';
    return 'next';
  }

  // ---------------------------------------------------------------- the socket

  /**
   * One websocket to the server (PROTOCOL §1.2): opens with a `hello`, matches requests to their
   * `ack` or `error` by id, and reconnects by itself after a close (300 ms after a signed-in
   * socket closed, else with a back-off doubling from 500 ms to 8 s), each time with a fresh
   * `hello` whose resume points the client supplies. The browser answers the server's heartbeat
   * pings by itself (§1.3).
   *
   * options:
   *   url               the websocket address (…/v1/ws)
   *   hello()           the hello's fields besides type and id: { token, resume: [resumePoint] }
   *   canConnect()      optional: false holds the socket closed (no token yet)
   *   onConnecting()    optional: a new socket is being opened
   *   onHello(frame)    the hello's `ack` or `error`. On an ack the client checks it and calls
   *                     signedIn(); on an error, refused(err) or stop()
   *   onEvent(frame), onSignal(frame)
   *   onClose(wasReady) optional: the socket closed; pending requests were rejected with code
   *                     `disconnected`; a reconnect follows unless the hello was refused
   *   notConnected      the message of the error a request gets while not signed in
   *
   * Errors are Error objects with the protocol's `code` (`disconnected` for a lost socket).
   */
  function ChatSocket(options) {
    this.options = options;
    this.ws = null;
    /** Signed in: requests can be sent. */
    this.ready = false;
    /** No connecting (signed out, or held down by a test) until start(). */
    this.stopped = false;
    /** The hello was refused: no reconnect until whenReady() asks again. */
    this.refusedHello = false;
    this.next = 1;
    this.pending = Object.create(null);
    this.waiters = [];
    this.backoff = 500;
    this.timer = null;
  }

  /** Opens the socket unless it is open, stopped, or options.canConnect() says no. */
  ChatSocket.prototype.connect = function () {
    var self = this, o = this.options;
    if (this.ws || this.stopped || (o.canConnect && !o.canConnect())) return;
    var ws = new WebSocket(o.url);
    this.ws = ws;
    if (o.onConnecting) o.onConnecting();
    ws.onopen = function () {
      var hello = { type: 'hello', id: 'hello' };
      var fields = o.hello();
      for (var k in fields) if (own(fields, k)) hello[k] = fields[k];
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (m) {
      if (ws !== self.ws) return;
      var f;
      try { f = JSON.parse(m.data); } catch (e) { return; }
      self.onFrame(f);
    };
    ws.onclose = function () {
      if (ws !== self.ws) return;
      self.ws = null;
      var wasReady = self.ready;
      self.ready = false;
      var pending = self.pending;
      self.pending = Object.create(null);
      Object.keys(pending).forEach(function (id) { pending[id].reject(failure('disconnected', 'connection lost')); });
      if (o.onClose) o.onClose(wasReady);
      if (self.refusedHello) return;
      var wait = wasReady ? 300 : self.backoff;
      self.backoff = Math.min(self.backoff * 2, 8000);
      clearTimeout(self.timer);
      self.timer = setTimeout(function () { self.connect(); }, wait);
    };
  };

  ChatSocket.prototype.onFrame = function (f) {
    var o = this.options;
    if (f.type === 'ack' || f.type === 'error') {
      if (f.id === 'hello') return o.onHello(f);
      var p = this.pending[f.id];
      if (p) {
        delete this.pending[f.id];
        if (f.type === 'ack') p.resolve(f.data || {}); else p.reject(failure(f.code, f.message));
      }
      return;
    }
    if (f.type === 'event') return o.onEvent(f);
    if (f.type === 'signal') return o.onSignal(f);
  };

  /** The hello was accepted: requests may go out; whoever waits in whenReady() goes on. */
  ChatSocket.prototype.signedIn = function () {
    this.ready = true;
    this.backoff = 500;
    var waiters = this.waiters;
    this.waiters = [];
    waiters.forEach(function (w) { w.resolve(); });
  };

  /**
   * The hello was refused (PROTOCOL §1.8: get a fresh token, do not retry blindly): no reconnect
   * after the server's close until whenReady() is asked again; whoever waits gets `err`.
   */
  ChatSocket.prototype.refused = function (err) {
    this.refusedHello = true;
    var waiters = this.waiters;
    this.waiters = [];
    waiters.forEach(function (w) { w.reject(err); });
  };

  /** Resolves once signed in, opening the socket if needed. */
  ChatSocket.prototype.whenReady = function () {
    var self = this;
    if (this.ready) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      self.waiters.push({ resolve: resolve, reject: reject });
      self.refusedHello = false;
      self.connect();
    });
  };

  /**
   * Sends a command with a fresh request id; resolves with its ack's data, rejects with its error
   * (or `disconnected`: not signed in, or the socket closed before the answer).
   */
  ChatSocket.prototype.request = function (cmd) {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (!self.ready) { reject(failure('disconnected', self.options.notConnected || 'Not connected.')); return; }
      var id = 'r' + (self.next++);
      var frame = {};
      for (var k in cmd) if (own(cmd, k)) frame[k] = cmd[k];
      frame.id = id;
      self.pending[id] = { resolve: resolve, reject: reject };
      self.ws.send(JSON.stringify(frame));
    });
  };

  /**
   * Asks for what was missed in a conversation after `lastSeq` of `epoch` (PROTOCOL §4.9, §7.3):
   * the server answers with a `resumed` signal and replays the events, then the ack.
   */
  ChatSocket.prototype.resume = function (conversation, lastSeq, epoch) {
    var cmd = resumePoint(conversation, lastSeq, epoch);
    return this.request({ type: 'resume', conversation: cmd.conversation, last_seq: cmd.last_seq, epoch: cmd.epoch });
  };

  /** Sends a command without a request id (fire and forget, PROTOCOL §3.1), if signed in. */
  ChatSocket.prototype.fire = function (cmd) {
    if (this.ready) this.ws.send(JSON.stringify(cmd));
  };

  /** Drops the connection; it comes back by itself (and resumes). */
  ChatSocket.prototype.drop = function () {
    if (this.ws) this.ws.close();
  };

  /** Lets go of the socket without reconnecting (pending requests stay unanswered). */
  ChatSocket.prototype.close = function () {
    var ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close();
  };

  /** Closes the socket and keeps it closed until start(). */
  ChatSocket.prototype.stop = function () {
    this.stopped = true;
    this.close();
  };

  /** Undoes stop() and connects. */
  ChatSocket.prototype.start = function () {
    this.stopped = false;
    this.connect();
  };

  // ---------------------------------------------------------------- the outbox

  var TRANSIENT = ['disconnected', 'unavailable', 'rate_limited'];

  /**
   * The messages of one conversation that the server has not acknowledged yet, each under its
   * own client_msg_id: sent once signed in, retried a second after a transient error and again
   * after every reconnect (flush()), always with the same client_msg_id, so the server stores it
   * once (PROTOCOL §4.3). An entry leaves once it is acked and its event has arrived.
   *
   * options:
   *   socket            the ChatSocket
   *   conversation()    the conversation to send to (nothing is sent while there is none)
   *   delivered(id)     true once the message event with this client_msg_id has arrived
   *   list()            optional: the array that holds the entries ({ id, text, inflight, failed }),
   *                     for a client that keeps it itself (to persist it); default: its own
   *   idPrefix          optional: the client_msg_id's first character(s)
   *   command           optional: the command that carries an entry (default `send`; the
   *                     console's internal discussion uses `internal`, same fields and retries)
   *   transient         optional: the error codes retried (default: disconnected, unavailable,
   *                     rate_limited)
   *   changed()         optional: entries were added, removed or marked failed
   *   failed(m, err)    optional: the server refused m for good; the default marks it
   *                     (m.failed = err.message) and keeps it, never retried
   */
  function Outbox(options) {
    this.options = options;
    this.own = [];
  }

  /** The entries, oldest first. */
  Outbox.prototype.items = function () {
    return this.options.list ? this.options.list() : this.own;
  };

  Outbox.prototype.changed = function () {
    if (this.options.changed) this.options.changed();
  };

  /** Queues `text` under a fresh client_msg_id and sends it if it can; returns the entry. */
  Outbox.prototype.add = function (text) {
    var m = { id: clientMsgId(this.options.idPrefix), text: text };
    this.items().push(m);
    this.changed();
    this.send(m);
    return m;
  };

  /** Sends one entry, unless offline, already in flight, or no longer queued. */
  Outbox.prototype.send = function (m) {
    var self = this, o = this.options, sock = o.socket;
    if (!sock.ready || m.inflight || !o.conversation() || this.items().indexOf(m) < 0) return;
    m.inflight = true;
    sock.request({ type: o.command || 'send', conversation: o.conversation(), client_msg_id: m.id, text: m.text }).then(function () {
      m.inflight = false;
      // The event normally arrives right after the ack; until then the entry stays.
      if (o.delivered(m.id)) self.remove(m.id);
    }, function (e) {
      m.inflight = false;
      if (!e || (o.transient || TRANSIENT).indexOf(e.code) >= 0) {
        // Retried now if still connected, else on the reconnect: the same client_msg_id.
        if (sock.ready) setTimeout(function () { self.send(m); }, 1000);
        return;
      }
      if (o.failed) { o.failed(m, e); return; }
      m.failed = e.message;
      self.changed();
    });
  };

  /** After a (re)connect: sends every entry again that has not failed for good. */
  Outbox.prototype.flush = function () {
    var self = this;
    this.items().slice().forEach(function (m) {
      m.inflight = false;
      if (!m.failed) self.send(m);
    });
  };

  /** Takes the entry with this client_msg_id out (its event arrived); true if there was one. */
  Outbox.prototype.remove = function (id) {
    var list = this.items();
    for (var i = 0; i < list.length; i++) {
      if (list[i].id === id) {
        list.splice(i, 1);
        this.changed();
        return true;
      }
    }
    return false;
  };

  return {
    version: 1,
    renderText: renderText,
    urlLink: urlLink,
    clientMsgId: clientMsgId,
    resumePoint: resumePoint,
    order: order,
    ChatSocket: ChatSocket,
    Outbox: Outbox,
  };
})();

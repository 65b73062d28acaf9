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
 *   SwitchboardCore.humanSize(bytes)                       "1.2 MB"
 *   new SwitchboardCore.UploadTray(options)                files being uploaded for the next message
 *   SwitchboardCore.renderFiles(el, attachments, options)  a message's files: thumbnails and cards
 *   new SwitchboardCore.BlobUrls()                         the object URLs a chat view made (revokeAll)
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

  /**
   * Queues `text` under a fresh client_msg_id and sends it if it can; returns the entry.
   * `extra` (optional): `attachments` (uploaded file ids, sent with the text: PROTOCOL §4.3) and
   * `files` ([{name, size}]: what the pending entry shows meanwhile).
   */
  Outbox.prototype.add = function (text, extra) {
    var m = { id: clientMsgId(this.options.idPrefix), text: text };
    if (extra && extra.attachments && extra.attachments.length) {
      m.attachments = extra.attachments.slice();
      m.files = (extra.files || []).slice();
    }
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
    var cmd = { type: o.command || 'send', conversation: o.conversation(), client_msg_id: m.id, text: m.text };
    if (m.attachments && m.attachments.length) cmd.attachments = m.attachments;
    sock.request(cmd).then(function () {
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

  // ---------------------------------------------------------------- files (PROTOCOL §9.8)
  //
  // Files travel over HTTP with the bearer token (no cookies): an upload is a raw POST (an
  // XMLHttpRequest, for its progress), then its id goes in a `send`; a file is shown by fetching
  // it with the token into a Blob and an object URL (an <img src> cannot carry the token).
  // The widget and the console draw the same elements; `hook` is their test attribute (data-sb,
  // data-t) and `cls` their class prefix ('sb-', ''). File names go in as text only.

  /** The raster types the server serves inline (`?inline=1`): thumbnails. SVG never. */
  var THUMB_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/bmp', 'image/webp'];
  /** The most attachments one message carries (PROTOCOL §4.3). */
  var MAX_FILES_PER_MESSAGE = 10;

  /** 1536 → "1.5 KB". */
  function humanSize(n) {
    n = Number(n) || 0;
    if (n < 1024) return n + ' B';
    var units = ['KB', 'MB', 'GB'], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + units[i];
  }

  /** "PDF" for "invoice.pdf" (the card's icon), "FILE" without an extension. */
  function extLabel(name) {
    var m = /\.([A-Za-z0-9]{1,5})$/.exec(String(name || ''));
    return m ? m[1].toUpperCase() : 'FILE';
  }

  function mk(tag, cls, hookAttr, hook, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (hook) el.setAttribute(hookAttr, hook);
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  /** An HTTP error answer as an Error with the protocol's code and the HTTP status. */
  function httpFailure(status, body, fallback) {
    var err = body && body.error;
    var e = failure((err && err.code) || 'http_' + status, (err && err.message) || fallback);
    e.status = status;
    return e;
  }

  /**
   * Uploads one File (POST /v1/conversations/{id}/attachments?name=…) with progress.
   * Returns { promise, abort }: the promise resolves with the server's `attachment` object and
   * rejects with an Error carrying the server's code and message (or `disconnected`, `aborted`).
   */
  function uploadFile(server, token, conversation, file, progress) {
    var xhr = new XMLHttpRequest();
    var promise = new Promise(function (resolve, reject) {
      xhr.open('POST', server + '/v1/conversations/' + encodeURIComponent(conversation) +
        '/attachments?name=' + encodeURIComponent(file.name));
      xhr.setRequestHeader('Authorization', 'Bearer ' + token);
      xhr.upload.onprogress = function (ev) { if (progress) progress(ev.loaded, ev.lengthComputable ? ev.total : file.size); };
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 201 && body && body.attachment) resolve(body.attachment);
        else reject(httpFailure(xhr.status, body, 'The upload failed (HTTP ' + xhr.status + ').'));
      };
      xhr.onerror = function () { reject(failure('disconnected', 'The upload failed: the connection was lost (or the file is too large).')); };
      xhr.onabort = function () { reject(failure('aborted', 'Upload cancelled.')); };
      xhr.send(file);
    });
    return { promise: promise, abort: function () { xhr.abort(); } };
  }

  function attachmentUrl(server, id, inline) {
    return server + '/v1/attachments/' + encodeURIComponent(id) + (inline ? '?inline=1' : '');
  }

  /** GET /v1/attachments/{id} with the token → a Blob; rejects with the code and `status`. */
  function fetchFile(server, token, id, inline) {
    return fetch(attachmentUrl(server, id, inline), { headers: { authorization: 'Bearer ' + token }, credentials: 'omit', cache: 'no-store' })
      .then(function (r) {
        if (r.ok) return r.blob();
        return r.json().catch(function () { return null; }).then(function (b) { throw httpFailure(r.status, b, 'The file could not be fetched.'); });
      });
  }

  /**
   * The file's state without its bytes (GET /v1/attachments/{id}/meta), as the status its
   * download would answer: 200 clean, 409 still being scanned, 410 blocked, 404 not readable.
   */
  function probeFile(server, token, id) {
    var url = server + '/v1/attachments/' + encodeURIComponent(id) + '/meta';
    return fetch(url, { headers: { authorization: 'Bearer ' + token }, credentials: 'omit', cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) return r.status;
        return r.json().then(function (b) {
          var s = b && b.attachment && b.attachment.state;
          return s === 'clean' ? 200 : s === 'pending' ? 409 : s === 'rejected' ? 410 : 500;
        }, function () { return 500; });
      });
  }

  /** The object URLs one chat view made: revokeAll() when the view goes away. */
  function BlobUrls() { this.urls = []; this.closed = false; }
  BlobUrls.prototype.make = function (blob) {
    var u = URL.createObjectURL(blob);
    this.urls.push(u);
    return u;
  };
  BlobUrls.prototype.revokeAll = function () {
    this.closed = true;
    this.urls.forEach(function (u) { URL.revokeObjectURL(u); });
    this.urls = [];
  };

  /** Saves a Blob under `name` (a download, not a navigation). */
  function saveBlob(blob, name, near) {
    var u = URL.createObjectURL(blob);
    var a = document.createElement('a');
    a.href = u;
    a.download = name || 'file';
    a.rel = 'noopener';
    a.style.display = 'none';
    (near || document.body).appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(u); }, 60000);
  }

  var RETRY_MS = [1000, 2000, 3000, 5000, 8000, 13000, 20000, 30000];

  /**
   * A message's files into `el`: each a card (type icon, name, size, Download button that fetches
   * with the token and saves under the file's name), raster images with a thumbnail above it
   * (a link to the full image in a new tab). A file still being scanned says "Scanning…" and is
   * asked again later; one the scanner rejected is shown broken ("File blocked"), one gone "File
   * not available".
   *
   * options: server, token() (the bearer token), urls (a BlobUrls), hook ('data-sb' | 'data-t'),
   *          cls (class prefix)
   */
  function renderFiles(el, attachments, o) {
    var P = o.cls || '';
    var box = mk('div', P + 'files', o.hook, 'files');
    (attachments || []).forEach(function (a) { box.appendChild(fileItem(a, o)); });
    el.appendChild(box);
    return box;
  }

  function fileItem(a, o) {
    var P = o.cls || '', H = o.hook;
    var item = mk('div', P + 'file', H, 'file');
    item.setAttribute('data-attachment', a.id);
    item.setAttribute('data-state', 'loading');
    var isImage = THUMB_TYPES.indexOf(a.type) >= 0;
    var thumb = null;
    if (isImage) {
      thumb = mk('a', P + 'file-thumb', H, 'file-thumb');
      thumb.setAttribute('target', '_blank');
      thumb.setAttribute('rel', 'noopener noreferrer');
      thumb.setAttribute('aria-label', 'Open image ' + a.name);
      item.appendChild(thumb);
    }
    var card = mk('div', P + 'file-card');
    var icon = mk('span', P + 'file-icon', null, null, extLabel(a.name));
    icon.setAttribute('aria-hidden', 'true');
    var info = mk('span', P + 'file-info');
    var name = mk('span', P + 'file-name', H, 'file-name', a.name);
    name.setAttribute('title', a.name);
    var size = mk('span', P + 'file-size', H, 'file-size', humanSize(a.size));
    var status = mk('span', P + 'file-status', H, 'file-status');
    status.setAttribute('role', 'status');
    info.appendChild(name); info.appendChild(size); info.appendChild(status);
    var dl = mk('button', P + 'file-download', H, 'file-download', 'Download');
    dl.type = 'button';
    dl.setAttribute('aria-label', 'Download ' + a.name);
    card.appendChild(icon); card.appendChild(info); card.appendChild(dl);
    item.appendChild(card);

    var tries = 0, retry = null;
    function state(s, text) {
      item.setAttribute('data-state', s);
      status.textContent = text || '';
      item.classList.toggle(P + 'file-broken', s === 'blocked' || s === 'gone');
      dl.hidden = s === 'blocked' || s === 'gone';
      if (s === 'blocked' || s === 'gone') {
        icon.textContent = '\u26a0';
        if (thumb) { thumb.remove(); thumb = null; }
      }
    }
    function failed(e) {
      var st = e && e.status;
      if (st === 409) {
        state('pending', 'Scanning\u2026');
        var wait = RETRY_MS[Math.min(tries++, RETRY_MS.length - 1)];
        clearTimeout(retry);
        if (tries <= 40) retry = setTimeout(function () { if (!o.urls.closed) check(); }, wait);
      } else if (st === 410) state('blocked', 'File blocked');
      else if (st === 404) state('gone', 'File not available');
      else state('error', (e && e.message) || 'The file could not be loaded.');
    }
    function check() {
      var token = o.token();
      if (!token || o.urls.closed) return;
      if (isImage) {
        fetchFile(o.server, token, a.id, true).then(function (blob) {
          if (o.urls.closed || !thumb) return;
          var u = o.urls.make(blob);
          var img = document.createElement('img');
          img.alt = a.name;
          img.className = P + 'file-img';
          var fellBack = false;
          img.onerror = function () {
            // A page whose CSP refuses blob: images: the same bytes as a data: URL, once.
            if (fellBack) { if (thumb) { thumb.remove(); thumb = null; } return; }
            fellBack = true;
            var r = new FileReader();
            r.onload = function () { img.src = String(r.result); };
            r.readAsDataURL(blob);
          };
          img.src = u;
          thumb.href = u;
          thumb.appendChild(img);
          state('ready');
        }, failed);
      } else {
        probeFile(o.server, token, a.id).then(function (st) {
          if (st === 200) state('ready');
          else failed({ status: st });
        }, function () { state('error', 'The file could not be checked.'); });
      }
    }
    dl.addEventListener('click', function () {
      var token = o.token();
      if (!token) return;
      dl.disabled = true;
      var was = status.textContent;
      status.textContent = 'Downloading\u2026';
      fetchFile(o.server, token, a.id, false).then(function (blob) {
        dl.disabled = false;
        status.textContent = was === 'Downloading\u2026' ? '' : was;
        saveBlob(blob, a.name, item);
      }, function (e) {
        dl.disabled = false;
        tries = 0;
        failed(e);
      });
    });
    check();
    return item;
  }

  /**
   * The files chosen for the next message: each uploads at once, with a progress bar, into the
   * conversation; a refusal shows the server's message on that file, with its Remove button.
   * take() hands over the ids of the files that uploaded (waiting for those still uploading) and
   * leaves the refused ones in the tray.
   *
   * options: el (the list element drawn into), server, token(), conversation(), hook, cls,
   *          check(file) (optional: an error message to refuse a file before uploading),
   *          changed() (optional)
   */
  function UploadTray(o) {
    this.o = o;
    this.items = [];
  }
  UploadTray.prototype.add = function (files) {
    var self = this, o = this.o;
    Array.prototype.forEach.call(files || [], function (file) {
      var it = { file: file, name: file.name, size: file.size, loaded: 0, state: 'uploading', error: null, attachment: null, upload: null };
      var early = o.check ? o.check(file) : null;
      var conv = o.conversation(), token = o.token();
      if (!early && (!conv || !token)) early = 'Not connected: try again in a moment.';
      if (early) {
        it.state = 'failed'; it.error = early;
        it.promise = Promise.resolve(null);
      } else {
        it.upload = uploadFile(o.server, token, conv, file, function (loaded) { it.loaded = loaded; self.progress(it); });
        it.promise = it.upload.promise.then(function (att) {
          it.state = 'done'; it.attachment = att; it.loaded = it.size;
          self.draw();
          return att;
        }, function (e) {
          if (it.state === 'removed') return null;
          it.state = 'failed'; it.error = (e && e.message) || 'The upload failed.';
          self.draw();
          return null;
        });
      }
      self.items.push(it);
    });
    this.draw();
  };
  /** Files that will go with the next message (uploading or uploaded, not refused, not taken). */
  UploadTray.prototype.has = function () {
    return this.items.some(function (it) { return (it.state === 'uploading' || it.state === 'done') && !it.taken; });
  };
  /** Resolves with [{id, name, size}] of the files uploaded; they leave the tray. */
  UploadTray.prototype.take = function () {
    var self = this;
    var batch = this.items.filter(function (it) { return (it.state === 'uploading' || it.state === 'done') && !it.taken; });
    batch.forEach(function (it) { it.taken = true; });
    this.draw();
    return Promise.all(batch.map(function (it) { return it.promise; })).then(function (atts) {
      var out = [];
      batch.forEach(function (it, i) {
        if (atts[i]) { out.push({ id: atts[i].id, name: atts[i].name, size: atts[i].size }); self.drop(it); }
        else it.taken = false;
      });
      self.draw();
      return out;
    });
  };
  UploadTray.prototype.drop = function (it) {
    var i = this.items.indexOf(it);
    if (i >= 0) this.items.splice(i, 1);
  };
  UploadTray.prototype.remove = function (it) {
    if (it.state === 'uploading' && it.upload) { it.state = 'removed'; it.upload.abort(); }
    this.drop(it);
    this.draw();
  };
  /** Drops everything (the chat view went away): uploads in flight are cancelled. */
  UploadTray.prototype.clear = function () {
    this.items.forEach(function (it) { if (it.state === 'uploading' && it.upload) { it.state = 'removed'; it.upload.abort(); } });
    this.items = [];
    this.draw();
  };
  UploadTray.prototype.progress = function (it) {
    if (it.bar) it.bar.value = it.loaded;
  };
  UploadTray.prototype.draw = function () {
    var self = this, o = this.o, P = o.cls || '', H = o.hook, el = o.el;
    while (el.firstChild) el.removeChild(el.firstChild);
    el.hidden = !this.items.length;
    this.items.forEach(function (it) {
      var li = mk('li', P + 'upload ' + P + 'upload-' + it.state, H, 'upload');
      li.setAttribute('data-state', it.taken && it.state !== 'failed' ? 'sending' : it.state);
      var name = mk('span', P + 'upload-name', H, 'upload-name', it.name);
      name.setAttribute('title', it.name);
      li.appendChild(name);
      li.appendChild(mk('span', P + 'upload-size', null, null, humanSize(it.size)));
      if (it.state === 'uploading') {
        var bar = mk('progress', P + 'upload-bar', H, 'upload-progress');
        bar.max = it.size || 1;
        bar.value = it.loaded;
        bar.setAttribute('aria-label', 'Uploading ' + it.name);
        it.bar = bar;
        li.appendChild(bar);
      } else {
        it.bar = null;
      }
      var note = it.state === 'failed' ? it.error : it.taken ? 'Sending\u2026'
        : it.state === 'done' ? (it.attachment && it.attachment.state === 'pending' ? 'Ready to send (being scanned)' : 'Ready to send') : '';
      var msg = mk('span', P + 'upload-status', H, it.state === 'failed' ? 'upload-error' : 'upload-status', note);
      if (it.state === 'failed') msg.setAttribute('role', 'alert');
      li.appendChild(msg);
      if (!it.taken) {
        var rm = mk('button', P + 'upload-remove', H, 'upload-remove', '\u00d7');
        rm.type = 'button';
        rm.setAttribute('aria-label', 'Remove ' + it.name);
        rm.addEventListener('click', function () { self.remove(it); });
        li.appendChild(rm);
      }
      el.appendChild(li);
    });
    if (o.changed) o.changed();
  };

  /**
   * Splits uploaded files into messages of at most 10; the caption goes with the first.
   * Returns [{ text, attachments: [ids], files: [{name, size}] }].
   */
  function fileMessages(text, files) {
    var out = [];
    for (var i = 0; i < files.length; i += MAX_FILES_PER_MESSAGE) {
      var part = files.slice(i, i + MAX_FILES_PER_MESSAGE);
      out.push({
        text: i === 0 ? text : '',
        attachments: part.map(function (f) { return f.id; }),
        files: part.map(function (f) { return { name: f.name, size: f.size }; }),
      });
    }
    return out;
  }

  /**
   * Lets files be dropped on `el` (drag-and-drop): `accept()` says whether files are taken now,
   * `onFiles(files)` gets them; `cls` marks the element while files are dragged over it.
   */
  function dropFiles(el, cls, accept, onFiles) {
    var depth = 0;
    function hasFiles(ev) {
      var t = ev.dataTransfer && ev.dataTransfer.types;
      return !!t && Array.prototype.indexOf.call(t, 'Files') >= 0;
    }
    el.addEventListener('dragenter', function (ev) {
      if (!hasFiles(ev) || !accept()) return;
      ev.preventDefault();
      depth++;
      el.classList.add(cls);
    });
    el.addEventListener('dragover', function (ev) {
      if (!hasFiles(ev) || !accept()) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
    });
    el.addEventListener('dragleave', function () {
      depth = Math.max(0, depth - 1);
      if (!depth) el.classList.remove(cls);
    });
    el.addEventListener('drop', function (ev) {
      depth = 0;
      el.classList.remove(cls);
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      if (!accept()) return;
      if (ev.dataTransfer.files && ev.dataTransfer.files.length) onFiles(ev.dataTransfer.files);
    });
  }

  return {
    version: 1,
    renderText: renderText,
    urlLink: urlLink,
    clientMsgId: clientMsgId,
    resumePoint: resumePoint,
    order: order,
    ChatSocket: ChatSocket,
    Outbox: Outbox,
    humanSize: humanSize,
    uploadFile: uploadFile,
    fetchFile: fetchFile,
    BlobUrls: BlobUrls,
    renderFiles: renderFiles,
    saveBlob: saveBlob,
    UploadTray: UploadTray,
    fileMessages: fileMessages,
    dropFiles: dropFiles,
  };
})();

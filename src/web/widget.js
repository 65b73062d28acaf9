/*
 * Switchboard chat widget. A retailer embeds it with one tag, before </body>:
 * (Over 500 lines because it is a whole page with no build step: form, reasons, chat, survey,
 * reload resume; the socket, outbox and text rendering are shared in chatcore.js.)
 *
 *   <script src="https://CHAT-SERVER/widget.js" data-org="ORG" async></script>
 *
 * Optional attributes: data-customer-token (a verified-customer token signed by the retailer's
 * backend: no pre-chat form), data-title, data-launcher, data-greeting, data-color.
 * Or call window.Switchboard.identify(token) once the shopper has signed in.
 *
 * It speaks only the documented REST API (/v1/orgs/{org}/..., and files: /v1/conversations/{id}/
 * attachments, /v1/attachments/{id}, with the customer's token) and websocket protocol (/v1/ws).
 * Everything a person typed is put in the page as text (textContent), never as HTML; links are
 * shown with their real address.
 *
 * Served as one file: src/api/assets.rs puts chatcore.js (SwitchboardCore: the text rendering,
 * the socket and the outbox it shares with the agent console) in front of this file, both inside
 * one function, so nothing but window.Switchboard reaches the retailer's page.
 */
(function (core) {
  'use strict';
  if (window.Switchboard && window.Switchboard.version) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-org]');
  if (!script) return;
  var SERVER = new URL(script.src, location.href).origin;
  var WS_URL = SERVER.replace(/^http/, 'ws') + '/v1/ws';
  var ORG = script.getAttribute('data-org') || 'demo';
  var TEXT = {
    title: script.getAttribute('data-title') || 'Chat with us',
    launcher: script.getAttribute('data-launcher') || 'Chat with us',
    greeting: script.getAttribute('data-greeting') || 'Hi! Tell us a little about yourself and we\u2019ll connect you with someone from our team.',
  };
  var COLOR = script.getAttribute('data-color');
  var STORE_KEY = 'switchboard:' + SERVER + ':' + ORG;
  var MAX_STORED_EVENTS = 400;

  // ---------------------------------------------------------------- persistence
  function blankStore(token, verified) {
    return {
      token: token || null, verified: !!verified, name: null,
      conv: null, epoch: null, lastSeq: 0, events: [], outbox: [],
      open: false, surveyDone: false, accepted: false,
    };
  }
  function loadStore() {
    try {
      var raw = localStorage.getItem(STORE_KEY);
      if (raw) {
        var s = JSON.parse(raw);
        if (s && typeof s === 'object' && Array.isArray(s.events)) return s;
      }
    } catch (e) { /* storage unavailable: the chat still works, without reload survival */ }
    return blankStore();
  }
  var store = loadStore();
  function save() {
    if (store.events.length > MAX_STORED_EVENTS) store.events = store.events.slice(-MAX_STORED_EVENTS);
    try { localStorage.setItem(STORE_KEY, JSON.stringify(store)); } catch (e) { /* ignore */ }
  }

  // ---------------------------------------------------------------- DOM helpers (no innerHTML)
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      for (var k in props) {
        if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
        var v = props[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else if (k === 'sb') el.setAttribute('data-sb', v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  /** Chat text into the page as text nodes; http(s) addresses as links that show themselves. */
  var renderText = core.renderText;
  function clock(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // ---------------------------------------------------------------- shell
  var host = h('div', { id: 'switchboard-widget' });
  var root = host.attachShadow({ mode: 'open' });
  root.appendChild(h('link', { rel: 'stylesheet', href: SERVER + '/widget.css' }));
  var frame = h('div', { class: 'sb', sb: 'root' });
  if (COLOR && /^#[0-9a-fA-F]{3,8}$/.test(COLOR)) frame.style.setProperty('--sb-accent', COLOR);
  root.appendChild(frame);

  var launcher = h('button', { class: 'sb-launcher', type: 'button', sb: 'launcher', 'aria-expanded': 'false', onclick: function () { setOpen(!store.open); } },
    h('span', { class: 'sb-launcher-icon', 'aria-hidden': 'true' }), h('span', { class: 'sb-launcher-label', text: TEXT.launcher }),
    h('span', { class: 'sb-badge', sb: 'badge', hidden: true }));
  var titleEl = h('div', { class: 'sb-title', text: TEXT.title });
  var subEl = h('div', { class: 'sb-sub', sb: 'status' });
  var endBtn = h('button', { class: 'sb-hbtn', type: 'button', sb: 'end', hidden: true, text: 'End chat', onclick: function () { confirmEnd(); } });
  var minBtn = h('button', { class: 'sb-hbtn sb-min', type: 'button', 'aria-label': 'Minimize chat', text: '\u2013', onclick: function () { setOpen(false); } });
  var netEl = h('div', { class: 'sb-net', sb: 'net', hidden: true, text: 'Reconnecting\u2026' });
  var body = h('div', { class: 'sb-body' });
  var panel = h('section', { class: 'sb-panel', sb: 'panel', role: 'dialog', 'aria-label': TEXT.title, hidden: true },
    h('header', { class: 'sb-header' }, h('div', { class: 'sb-heading' }, titleEl, subEl), endBtn, minBtn),
    netEl, body);
  frame.appendChild(panel);
  frame.appendChild(launcher);

  function mount() { (document.body || document.documentElement).appendChild(host); }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);

  // ---------------------------------------------------------------- org settings
  var config = null;
  var configPromise = null;
  function loadConfig() {
    if (!configPromise) {
      configPromise = fetch(SERVER + '/v1/orgs/' + encodeURIComponent(ORG) + '/widget')
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw j; return j; }); })
        .then(function (c) { config = c; if (c.name) panel.setAttribute('aria-label', TEXT.title + ' \u2013 ' + c.name); return c; })
        .catch(function (e) { configPromise = null; throw e; });
    }
    return configPromise;
  }

  // ---------------------------------------------------------------- views
  var view = null;
  var chat = null; // the chat view's elements while it is shown
  function setOpen(open) {
    store.open = open; save();
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', String(open));
    frame.classList.toggle('sb-is-open', open);
    if (open) {
      unseen = 0; showBadge();
      if (!view) route();
      markRead();
    }
  }

  function route() {
    if (store.conv) { showChat(); ensureSocket(); return; }
    showLoading();
    loadConfig().then(function (c) {
      if (store.conv) return;
      // A bot-first org answers outside hours too (the bot does; "Connect to an agent" waits).
      if (!c.open_now && !c.bot) showOutsideHours(c); else showPrechat(c);
    }, function () { showError('The chat is not available right now. Please try again later.'); });
  }

  function setView(name, node) {
    if (chat) {
      // The chat view goes away: its files' object URLs are revoked, unsent uploads cancelled.
      chat.urls.revokeAll();
      chat.tray.clear();
    }
    view = name;
    if (name !== 'chat') chat = null;
    clear(body);
    body.appendChild(node);
    endBtn.hidden = !(name === 'chat' && chatOpen());
  }

  function showLoading() { subEl.textContent = ''; setView('loading', h('div', { class: 'sb-center', text: 'Loading\u2026' })); }
  function showError(msg) { setView('error', h('div', { class: 'sb-center sb-error', sb: 'error', text: msg })); }
  function showOutsideHours(c) {
    subEl.textContent = 'We\u2019re away';
    setView('closed', h('div', { class: 'sb-notice', sb: 'outside-hours', text: c.messages.outside_hours }));
  }

  // ---- pre-chat form and reason chips
  function showPrechat(c, message) {
    subEl.textContent = c.name || '';
    var needForm = !store.token;
    var err = h('div', { class: 'sb-error', sb: 'form-error', role: 'alert' });
    if (message) err.textContent = message;
    var first = h('input', { name: 'first_name', autocomplete: 'given-name', required: true, maxlength: '100' });
    var last = h('input', { name: 'last_name', autocomplete: 'family-name', required: true, maxlength: '100' });
    var email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: '254' });
    var selected = null;
    var chips = h('div', { class: 'sb-chips', sb: 'reasons', role: 'radiogroup', 'aria-label': 'Reason for your chat' });
    var pager = h('div', { class: 'sb-pager' });
    var page = c.reasons || { page: 1, pages: 0, reasons: [] };
    function drawReasons() {
      clear(chips); clear(pager);
      page.reasons.forEach(function (r) {
        var on = selected === r.id;
        chips.appendChild(h('button', {
          type: 'button', class: 'sb-chip' + (on ? ' sb-on' : ''), role: 'radio', 'aria-checked': String(on),
          'data-reason': r.id, title: r.description || null, text: r.name,
          onclick: function () { selected = r.id; drawReasons(); },
        }));
      });
      if (page.pages > 1) {
        pager.appendChild(h('button', { type: 'button', class: 'sb-link', sb: 'reasons-prev', disabled: page.page <= 1, text: '\u2039 Previous', onclick: function () { turn(page.page - 1); } }));
        pager.appendChild(h('span', { class: 'sb-muted', text: page.page + ' / ' + page.pages }));
        pager.appendChild(h('button', { type: 'button', class: 'sb-link', sb: 'reasons-next', disabled: page.page >= page.pages, text: 'Next \u203a', onclick: function () { turn(page.page + 1); } }));
      }
    }
    function turn(n) {
      fetch(SERVER + '/v1/orgs/' + encodeURIComponent(ORG) + '/reasons?page=' + n)
        .then(function (r) { return r.json(); })
        .then(function (p) { if (p && Array.isArray(p.reasons)) { page = p; drawReasons(); } });
    }
    drawReasons();
    var startBtn = h('button', { type: 'submit', class: 'sb-primary', sb: 'start', text: 'Start chat' });
    var form = h('form', { class: 'sb-form', sb: 'prechat', novalidate: true },
      h('p', { class: 'sb-greeting', text: TEXT.greeting }),
      needForm ? h('div', { class: 'sb-row' },
        h('label', null, h('span', { text: 'First name' }), first),
        h('label', null, h('span', { text: 'Last name' }), last)) : null,
      needForm ? h('label', null, h('span', { text: 'Email' }), email) : null,
      page.total ? h('fieldset', { class: 'sb-reasons' },
        h('legend', { text: c.reason_required ? 'What can we help you with?' : 'What can we help you with? (optional)' }),
        chips, pager) : null,
      err, startBtn);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      err.textContent = '';
      if (needForm && (!first.value.trim() || !last.value.trim() || !email.value.trim())) {
        err.textContent = 'Please fill in your first name, last name and email.'; return;
      }
      if (needForm && !email.checkValidity()) { err.textContent = 'Please enter a valid email address.'; return; }
      if (c.reason_required && page.total && !selected) { err.textContent = 'Please choose a reason for your chat.'; return; }
      startBtn.disabled = true;
      var got = needForm ? visitorToken(first.value, last.value, email.value) : Promise.resolve();
      got.then(function () { return startChat(selected); })
        .then(function () { /* the chat view is shown by startChat */ }, function (e) {
          startBtn.disabled = false;
          err.textContent = (e && e.message) || 'Something went wrong. Please try again.';
        });
    });
    setView('prechat', form);
    var focus = needForm ? first : startBtn;
    setTimeout(function () { try { focus.focus(); } catch (e) { /* ignore */ } }, 0);
  }

  function visitorToken(first, last, email) {
    return fetch(SERVER + '/v1/orgs/' + encodeURIComponent(ORG) + '/visitors', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ first_name: first, last_name: last, email: email }),
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw { message: (j.error && j.error.message) || 'The form could not be sent.' };
        store.token = j.token; store.verified = false; save();
      });
    });
  }

  function startChat(reason) {
    return sock.whenReady().then(function () {
      var cmd = { type: 'start', channel: 'chat', context: { page: location.href.slice(0, 500) } };
      if (reason) cmd.reason = reason;
      return request(cmd);
    }).then(function (data) {
      adopt(data.conversation);
      showChat();
    }, function (e) {
      if (e && e.code === 'outside_hours') throw { message: e.message };
      if (e && e.code === 'reason_required') throw { message: 'Please choose a reason for your chat.' };
      if (e && e.code === 'blocked') throw { message: 'Sorry, you cannot start a chat.' };
      throw e;
    });
  }

  function adopt(conv) {
    if (store.conv === conv) return;
    store.conv = conv; store.epoch = null; store.lastSeq = 0; store.events = [];
    store.outbox = []; store.surveyDone = false; save();
  }

  // ---- the conversation
  var agentName = null;
  var hadOwner = false;
  // The agents the customer sees besides the owner (conference participants, a supervisor who
  // barged in), by id, with every name a public event gave: the customer only ever receives
  // public events, so this is all public.
  var people = { conference: {}, names: {} };
  // Asynchronous chat: the last `parked` not yet followed by the customer writing again.
  var parked = false;
  var typingTimer = null;
  var position = null;
  var busyMessage = null;
  var unseen = 0;
  // "Connect to an agent": the last refusal's message (shown until the next try), and whether
  // a handover command is in flight.
  var handoverError = null;
  var handingOver = false;
  var handedOverConv = null; // the conversation whose handover was acked


  function chatOpen() {
    var ended = store.events.some(function (e) { return e.kind === 'ended'; });
    return !!store.conv && !ended;
  }

  function showChat() {
    var list = h('ol', { class: 'sb-list', sb: 'transcript', 'aria-live': 'polite' });
    var pending = h('ol', { class: 'sb-list sb-pending-list', sb: 'pending' });
    var scroller = h('div', { class: 'sb-scroll' }, list, pending);
    var queueEl = h('div', { class: 'sb-queue', sb: 'queue', hidden: true });
    var typing = h('div', { class: 'sb-typing', sb: 'typing', hidden: true });
    var idle = h('div', { class: 'sb-idle', sb: 'idle', hidden: true });
    var input = h('textarea', { class: 'sb-input', sb: 'input', rows: '1', maxlength: '4000', placeholder: 'Type a message\u2026', 'aria-label': 'Message' });
    var sendBtn = h('button', { type: 'submit', class: 'sb-send', sb: 'send', text: 'Send' });
    // Files (PROTOCOL §9.8): the paper clip or a drop on the chat; each uploads at once into the
    // tray above the composer, and goes with the next Send (the typed text as its caption).
    var fileInput = h('input', { type: 'file', multiple: true, class: 'sb-file-input', sb: 'file-input', tabindex: '-1', 'aria-hidden': 'true' });
    var attachBtn = h('button', { type: 'button', class: 'sb-attach', sb: 'attach', 'aria-label': 'Attach a file', title: 'Attach a file',
      hidden: !filesOn(), onclick: function () { fileInput.click(); } }, h('span', { class: 'sb-clip', 'aria-hidden': 'true' }));
    var trayEl = h('ul', { class: 'sb-tray', sb: 'uploads', 'aria-label': 'Files to send', hidden: true });
    var urls = new core.BlobUrls();
    var tray = new core.UploadTray({
      el: trayEl, server: SERVER, hook: 'data-sb', cls: 'sb-',
      token: function () { return store.token; },
      conversation: function () { return store.conv; },
      check: checkFile,
    });
    fileInput.addEventListener('change', function () {
      tray.add(fileInput.files);
      fileInput.value = '';
      scrollDown();
    });
    var composer = h('form', { class: 'sb-composer', sb: 'composer' }, attachBtn, fileInput, input, sendBtn);
    var after = h('div', { class: 'sb-after', sb: 'after', hidden: true });
    // Typing preview (seed 004): where the org has it on, the customer is told before typing.
    var previewNote = h('div', { class: 'sb-preview-note', sb: 'typing-preview-note', hidden: true,
      text: 'Our agents can see what you type before you send it.' });
    composer.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = input.value;
      if (!tray.has()) {
        if (!text.trim()) return;
        input.value = '';
        typingOff();
        sendMessage(text);
        return;
      }
      input.value = '';
      typingOff();
      var caption = text.trim() ? text : '';
      tray.take().then(function (files) {
        if (!files.length) { if (caption) sendMessage(caption); return; }
        core.fileMessages(caption, files).forEach(function (m) { outbox.add(m.text, m); });
        scrollDown();
      });
    });
    input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); composer.requestSubmit(); }
    });
    input.addEventListener('input', function () { if (input.value) typingOn(); else typingOff(); });
    var requestEl = h('div', { class: 'sb-request', sb: 'chat-request', hidden: true });
    // Bot-first chats (PROTOCOL §9.12): "Connect to an agent" while the bot has the chat.
    var botEl = h('div', { class: 'sb-botbar', sb: 'bot-bar', hidden: true });
    var node = h('div', { class: 'sb-chat' }, queueEl, scroller, typing, idle, requestEl, botEl, previewNote, trayEl, composer, after);
    core.dropFiles(node, 'sb-dropping', function () { return !!chat && !chat.composer.hidden && filesOn(); }, function (files) { tray.add(files); scrollDown(); });
    setView('chat', node);
    chat = { list: list, pending: pending, scroller: scroller, queue: queueEl, typing: typing, idle: idle, request: requestEl, bot: botEl, input: input, composer: composer, after: after, previewNote: previewNote, bySeq: {},
      urls: urls, tray: tray, attach: attachBtn, trayEl: trayEl };
    loadConfig().then(function () { refresh(); }, function () { /* no config: no preview */ });
    agentName = null; hadOwner = false; parked = false; people = { conference: {}, names: {} };
    handoverError = null;
    store.events.forEach(function (e) { drawEvent(e); });
    drawPending();
    refresh();
    scrollDown();
  }

  function scrollDown() { if (chat) chat.scroller.scrollTop = chat.scroller.scrollHeight; }

  // ---- files: the org's rules where the widget settings carry them (else the server says no)
  function fileRules() { return (config && config.attachments) || null; }
  function filesOn() { var r = fileRules(); return !r || r.enabled !== false; }
  function checkFile(file) {
    var r = fileRules();
    if (!r) return null;
    if (r.enabled === false) return 'Files are turned off for this chat.';
    var m = /\.([^.]+)$/.exec(file.name);
    if (!m) return 'file name needs an extension';
    if (Array.isArray(r.allowed_extensions) && r.allowed_extensions.indexOf(m[1].toLowerCase()) < 0) return 'files of type .' + m[1].toLowerCase() + ' are not allowed';
    if (r.max_bytes && file.size > r.max_bytes) return 'the file is larger than ' + core.humanSize(r.max_bytes);
    return null;
  }
  function drawFiles(el, attachments) {
    core.renderFiles(el, attachments, { server: SERVER, token: function () { return store.token; }, urls: chat.urls, hook: 'data-sb', cls: 'sb-' });
  }

  function systemLine(text, sb) {
    return h('li', { class: 'sb-sys', sb: sb || 'system' }, h('span', { text: text }));
  }

  function drawEvent(e) {
    if (!chat) return;
    var li = null;
    switch (e.kind) {
      case 'message': {
        var mine = e.author && e.author.role === 'customer';
        var fromBot = !mine && e.author && e.author.role === 'bot';
        var text = null;
        if (e.text) { text = h('div', { class: 'sb-text' }); renderText(text, e.text); }
        var files = null;
        if (e.attachments && e.attachments.length) { files = h('div'); drawFiles(files, e.attachments); files = files.firstChild; }
        li = h('li', { class: 'sb-msg ' + (mine ? 'sb-mine' : fromBot ? 'sb-theirs sb-bot' : 'sb-theirs'), sb: mine ? 'msg-mine' : fromBot ? 'msg-bot' : 'msg-agent', 'data-seq': e.seq, 'data-client-msg-id': e.client_msg_id },
          fromBot ? h('div', { class: 'sb-who' }, h('span', { text: e.author.name || botName() || 'Assistant' }), h('span', { class: 'sb-bot-tag', text: 'bot' }))
            : mine ? null : h('div', { class: 'sb-who', text: (e.author && e.author.name) || agentName || 'Agent' }),
          files, text,
          h('div', { class: 'sb-meta' }, h('time', { datetime: e.at, text: clock(e.at) }), mine ? h('span', { class: 'sb-receipt', sb: 'receipt' }) : null));
        if (mine) chat.bySeq[e.seq] = li;
        break;
      }
      case 'participant_joined':
        if (e.role === 'owner') {
          parked = false;
          agentName = e.name;
          people.names[e.participant] = e.name;
          li = systemLine(e.name + ' joined the chat', 'sys-joined');
          hadOwner = true;
        } else if (e.role === 'conference') {
          people.names[e.participant] = e.name;
          people.conference[e.participant] = true;
          li = systemLine(e.name + ' joined the chat', 'sys-joined');
        }
        break;
      case 'url_pushed':
        // Seed 004: the agent sends a link; it opens only when the customer clicks it.
        li = h('li', { class: 'sb-push', sb: 'pushed-url', 'data-seq': e.seq },
          h('span', { text: 'Please navigate to the link: ' }), core.urlLink(e.url));
        break;
      case 'parked':
        // Asynchronous chat: nobody is in it now, but it stays open; writing brings an agent.
        parked = true;
        li = systemLine('We\u2019ll get back to you here \u2014 write any time and an agent will pick it up.', 'sys-parked');
        break;
      case 'participant_left':
        if (e.role === 'owner' && parked) {
          li = systemLine((people.names[e.participant] || agentName || 'The agent') + ' left the chat', 'sys-left');
        } else if (e.role === 'owner') {
          // With someone else in the chat, that agent takes over (ownership_changed follows);
          // else the chat goes to another agent.
          if (Object.keys(people.conference).length) li = systemLine((people.names[e.participant] || agentName || 'The agent') + ' left the chat', 'sys-left');
          else li = systemLine('You\u2019re being transferred to another agent\u2026', 'sys-transferred');
        } else if (e.role === 'conference') {
          delete people.conference[e.participant];
          li = systemLine((people.names[e.participant] || 'An agent') + ' left the chat', 'sys-left');
        }
        break;
      case 'role_changed':
        // Public only to or from `conference`: someone the customer now talks with (a barge,
        // a consultation turned conference), or who stepped back out of the chat.
        if (e.to === 'conference') {
          people.names[e.participant] = e.name;
          people.conference[e.participant] = true;
          li = systemLine(e.name + ' joined the chat', 'sys-joined');
        } else if (e.from === 'conference') {
          delete people.conference[e.participant];
          li = systemLine((people.names[e.participant] || e.name) + ' left the chat', 'sys-left');
        }
        break;
      case 'ownership_changed':
        // The new owner: already in the chat (a conference participant), or new to the customer.
        if (!people.conference[e.to]) li = systemLine(e.name + ' joined the chat', 'sys-joined');
        delete people.conference[e.to];
        people.names[e.to] = e.name;
        agentName = e.name;
        hadOwner = true;
        break;
      case 'read':
        if (e.author && e.author.role === 'agent') markReceipts(e.up_to);
        break;
      case 'idle_warning':
        li = systemLine(e.message, 'sys-idle');
        break;
      case 'ended':
        li = systemLine(e.message ? 'Chat ended \u2013 ' + e.message : (e.reason === 'customer' ? 'You ended the chat' : 'The chat has ended'), 'sys-ended');
        break;
      case 'survey':
        store.surveyDone = true;
        break;
      case 'bot_engaged':
        li = systemLine('You\u2019re chatting with ' + (e.name || 'our assistant') + ', our virtual assistant', 'sys-bot');
        break;
      case 'handed_over':
        li = systemLine('Connecting you to an agent\u2026', 'sys-handed-over');
        break;
      default:
        break;
    }
    if (li) chat.list.appendChild(li);
  }

  function markReceipts(upTo) {
    if (!chat) return;
    Object.keys(chat.bySeq).forEach(function (seq) {
      if (Number(seq) <= upTo) {
        var el = chat.bySeq[seq];
        el.classList.add('sb-read');
        var r = el.querySelector('[data-sb=receipt]');
        if (r) r.textContent = 'Read';
      }
    });
  }

  function drawPending() {
    if (!chat) return;
    clear(chat.pending);
    function pendingFiles(m) {
      if (!m.files || !m.files.length) return null;
      var ul = h('ul', { class: 'sb-pending-files' });
      m.files.forEach(function (f) { ul.appendChild(h('li', { class: 'sb-pending-file', text: f.name + ' (' + core.humanSize(f.size) + ')' })); });
      return ul;
    }
    store.outbox.forEach(function (m) {
      var text = h('div', { class: 'sb-text' });
      renderText(text, m.text);
      chat.pending.appendChild(h('li', { class: 'sb-msg sb-mine sb-sending' + (m.failed ? ' sb-failed' : ''), sb: 'msg-pending', 'data-client-msg-id': m.id },
        pendingFiles(m), m.text ? text : null, h('div', { class: 'sb-meta', text: m.failed ? 'Not sent: ' + m.failed : 'Sending\u2026' })));
    });
    (store.failed || []).forEach(function (m) {
      var text = h('div', { class: 'sb-text' });
      renderText(text, m.text);
      chat.pending.appendChild(h('li', { class: 'sb-msg sb-mine sb-failed', sb: 'msg-failed' }, pendingFiles(m), m.text ? text : null, h('div', { class: 'sb-meta', text: 'Not sent: ' + m.error })));
    });
  }

  /** The bot (`bot_engaged`: {bot, name}) while the chat is with it, else null. */
  function botPhase() {
    var bot = null;
    store.events.forEach(function (e) {
      if (e.kind === 'bot_engaged') bot = { id: e.bot, name: e.name || 'Assistant' };
      if (e.kind === 'handed_over' || e.kind === 'ended') bot = null;
    });
    return bot;
  }
  function botName() {
    var name = null;
    store.events.forEach(function (e) { if (e.kind === 'bot_engaged') name = e.name; });
    return name || (config && config.bot && config.bot.name) || null;
  }

  /** "Connect to an agent": disabled, with the org's message, outside opening hours. */
  function drawBotBar(bot) {
    var box = chat.bot;
    if (bot && handedOverConv === store.conv) bot = null;
    box.hidden = !bot;
    if (!bot) { clear(box); handoverError = null; return; }
    var closed = !!config && config.open_now === false;
    var key = [closed, handingOver, handoverError || ''].join('|');
    if (box.firstChild && box.getAttribute('data-key') === key) return;
    box.setAttribute('data-key', key);
    clear(box);
    var btn = h('button', { type: 'button', class: 'sb-primary sb-small', sb: 'connect-agent', text: 'Connect to an agent',
      disabled: closed || handingOver, onclick: connectAgent });
    box.appendChild(btn);
    if (closed) {
      box.appendChild(h('span', { class: 'sb-bot-closed', sb: 'connect-agent-closed', text: (config.messages && config.messages.outside_hours) || 'Our agents are away right now.' }));
    } else if (handoverError) {
      box.appendChild(h('span', { class: 'sb-error', sb: 'handover-error', role: 'alert', text: handoverError }));
    }
  }
  function connectAgent() {
    if (!store.conv || handingOver) return;
    handingOver = true; handoverError = null; refresh();
    request({ type: 'handover', conversation: store.conv }).then(function () {
      // The `handed_over` event (on its way, or here already) takes the bar away.
      handingOver = false;
      handedOverConv = store.conv;
      if (chat) refresh();
    }, function (e) {
      handingOver = false;
      handoverError = (e && e.message) || 'We could not connect you to an agent. Please try again.';
      if (chat) refresh();
    });
  }

  /** Status line, queue box, idle prompt, composer or survey: all derived from the events. */
  function refresh() {
    var ended = null, idle = null, joined = false, transferring = false, others = {}, resting = false;
    var bot = botPhase();
    store.events.forEach(function (e) {
      // Conference participants in the chat: one takes over when the owner leaves.
      if ((e.kind === 'participant_joined' && e.role === 'conference') || (e.kind === 'role_changed' && e.to === 'conference')) others[e.participant] = true;
      if ((e.kind === 'participant_left' && e.role === 'conference') || (e.kind === 'role_changed' && e.from === 'conference')) delete others[e.participant];
      if (e.kind === 'ownership_changed') delete others[e.to];
      if (e.kind === 'ended') ended = e;
      if (e.kind === 'idle_warning') idle = e;
      if (e.kind === 'continued' || (e.kind === 'message' && e.author && e.author.role === 'customer')) idle = null;
      if (e.kind === 'participant_joined' && e.role === 'owner') { joined = true; transferring = false; }
      if (e.kind === 'participant_left' && e.role === 'owner') transferring = !Object.keys(others).length;
      if (e.kind === 'ownership_changed') { joined = true; transferring = false; }
      if (e.kind === 'parked') resting = true;
      if (resting && (e.kind === 'queued' || (e.kind === 'message' && e.author && e.author.role === 'customer'))) resting = false;
      if (e.kind === 'participant_joined' && e.role === 'owner') resting = false;
    });
    endBtn.hidden = !(view === 'chat' && store.conv && !ended);
    if (!chat) return;
    if (ended) subEl.textContent = 'Chat ended';
    else if (resting) subEl.textContent = 'Write any time \u2014 we\u2019ll get back to you';
    else if (bot) subEl.textContent = 'Chatting with ' + bot.name;
    else if (joined && !transferring) subEl.textContent = 'Chatting with ' + (agentName || 'an agent');
    else subEl.textContent = 'Waiting for an agent';
    drawBotBar(bot && !ended ? bot : null);
    // queue
    var waiting = !ended && !resting && !bot && (!joined || transferring);
    chat.queue.hidden = !waiting;
    clear(chat.queue);
    if (waiting) {
      if (position) {
        var eta = position.eta_secs ? ' (about ' + Math.max(1, Math.round(position.eta_secs / 60)) + ' min)' : '';
        chat.queue.appendChild(h('div', { sb: 'position', text: 'You are number ' + position.position + ' in line' + eta + '.' }));
      } else {
        chat.queue.appendChild(h('div', { text: 'Connecting you with an agent\u2026' }));
      }
      if (busyMessage) chat.queue.appendChild(h('div', { class: 'sb-busy', sb: 'all-busy', text: busyMessage }));
    }
    // idle prompt
    clear(chat.idle);
    chat.idle.hidden = !(idle && !ended);
    if (idle && !ended) {
      chat.idle.appendChild(h('span', { text: idle.message }));
      chat.idle.appendChild(h('button', { type: 'button', class: 'sb-primary sb-small', sb: 'continue', text: 'Continue', onclick: function (ev) {
        ev.target.disabled = true;
        request({ type: 'continue', conversation: store.conv }).catch(function () { ev.target.disabled = false; });
      } }));
    }
    // A chat an agent started (seed 002): a request until the customer accepts or writes.
    var created = store.events.filter(function (e) { return e.kind === 'created'; })[0];
    var wrote = store.events.some(function (e) { return e.kind === 'message' && e.author && e.author.role === 'customer'; });
    var requested = !ended && !!created && created.channel === 'outbound' && !wrote && !store.accepted;
    chat.request.hidden = !requested;
    if (requested && !chat.request.firstChild) {
      chat.request.appendChild(h('p', { sb: 'chat-request-text' }));
      chat.request.appendChild(h('button', { type: 'button', class: 'sb-primary sb-small', sb: 'chat-request-accept', text: 'Accept', onclick: function () {
        store.accepted = true; save(); refresh(); chat.input.focus();
      } }));
      chat.request.appendChild(h('button', { type: 'button', class: 'sb-link', sb: 'chat-request-decline', text: 'Decline', onclick: function (ev) {
        ev.target.disabled = true;
        request({ type: 'end', conversation: store.conv }).catch(function () { ev.target.disabled = false; });
      } }));
    }
    if (requested) chat.request.firstChild.textContent = (agentName || 'An agent') + ' would like to chat with you.';
    chat.composer.hidden = !!ended || requested;
    chat.attach.hidden = !filesOn();
    if (chat.composer.hidden) chat.tray.clear();
    chat.previewNote.hidden = !previewOn() || chat.composer.hidden;
    chat.after.hidden = !ended;
    if (ended) { chat.typing.hidden = true; drawAfter(); }
    markReceipts(lastAgentRead());
  }

  function lastAgentRead() {
    var up = 0;
    store.events.forEach(function (e) { if (e.kind === 'read' && e.author && e.author.role === 'agent') up = Math.max(up, e.up_to); });
    return up;
  }

  function drawAfter() {
    var box = chat.after;
    if (!config) {
      // The org's settings say whether there is a survey; ask, then draw.
      loadConfig().then(function () { if (chat) refresh(); }, function () { /* retried on next refresh */ });
      return;
    }
    if (box.getAttribute('data-state') === (store.surveyDone ? 'done' : 'survey')) return;
    clear(box);
    var newChat = h('button', { type: 'button', class: 'sb-link', sb: 'new-chat', text: 'Start a new chat', onclick: function () {
      store.conv = null; store.events = []; store.lastSeq = 0; store.epoch = null; store.outbox = []; store.failed = []; save();
      position = null; busyMessage = null; view = null; route();
    } });
    if (store.surveyDone || config.survey_enabled === false) {
      box.setAttribute('data-state', 'done');
      box.appendChild(h('p', { class: 'sb-thanks', sb: 'survey-thanks', text: store.surveyDone ? 'Thank you for your feedback!' : 'Thank you for chatting with us.' }));
      box.appendChild(newChat);
      return;
    }
    box.setAttribute('data-state', 'survey');
    var rating = null;
    var scale = h('div', { class: 'sb-scale', role: 'radiogroup', 'aria-label': 'How likely are you to recommend us?' });
    for (var i = 0; i <= 10; i++) {
      (function (n) {
        scale.appendChild(h('button', { type: 'button', class: 'sb-score', role: 'radio', 'aria-checked': 'false', 'data-score': n, text: String(n), onclick: function () {
          rating = n;
          Array.prototype.forEach.call(scale.children, function (b) {
            var on = Number(b.getAttribute('data-score')) === n;
            b.classList.toggle('sb-on', on); b.setAttribute('aria-checked', String(on));
          });
        } }));
      })(i);
    }
    var comment = h('textarea', { class: 'sb-input', sb: 'survey-comment', rows: '2', maxlength: '2000', placeholder: 'Anything else you\u2019d like to tell us? (optional)' });
    var err = h('div', { class: 'sb-error', role: 'alert' });
    var submit = h('button', { type: 'submit', class: 'sb-primary', sb: 'survey-submit', text: 'Send feedback' });
    var form = h('form', { class: 'sb-survey', sb: 'survey' },
      h('p', { class: 'sb-q', text: 'How likely are you to recommend us to a friend?' }),
      scale, h('div', { class: 'sb-scale-legend' }, h('span', { text: 'Not likely' }), h('span', { text: 'Very likely' })),
      comment, err, submit);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (rating === null) { err.textContent = 'Please pick a score from 0 to 10.'; return; }
      submit.disabled = true;
      var cmd = { type: 'survey', conversation: store.conv, rating: rating };
      if (comment.value.trim()) cmd.comment = comment.value;
      request(cmd).then(function () { store.surveyDone = true; save(); refresh(); }, function (e) {
        if (e && e.code === 'conflict') { store.surveyDone = true; save(); refresh(); return; }
        submit.disabled = false; err.textContent = (e && e.message) || 'Could not send your feedback.';
      });
    });
    box.appendChild(form);
    box.appendChild(newChat);
  }

  function confirmEnd() {
    if (!chat || !store.conv) return;
    var box = h('div', { class: 'sb-confirm', sb: 'confirm-end' },
      h('span', { text: 'End this chat?' }),
      h('button', { type: 'button', class: 'sb-primary sb-small', sb: 'confirm-end-yes', text: 'End chat', onclick: function () {
        box.remove();
        request({ type: 'end', conversation: store.conv }).catch(function () { /* already ended */ });
      } }),
      h('button', { type: 'button', class: 'sb-link', text: 'Cancel', onclick: function () { box.remove(); } }));
    var old = body.querySelector('[data-sb=confirm-end]');
    if (old) old.remove();
    chat.composer.parentNode.insertBefore(box, chat.composer);
  }

  // ---- typing (with the org's typing preview) and read receipts
  var typingSent = false, typingIdle = null;
  // The preview goes out at most every PREVIEW_MS, the latest text last (the server throttles too).
  var PREVIEW_MS = 300;
  var previewAt = 0, previewTimer = null, previewSent = null;
  function previewOn() { return !!(config && config.typing_preview); }
  function typingOn() {
    if (!store.conv || !chatOpen()) return;
    if (previewOn()) schedulePreview();
    else if (!typingSent && sock.ready) { typingSent = true; fire({ type: 'typing', conversation: store.conv, on: true }); }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(typingOff, 3000);
  }
  function schedulePreview() {
    if (previewTimer) return;
    var wait = Math.max(0, previewAt + PREVIEW_MS - Date.now());
    previewTimer = setTimeout(function () {
      previewTimer = null;
      if (!chat || !store.conv || !sock.ready || !chatOpen()) return;
      var text = chat.input.value.slice(0, 4000);
      if (!text.trim() || text === previewSent) return;
      previewAt = Date.now(); previewSent = text; typingSent = true;
      fire({ type: 'typing', conversation: store.conv, on: true, preview: text });
    }, wait);
  }
  function typingOff() {
    clearTimeout(typingIdle);
    clearTimeout(previewTimer); previewTimer = null; previewSent = null;
    if (typingSent) { typingSent = false; if (sock.ready && store.conv) fire({ type: 'typing', conversation: store.conv, on: false }); }
  }
  var readSent = 0;
  function markRead() {
    if (!store.conv || !store.open || document.hidden || !sock.ready) return;
    var top = 0;
    store.events.forEach(function (e) { if (e.kind === 'message' && e.author && e.author.role === 'agent') top = Math.max(top, e.seq); });
    if (top > readSent && chatOpen()) {
      readSent = top;
      fire({ type: 'read', conversation: store.conv, seq: top });
    }
  }
  document.addEventListener('visibilitychange', markRead);
  function showBadge() {
    var b = launcher.querySelector('[data-sb=badge]');
    b.hidden = unseen === 0;
    b.textContent = unseen ? String(unseen) : '';
  }

  // ---------------------------------------------------------------- the socket (chatcore's ChatSocket)
  var sock = new core.ChatSocket({
    url: WS_URL,
    notConnected: 'Not connected. Retrying\u2026',
    canConnect: function () { return !!store.token; },
    hello: function () {
      var hello = { token: store.token };
      if (store.conv) hello.resume = [core.resumePoint(store.conv, store.lastSeq, store.epoch)];
      return hello;
    },
    onHello: onHello,
    onEvent: onEvent,
    onSignal: onSignal,
    onClose: function () {
      typingSent = false;
      if (store.conv) netEl.hidden = false;
    },
  });

  // ---- sending, with retries under the original client_msg_id (chatcore's Outbox); the
  // entries live in store.outbox, so that a reload sends them again with the same id
  var outbox = new core.Outbox({
    socket: sock,
    idPrefix: 'w',
    list: function () { return store.outbox; },
    conversation: function () { return store.conv; },
    delivered: function (id) {
      return store.events.some(function (e) { return e.kind === 'message' && e.client_msg_id === id; });
    },
    transient: ['disconnected', 'unavailable', 'rate_limited', 'internal'],
    changed: function () { save(); drawPending(); },
    failed: function (m, e) {
      outbox.remove(m.id);
      store.failed = (store.failed || []).concat([{ text: m.text, files: m.files, error: e.message || e.code }]);
      save(); drawPending();
    },
  });
  function sendMessage(text) {
    outbox.add(text);
    scrollDown();
  }

  function ensureSocket() { sock.connect(); }
  function fire(cmd) { sock.fire(cmd); }
  function request(cmd) { return sock.request(cmd); }
  function resumeNow() { return sock.resume(store.conv, store.lastSeq, store.epoch); }

  function onHello(f) {
    if (f.type === 'error') {
      // A token that expired or was revoked: start over with the form (no reconnect with it).
      var again = new Error('Please fill in the form again.');
      again.code = f.code;
      sock.refused(again);
      var verified = store.verified ? store.token : null;
      store = blankStore(verified && f.code !== 'unauthorized' ? verified : null, !!verified);
      store.open = true; save();
      netEl.hidden = true;
      view = null; route();
      return;
    }
    sock.signedIn(); // whoever waits in whenReady() goes on once this frame is handled
    netEl.hidden = true;
    store.name = f.data && f.data.name; save();
    var open = (f.data && f.data.conversations) || [];
    if (open.length && (!store.conv || (open.indexOf(store.conv) < 0 && !chatOpen()))) {
      // A conversation started elsewhere (another tab, or the verified customer's other device).
      adopt(open[0]);
      if (view !== 'chat') showChat();
    } else if (store.conv && open.indexOf(store.conv) < 0) {
      // Ended (survey pending) or gone: ask for what we missed explicitly.
      resumeNow()
        .catch(function (e) { if (e && e.code === 'not_found') { store.conv = null; store.events = []; save(); view = null; route(); } });
    }
    readSent = 0;
    outbox.flush();
    markRead();
  }

  var resuming = false;
  function onEvent(f) {
    if (f.conversation !== store.conv) return;
    var place = core.order(store.lastSeq, f);
    if (place === 'seen') return; // already have it
    if (place === 'gap') {
      // A gap: ask the server for what is missing (it replays from our last seq).
      if (!resuming) {
        resuming = true;
        resumeNow().then(function () { resuming = false; }, function () { resuming = false; });
      }
      return;
    }
    store.lastSeq = f.seq;
    store.epoch = f.epoch;
    var e = f.event;
    store.events.push(e);
    if (e.kind === 'message' && e.author && e.author.role === 'customer') {
      outbox.remove(e.client_msg_id);
    }
    if ((e.kind === 'participant_joined' && e.role === 'owner') || e.kind === 'ownership_changed') { position = null; busyMessage = null; }
    if ((e.kind === 'message' || e.kind === 'url_pushed') && e.author && (e.author.role === 'agent' || e.author.role === 'bot')) {
      hideTyping();
      if (!store.open || document.hidden) { unseen++; showBadge(); }
    }
    save();
    if (view === 'chat') {
      drawEvent(e);
      refresh();
      scrollDown();
    } else if (store.open) {
      showChat();
    }
    markRead();
  }

  function hideTyping() { if (chat) chat.typing.hidden = true; clearTimeout(typingTimer); }

  function onSignal(f) {
    if (f.signal === 'joined' && f.conversation !== store.conv && !chatOpen()) {
      // An agent started a chat with this customer (seed 002): it opens as a request.
      adopt(f.conversation);
      store.accepted = false; save();
      position = null; busyMessage = null;
      setOpen(true);
      showChat();
      return;
    }
    if (f.conversation && f.conversation !== store.conv) return;
    switch (f.signal) {
      case 'typing':
        if (f.who === 'customer' || !chat) return;
        chat.typing.textContent = f.who + ' is typing\u2026';
        chat.typing.hidden = !f.on;
        clearTimeout(typingTimer);
        if (f.on) typingTimer = setTimeout(hideTyping, 8000);
        break;
      case 'position':
        position = { position: f.position, eta_secs: f.eta_secs };
        refresh();
        break;
      case 'all_busy':
        busyMessage = f.message;
        refresh();
        break;
      case 'resumed':
        if (!f.recovered) {
          // The log was reset: drop our copy; the server replays it from the start.
          store.lastSeq = 0; store.events = []; store.epoch = f.epoch; save();
          if (view === 'chat') showChat();
        }
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- public API
  var api = {
    version: 1,
    /** Signs in a verified customer (a token from the retailer's backend): no pre-chat form. */
    identify: function (token) {
      if (!token || token === store.token) return;
      var keepOpen = store.open;
      sock.close();
      store = blankStore(token, true); store.open = keepOpen; save();
      view = null;
      if (store.open) route();
      else ensureSocket(); // a verified customer gets chats agents start (seed 002) at once
    },
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    /** For tests and demos: drop the connection (it comes back by itself), or hold it down. */
    _debug: {
      drop: function () { sock.drop(); },
      hold: function (on) {
        if (on) { sock.stopped = true; sock.drop(); } else { sock.start(); }
      },
      state: function () { return JSON.parse(JSON.stringify(store)); },
      connected: function () { return sock.ready; },
    },
  };
  window.Switchboard = api;

  var preset = script.getAttribute('data-customer-token');
  if (preset && preset !== store.token) { store = blankStore(preset, true); save(); }
  if (store.open || store.conv) {
    setOpen(!!store.open);
    if (store.conv) { ensureSocket(); }
  }
  if (store.conv && !store.open) ensureSocket();
  // A verified customer is connected while on the site, so that a chat an agent starts with
  // them (seed 002) arrives at once, without a click.
  if (store.verified && store.token && !store.conv) ensureSocket();
  loadConfig().catch(function () { /* shown when opened */ });
})(SwitchboardCore);

// The snippet builder: the embed tag for an org, its texts, and a live preview of the widget.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var fields = ['org', 'title', 'launcher', 'greeting', 'color'];
  var defaults = { title: 'Chat with us', launcher: 'Chat with us', color: '#1f5fd6' };
  defaults.greeting = $('greeting').defaultValue;
  function attr(v) {
    return String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }
  function values() {
    var v = {};
    fields.forEach(function (f) { v[f] = $(f).value.trim(); });
    return v;
  }
  var timer = null;
  var checked = null;
  function update() {
    var v = values();
    var tag = '<script src="' + attr(location.origin + '/widget.js') + '" data-org="' + attr(v.org || 'demo') + '"';
    ['title', 'launcher', 'greeting', 'color'].forEach(function (k) {
      if (v[k] && v[k] !== defaults[k]) tag += ' data-' + k + '="' + attr(v[k]) + '"';
    });
    tag += ' async></' + 'script>';
    $('code').textContent = tag;
    clearTimeout(timer);
    timer = setTimeout(function () { preview(v); check(v.org); }, 400);
  }
  function preview(v) {
    var q = new URLSearchParams();
    fields.forEach(function (k) { if (v[k]) q.set(k, v[k]); });
    var src = '/demo?' + q.toString();
    if ($('preview').getAttribute('src') !== src) $('preview').setAttribute('src', src);
  }
  function check(org) {
    if (!org || org === checked) return;
    checked = org;
    var status = $('org-status');
    status.textContent = 'Checking…';
    fetch('/v1/orgs/' + encodeURIComponent(org) + '/widget').then(function (r) {
      return r.json().then(function (j) {
        if (org !== checked) return;
        if (!r.ok) { status.textContent = 'No chat-enabled org with this id.'; status.className = 'error small'; return; }
        status.className = 'muted small';
        status.textContent = j.name + ' · ' + (j.open_now ? 'open now' : 'outside opening hours') +
          ' · ' + j.reasons.total + ' reasons' + (j.survey_enabled ? ' · survey on' : '');
      });
    }, function () { status.textContent = 'Could not reach the server.'; });
  }
  fields.forEach(function (f) { $(f).addEventListener('input', update); });
  $('copy').addEventListener('click', function () {
    var text = $('code').textContent;
    var done = function () { $('copied').textContent = 'Copied to the clipboard.'; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { selectCode(); });
    } else { selectCode(); }
  });
  function selectCode() {
    var range = document.createRange();
    range.selectNodeContents($('code'));
    var sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
    $('copied').textContent = 'Selected – press Ctrl+C to copy.';
  }
  update();
})();

// Sample retailer page: adds the widget snippet, like the tag a retailer pastes before </body>.
// Query parameters: org, server (the chat server's origin; default this one), token (a
// verified-customer token), title, launcher, greeting, color.
(function () {
  'use strict';
  var q = new URLSearchParams(location.search);
  var server = q.get('server') || location.origin;
  var s = document.createElement('script');
  s.src = server.replace(/\/+$/, '') + '/widget.js';
  s.async = true;
  s.setAttribute('data-org', q.get('org') || 'demo');
  ['title', 'launcher', 'greeting', 'color'].forEach(function (k) {
    if (q.get(k)) s.setAttribute('data-' + k, q.get(k));
  });
  if (q.get('token')) s.setAttribute('data-customer-token', q.get('token'));
  document.body.appendChild(s);
})();

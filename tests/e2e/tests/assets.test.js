// The widget and the console share one chat core (src/web/chatcore.js: text rendering, socket,
// outbox), served in front of each with no build step. These checks keep the two from drifting
// apart again and the core from leaking onto a retailer's page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, launchBrowser, scenario, demoUrl, w } from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const source = (name) => readFileSync(join(REPO, 'src', 'web', name), 'utf8');

test('/widget.js and /console.js each serve the shared chat core in front of their client', async () => {
  await scenario(browser, 'shared core', async ({ server, open, errors }) => {
    const core = source('chatcore.js');
    assert.match(core, /^var SwitchboardCore = \(function \(\) \{$/m, 'chatcore.js declares SwitchboardCore');
    for (const [path, client] of [['/widget.js', 'widget.js'], ['/console.js', 'console.js']]) {
      const r = await fetch(server.url + path);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type'), /^text\/javascript/, path);
      const body = await r.text();
      const at = body.indexOf(core);
      assert.ok(at >= 0, `${path} carries src/web/chatcore.js as it is (rebuild the server after editing it)`);
      assert.ok(body.indexOf(source(client), at + core.length) >= 0, `${path} carries src/web/${client} after the core`);
      // One socket, one renderer: the clients use the core's, they keep none of their own.
      const own = source(client);
      assert.ok(!own.includes('new WebSocket'), `${client} opens no socket of its own`);
      assert.ok(!/function renderText|URL_RE/.test(own), `${client} renders no chat text of its own`);
    }
    for (const name of ['chatcore.js', 'widget.js', 'console.js']) {
      assert.ok(!/\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write/.test(source(name)), `${name} inserts no HTML`);
    }

    // Attachment thumbnails are fetched with the bearer token and shown from blob: URLs: the
    // console's and the sample shop page's policies allow those images (and nothing else new).
    for (const path of ['/console', '/demo']) {
      const csp = (await fetch(server.url + path)).headers.get('content-security-policy');
      assert.match(csp, /img-src 'self' data: blob:;/, `${path} shows blob: images`);
    }

    // Neither page gets the core as a global: on the retailer's page the widget adds only
    // window.Switchboard; the console is a module.
    const customer = await open('customer', demoUrl(server));
    await w(customer, 'launcher').waitFor();
    assert.deepEqual(await customer.evaluate(() => [typeof window.SwitchboardCore, typeof window.Switchboard.identify]), ['undefined', 'function']);
    const agent = await open('agent', `${server.url}/console`);
    await agent.locator('#signin:not([hidden])').waitFor();
    assert.deepEqual(await agent.evaluate(() => [typeof window.SwitchboardCore, typeof window.switchboardConsole.connected]), ['undefined', 'function']);
    assert.deepEqual(errors, []);
  });
});

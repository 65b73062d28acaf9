// Canned responses in the console (issue 13, seeds 001/004): the org's and a queue's set by an
// admin over REST, an agent's own in "My responses", and the picker in a chat's composer ("/"
// or the Responses button) that inserts the response rendered for this chat, to edit and send.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent, acceptOffer,
  until, texts, restSend, rest,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Opens My responses (if closed) and saves a new one through its form; returns the form's error, if any. */
async function addMine(agent, { shortcut, title, text }) {
  if (await c(agent, 'my-responses-body').isHidden()) await c(agent, 'my-responses-open').click();
  if (await c(agent, 'my-response-form').isHidden()) await c(agent, 'my-response-add').click();
  await c(agent, 'my-response-shortcut').fill(shortcut);
  await c(agent, 'my-response-title').fill(title);
  await c(agent, 'my-response-text').fill(text);
  await c(agent, 'my-response-save').click();
}
const mine = (agent, shortcut) => agent.locator(`[data-t=my-response][data-shortcut="${shortcut}"]`);

test('canned responses: org, queue and my own; the picker inserts the rendered text to edit and send', async () => {
  await scenario(browser, 'canned responses', async ({ server, open, errors }) => {
    // The admin's org-wide /greet and a billing-queue response (whose shortcut also starts with "gr").
    const admin = token('admin', 'dave', { name: 'Dave Admin' });
    const greet = await restSend(server, 'PUT', '/v1/canned/greet', admin,
      { shortcut: 'greet', title: 'Greeting', text: "Hello {{customer.first_name}}, I'm {{agent.name}}." });
    assert.equal(greet.status, 200, JSON.stringify(greet.body));
    const billing = await restSend(server, 'PUT', '/v1/canned/billing-greet', admin,
      { shortcut: 'greet-billing', title: 'Billing greeting', text: 'Billing here, {{customer.first_name}}.', queue: 'billing' });
    assert.equal(billing.status, 200, JSON.stringify(billing.body));
    const hours = await restSend(server, 'PUT', '/v1/canned/hours', admin,
      { shortcut: 'hours', title: 'Opening hours', text: 'Our {{queue.name}} team is here 9–17.', queue: 'general' });
    assert.equal(hours.status, 200, JSON.stringify(hours.body));

    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent', queues: 'general' }));
    // How often the console reads a chat's responses.
    let fetches = 0;
    agent.on('request', (r) => { if (/\/v1\/conversations\/[^/]+\/canned$/.test(new URL(r.url()).pathname)) fetches++; });

    // My responses: empty at first; the server's refusals show inline, in the form.
    await c(agent, 'my-responses-open').click();
    await c(agent, 'my-responses-empty').waitFor();
    assert.match(await c(agent, 'my-response-hint').textContent(), /\{\{customer\.first_name\}\}.*\{\{agent\.name\}\}/);
    await addMine(agent, { shortcut: 'Thanks!', title: 'Thanks', text: 'Thanks for chatting with us.' });
    await until(async () => /shortcut/.test(await c(agent, 'my-response-error').textContent()), 'the server\'s error for a bad shortcut');
    assert.ok(await c(agent, 'my-response-form').isVisible(), 'the form stays open to fix it');
    await addMine(agent, { shortcut: 'thanks', title: 'Thanks', text: 'Thanks for chatting with us.' });
    await mine(agent, 'thanks').waitFor();
    assert.ok(await c(agent, 'my-response-form').isHidden(), 'the form closes once saved');
    // A second /thanks of mine: the shortcut is taken (409), said inline.
    await addMine(agent, { shortcut: 'thanks', title: 'Thanks again', text: 'Thank you!' });
    await until(async () => /already used/.test(await c(agent, 'my-response-error').textContent()), 'the conflict on /thanks');
    await c(agent, 'my-response-cancel').click();
    await addMine(agent, { shortcut: 'greet', title: 'My greeting', text: 'Hi {{customer.first_name}}! {{agent.name}} here.' });
    await mine(agent, 'greet').waitFor();
    assert.deepEqual(await agent.locator('[data-t=my-response]').evaluateAll((els) => els.map((e) => e.dataset.shortcut)), ['greet', 'thanks']);
    // Edit one: the text changes, the shortcut stays.
    await c(mine(agent, 'thanks'), 'my-response-edit').click();
    assert.equal(await c(agent, 'my-response-shortcut').inputValue(), 'thanks');
    await c(agent, 'my-response-text').fill('Thanks for chatting with {{org.name}}.');
    await c(agent, 'my-response-save').click();
    await mine(agent, 'thanks').filter({ hasText: 'Thanks for chatting with {{org.name}}.' }).waitFor();
    const stored = await rest(server, '/v1/me/canned', token('agent', 'alice', { name: 'Alice Agent', queues: 'general' }));
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body.responses.map((r) => r.shortcut).sort(), ['greet', 'thanks']);

    // Grace chats (queue General); Alice accepts.
    const customer = await open('customer', demoUrl(server), { viewport: { width: 1000, height: 760 } });
    await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    await customerSays(customer, 'Hello?');
    const { pane } = await acceptOffer(agent);
    await c(pane, 'msg-customer').filter({ hasText: 'Hello?' }).waitFor();
    const composer = c(pane, 'composer');
    const input = c(pane, 'composer-input');
    const picker = c(composer, 'canned-picker');
    const items = c(composer, 'canned-item');
    const shortcuts = () => items.evaluateAll((els) => els.map((e) => e.dataset.shortcut));

    // "/" opens the picker with what applies to this chat: mine win, no billing-queue one.
    await input.pressSequentially('/');
    await picker.waitFor();
    await until(async () => (await items.count()) === 3, 'three responses for a General chat');
    assert.deepEqual(await shortcuts(), ['greet', 'hours', 'thanks']);
    assert.deepEqual(await texts(c(composer, 'canned-scope')), ['Mine', 'Queue', 'Mine']);
    assert.equal(await c(items.nth(1), 'canned-preview').textContent(), 'Our General team is here 9–17.');
    // Arrow keys move, Escape closes (the text stays).
    assert.match(await items.nth(0).getAttribute('class'), /\bactive\b/);
    await input.press('ArrowDown');
    await until(async () => /\bactive\b/.test(await items.nth(1).getAttribute('class')), 'the second item active');
    await input.press('ArrowUp');
    await until(async () => /\bactive\b/.test(await items.nth(0).getAttribute('class')), 'the first item active again');
    await input.press('Escape');
    await picker.waitFor({ state: 'hidden' });
    assert.equal(await input.inputValue(), '/');

    // "/gr": one /greet (Mine), rendered for Grace; Enter inserts it in place of "/gr", unsent.
    await input.pressSequentially('gr');
    await picker.waitFor();
    await until(async () => (await items.count()) === 1, 'only /greet for "/gr"');
    assert.deepEqual(await shortcuts(), ['greet']);
    assert.equal(await c(items.first(), 'canned-scope').textContent(), 'Mine');
    assert.equal(await c(items.first(), 'canned-preview').textContent(), 'Hi Grace! Alice Agent here.');
    await input.press('Enter');
    await picker.waitFor({ state: 'hidden' });
    assert.equal(await input.inputValue(), 'Hi Grace! Alice Agent here.');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await c(pane, 'msg-agent').count(), 0, 'a pick never sends');
    assert.equal(await c(pane, 'msg-pending').count(), 0, 'a pick never sends');
    assert.equal(fetches, 1, 'the chat\'s responses are read once');

    // Alice edits it and sends; Grace reads the edited text.
    await input.press('End');
    await input.pressSequentially(' How can I help?');
    await input.press('Enter');
    await c(pane, 'msg-agent').filter({ hasText: 'Hi Grace! Alice Agent here. How can I help?' }).waitFor();
    await w(customer, 'msg-agent').filter({ hasText: 'Hi Grace! Alice Agent here. How can I help?' }).waitFor();
    assert.equal(await input.inputValue(), '');

    // The Responses button opens the picker unfiltered; a click on an item inserts it.
    await c(pane, 'canned-open').click();
    await picker.waitFor();
    await until(async () => (await items.count()) === 3, 'all three, unfiltered');
    await items.filter({ hasText: '/thanks' }).click();
    await picker.waitFor({ state: 'hidden' });
    assert.equal(await input.inputValue(), 'Thanks for chatting with Shop e2e.');
    // Over text already there, the button's pick goes in at the caret.
    await input.fill('Sure. ');
    await c(pane, 'canned-open').click();
    await picker.waitFor();
    await until(async () => (await items.count()) === 3, 'all three again');
    await items.filter({ hasText: '/thanks' }).click();
    assert.equal(await input.inputValue(), 'Sure. Thanks for chatting with Shop e2e.');
    // The picker closes once the text no longer starts with "/".
    await input.fill('');
    await input.pressSequentially('/th');
    await until(async () => (await items.count()) === 1, 'only /thanks for "/th"');
    await input.press('Home');
    await input.press('Delete');
    await picker.waitFor({ state: 'hidden' });
    assert.equal(await input.inputValue(), 'th');
    await input.fill('');

    // Deleting my /greet: the org's comes back, rendered for Grace and Alice.
    await c(mine(agent, 'greet'), 'my-response-delete').click();
    await mine(agent, 'greet').waitFor({ state: 'detached' });
    await input.pressSequentially('/gr');
    await picker.waitFor();
    await until(async () => (await items.count()) === 1 && (await c(items.first(), 'canned-scope').textContent()) === 'Org', 'the org\'s /greet');
    assert.equal(await c(items.first(), 'canned-preview').textContent(), "Hello Grace, I'm Alice Agent.");
    await items.first().click();
    assert.equal(await input.inputValue(), "Hello Grace, I'm Alice Agent.");
    assert.equal(fetches, 2, 'read again once after My responses changed');
    await input.press('Enter');
    await w(customer, 'msg-agent').filter({ hasText: "Hello Grace, I'm Alice Agent." }).waitFor();

    assert.deepEqual(errors, []);
  });
});

test('canned responses: a failed read, none yet, and the internal discussion\'s picker', async () => {
  await scenario(browser, 'canned empty', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent', queues: 'general' }));
    const customer = await open('customer', demoUrl(server), { viewport: { width: 1000, height: 760 } });
    await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    const { pane } = await acceptOffer(agent);
    const composer = c(pane, 'composer');
    const input = c(pane, 'composer-input');
    // A failed read says so, and the next opening tries again.
    const failing = /\/v1\/conversations\/[^/]+\/canned$/;
    await agent.route(failing, (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"try again later"}}' }));
    await input.pressSequentially('/');
    await c(composer, 'canned-status').filter({ hasText: 'Could not load canned responses: try again later' }).waitFor();
    await input.press('Escape');
    await agent.unroute(failing);
    await input.fill('');
    await input.pressSequentially('/');
    await c(composer, 'canned-status').filter({ hasText: 'No canned responses yet' }).waitFor();
    // Enter with nothing to pick sends nothing; Escape closes, then Enter sends "/" text as is.
    await input.press('Enter');
    assert.equal(await input.inputValue(), '/');
    await input.press('Escape');
    await input.pressSequentially('shrug');
    await input.press('Escape');
    await input.press('Enter');
    await w(customer, 'msg-agent').filter({ hasText: '/shrug' }).waitFor();

    // A response of mine, then the internal discussion's "/" picks it (the list was fetched again).
    await addMine(agent, { shortcut: 'vip', title: 'VIP note', text: 'VIP: {{customer.name}} ({{customer.email}})' });
    await mine(agent, 'vip').waitFor();
    const internal = c(pane, 'internal-input');
    await internal.pressSequentially('/v');
    const item = c(c(pane, 'internal-composer'), 'canned-item');
    await until(async () => (await item.count()) === 1, 'the /vip response in the internal discussion');
    await internal.press('Enter');
    assert.equal(await internal.inputValue(), 'VIP: Grace Hopper (grace@example.com)');
    assert.deepEqual(errors, []);
  });
});

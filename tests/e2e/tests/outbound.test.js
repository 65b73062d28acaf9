// Agent-initiated chats (start_chat, seed 002): the agent starts a chat with a known (verified)
// customer from the console's Start-a-chat form; the chat opens in the console at once; the
// customer's widget shows it as a request to accept (then they write) or decline (the chat ends).
// The form shows the server's refusals: the customer already has an open chat, the agent is full.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, verifiedOrg, verifiedToken, startChatForm,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** The chat pane the console shows (one at a time). */
const shownPane = (page) => page.locator('section[data-t=chat]');

/** A verified customer (signed in on the shop: no form) opens the widget and starts a chat. */
async function verifiedStarts(page, reason = 'Order status') {
  await w(page, 'launcher').click();
  await w(page, 'prechat').locator('.sb-chip', { hasText: reason }).click();
  await w(page, 'start').click();
}

test('an agent starts a chat with a verified customer on the site; the customer accepts and replies', async () => {
  await scenario(browser, 'outbound accept', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    // Vera, signed in on the shop, chatted before: her widget is connected (that chat ended).
    const vera = await open('vera', demoUrl(server, { token: verifiedToken('vera-1', { name: 'Vera Verified', email: 'vera@example.com' }) }));
    await verifiedStarts(vera);
    await w(vera, 'composer').waitFor();
    const first = await acceptOffer(alice);
    await c(first.pane, 'end').click();
    await c(first.pane, 'confirm-end').click();
    await w(vera, 'composer').waitFor({ state: 'hidden' });
    await w(vera, 'launcher').click(); // she closes the widget and goes on shopping
    await vera.waitForFunction(() => window.Switchboard._debug.state().open === false);

    // Alice starts a chat with her from the console (queue picked from her own).
    assert.deepEqual(await c(alice, 'start-queue').locator('option').evaluateAll((o) => o.map((x) => x.value)), ['', 'general', 'billing']);
    await startChatForm(alice, { customer: 'vera-1', name: 'Vera Verified', queue: 'general', text: 'Hello Vera, your order is ready for pick-up.' });
    const pane = shownPane(alice);
    await c(pane, 'sys-created').filter({ hasText: 'Chat started by Alice Agent with Vera Verified' }).waitFor();
    const conversation = await pane.getAttribute('data-conversation');
    assert.notEqual(conversation, first.conversation);
    await c(alice, 'start-form').waitFor({ state: 'hidden' });
    assert.equal(await c(alice, 'start-error').textContent(), '');
    await c(pane, 'msg-agent').filter({ hasText: 'your order is ready' }).waitFor();
    await c(pane, 'banner').filter({ hasText: 'Chat request sent: Vera Verified sees your message' }).waitFor();
    await c(pane, 'composer').waitFor();
    await alice.locator(`[data-t=chat-item][data-conversation="${conversation}"]`).filter({ hasText: 'Vera Verified' }).waitFor();
    assert.equal(await c(pane, 'monitoring').getAttribute('data-level'), 'customer', 'her own chat: notified of the customer');

    // Vera's widget opens by itself with the request: the agent's message, Accept / Decline, no composer.
    const request = w(vera, 'chat-request');
    await request.waitFor();
    assert.equal(await vera.evaluate(() => window.Switchboard._debug.state().open), true);
    await w(vera, 'chat-request-text').filter({ hasText: 'would like to chat with you' }).waitFor();
    await w(vera, 'msg-agent').filter({ hasText: 'your order is ready' }).waitFor();
    assert.ok(await w(vera, 'composer').isHidden(), 'no composer before she accepts');
    await w(vera, 'chat-request-accept').click();
    await request.waitFor({ state: 'hidden' });
    await customerSays(vera, 'Great, I will come at five.');
    await c(pane, 'msg-customer').filter({ hasText: 'come at five' }).waitFor();
    await c(pane, 'banner').waitFor({ state: 'hidden' });
    await agentSays(pane, 'See you then!');
    await w(vera, 'msg-agent').filter({ hasText: 'See you then!' }).waitFor();

    // Starting another chat with her while this one is open: the server's reason, no new chat.
    const chats = await c(alice, 'chat-item').count();
    await startChatForm(alice, { customer: 'vera-1', text: 'Hello again' });
    await c(alice, 'start-error').filter({ hasText: 'the customer already has an open chat' }).waitFor();
    assert.ok(await c(alice, 'start-form').isVisible(), 'the form stays open to correct');
    assert.equal(await c(alice, 'chat-item').count(), chats);
    // Nothing typed: the form says what is missing without asking the server.
    await c(alice, 'start-customer').fill('');
    await c(alice, 'start-go').click();
    await c(alice, 'start-error').filter({ hasText: 'Enter the customer’s id.' }).waitFor();
    await c(alice, 'start-cancel').click();
    await c(alice, 'start-form').waitFor({ state: 'hidden' });
    assert.deepEqual(errors, []);
  }, { orgs: [verifiedOrg('e2e')] });
});

test('a full agent cannot start a chat; a customer who comes later finds the request and declines it', async () => {
  await scenario(browser, 'outbound capacity decline', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    const ada = await open('ada', demoUrl(server));
    await fillPrechat(ada, { first: 'Ada', last: 'Lovelace' });
    const held = await acceptOffer(alice);
    await c(alice, 'load').filter({ hasText: '1/1' }).waitFor();

    // At her limit of one chat: refused, shown in the form.
    await startChatForm(alice, { customer: 'ben-7', name: 'Ben Buyer', text: 'Hello Ben, about your return…' });
    await c(alice, 'start-error').filter({ hasText: 'Could not start the chat: the agent is at capacity' }).waitFor();
    assert.equal(await c(alice, 'chat-item').count(), 1);

    // Her chat ends: the same form (same first message) goes through.
    await c(held.pane, 'end').click();
    await c(held.pane, 'confirm-end').click();
    await c(alice, 'load').filter({ hasText: '0/1' }).waitFor();
    await c(alice, 'start-go').click();
    const pane = shownPane(alice);
    await c(pane, 'sys-created').filter({ hasText: 'Chat started by Alice Agent with Ben Buyer' }).waitFor();
    await c(pane, 'msg-agent').filter({ hasText: 'about your return' }).waitFor();
    assert.equal(await c(pane, 'msg-agent').count(), 1, 'the first message is logged once');
    await c(alice, 'load').filter({ hasText: '1/1' }).waitFor();

    // Ben comes to the shop later and opens the chat: the request is waiting; he declines.
    const ben = await open('ben', demoUrl(server, { token: verifiedToken('ben-7', { name: 'Ben Buyer' }) }));
    // (A verified customer's widget connects on the page and finds the open chat in `hello`.)
    await w(ben, 'launcher').click();
    await w(ben, 'chat-request').waitFor();
    assert.ok(await w(ben, 'composer').isHidden(), 'no composer before he accepts');
    await w(ben, 'chat-request-text').filter({ hasText: 'Alice Agent would like to chat with you' }).waitFor();
    await w(ben, 'msg-agent').filter({ hasText: 'about your return' }).waitFor();
    await w(ben, 'chat-request-decline').click();
    await c(pane, 'sys-ended').filter({ hasText: 'Chat ended by the customer' }).waitFor();
    await c(alice, 'load').filter({ hasText: '0/1' }).waitFor();
    assert.deepEqual(errors, []);
  }, { orgs: [verifiedOrg('e2e', { max_chats: 1 })] });
});

test('a verified customer who never chatted gets the request live, with the agent’s name', async () => {
  await scenario(browser, 'outbound first contact', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    // Wes is signed in on the shop and has never opened the chat.
    const wes = await open('wes', demoUrl(server, { token: verifiedToken('wes-1', { name: 'Wes Verified', email: 'wes@example.com' }) }));
    await wes.waitForFunction(() => window.Switchboard._debug.connected());
    await startChatForm(alice, { customer: 'wes-1', name: 'Wes Verified', text: 'Hi Wes, a quick question about your return.' });
    await w(wes, 'chat-request').waitFor();
    await w(wes, 'chat-request-text').filter({ hasText: 'Alice Agent would like to chat with you.' }).waitFor();
    await w(wes, 'msg-agent').filter({ hasText: 'about your return' }).waitFor();
    await w(wes, 'chat-request-accept').click();
    await customerSays(wes, 'Sure, go ahead.');
    await c(shownPane(alice), 'msg-customer').filter({ hasText: 'go ahead' }).waitFor();
    assert.deepEqual(errors, []);
  }, { orgs: [verifiedOrg('e2e')] });
});

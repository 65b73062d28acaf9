// Transfers between two agent pages: the request shown to the target, the outcome to the sender.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Alice holds a chat with a customer; Bob is signed in (away, so he gets no offers). */
async function setUp(server, open) {
  const alice = await open('alice', `${server.url}/console`);
  await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
  const bob = await open('bob', `${server.url}/console`);
  await signInAgent(bob, token('agent', 'bob', { name: 'Bob Agent' }), { available: false });
  const customer = await open('customer', demoUrl(server));
  await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
  const { conversation, pane } = await acceptOffer(alice);
  await customerSays(customer, 'I would like a refund for my boots.');
  await c(pane, 'msg-customer').filter({ hasText: 'refund' }).waitFor();
  await agentSays(pane, 'Sure, one moment please.');
  await w(customer, 'msg-agent').waitFor();
  return { alice, bob, customer, conversation, pane };
}

async function requestTransfer(pane, to, note) {
  await c(pane, 'transfer').click();
  const target = c(pane, 'transfer-target');
  await target.locator(`option[value="agent:${to}"]`).waitFor({ state: 'attached' });
  await target.selectOption(`agent:${to}`);
  await c(pane, 'transfer-note').fill(note);
  await c(pane, 'transfer-go').click();
  await c(pane, 'sys-transfer-requested').waitFor();
}

test('a transfer between two agent pages: accepted', async () => {
  await scenario(browser, 'transfer accepted', async ({ server, open, errors }) => {
    const { alice, bob, customer, conversation, pane } = await setUp(server, open);
    await requestTransfer(pane, 'bob', 'Refund – Bob handles returns');
    await c(pane, 'banner').filter({ hasText: 'Waiting for Bob Agent to accept' }).waitFor();

    // Bob sees the request with its note and countdown, and accepts.
    const request = c(bob, 'transfer-request');
    await request.filter({ hasText: 'Transfer from Alice Agent' }).waitFor();
    assert.equal(await c(request, 'transfer-note').textContent(), '“Refund – Bob handles returns”');
    assert.match(await c(request, 'countdown').textContent(), /^\d+s$/);
    const { pane: bobPane } = await acceptOffer(bob, 'transfer-request');

    // Bob has the whole transcript; Alice sees the outcome and loses the chat; the customer is told.
    await c(bobPane, 'msg-customer').filter({ hasText: 'refund' }).waitFor();
    await c(bobPane, 'sys-transfer-requested').waitFor();
    await c(pane, 'sys-transfer-accepted').filter({ hasText: 'Transfer accepted by Bob Agent' }).waitFor();
    await c(pane, 'banner').filter({ hasText: 'Transferred to Bob Agent' }).waitFor();
    assert.ok(await c(pane, 'composer').isHidden(), 'the sender can no longer write');
    await w(customer, 'sys-transferred').waitFor();
    await w(customer, 'sys-joined').filter({ hasText: 'Bob Agent joined the chat' }).waitFor();
    await agentSays(bobPane, 'Hi, Bob here. I have started your refund.');
    await w(customer, 'msg-agent').filter({ hasText: 'Bob here' }).waitFor();
    await customerSays(customer, 'Thank you Bob!');
    await c(bobPane, 'msg-customer').filter({ hasText: 'Thank you Bob!' }).waitFor();
    await c(bob, 'load').filter({ hasText: '1/3' }).waitFor();
    await c(alice, 'load').filter({ hasText: '0/3' }).waitFor();
    assert.ok(conversation);
    assert.deepEqual(errors, []);
  });
});

test('a transfer between two agent pages: rejected', async () => {
  await scenario(browser, 'transfer rejected', async ({ server, open, errors }) => {
    const { bob, customer, pane } = await setUp(server, open);
    await requestTransfer(pane, 'bob', 'Can you take this?');
    const request = c(bob, 'transfer-request');
    await request.waitFor();
    await c(request, 'reject').click();
    await request.waitFor({ state: 'detached' });
    await c(pane, 'sys-transfer-rejected').filter({ hasText: 'Transfer rejected by Bob Agent' }).waitFor();
    await c(pane, 'banner').waitFor({ state: 'hidden' });
    // Alice still owns the chat.
    await agentSays(pane, 'I will take care of it myself.');
    await w(customer, 'msg-agent').filter({ hasText: 'take care of it myself' }).waitFor();
    assert.equal(await bob.locator('[data-t=chat-item]').count(), 0, 'Bob never got the chat');
    assert.equal(await w(customer, 'sys-transferred').count(), 0, 'the customer saw no transfer');
    assert.deepEqual(errors, []);
  });
});

test('a transfer between two agent pages: expired', async () => {
  const orgs = [testOrg('e2e', { transfer_expiry_ms: 2500 })];
  await scenario(browser, 'transfer expired', async ({ server, open, errors }) => {
    const { bob, pane } = await setUp(server, open);
    await requestTransfer(pane, 'bob', 'Anyone?');
    await c(bob, 'transfer-request').waitFor();
    await c(pane, 'sys-transfer-expired').filter({ hasText: 'Transfer to Bob Agent expired' }).waitFor();
    await c(bob, 'transfer-request').waitFor({ state: 'detached' });
    await c(bob, 'notice').filter({ hasText: 'expired' }).waitFor();
    await c(pane, 'transfer').waitFor();
    assert.deepEqual(errors, []);
  }, { orgs });
});

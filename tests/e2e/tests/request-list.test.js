// The request list: agents who are away (so get no offers) see their queues' waiting chats in the
// console's Waiting panel and pick one; a picked chat opens like an accepted offer and leaves the
// other agents' lists; a refused pick shows the server's reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent, agentSays,
  testOrg, waitingItem, pickWaiting, until,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Alice and Bob, signed in and left away: they get no offers, only the request list. */
async function awayAgents(open, server) {
  const alice = await open('alice', `${server.url}/console`);
  await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }), { available: false });
  const bob = await open('bob', `${server.url}/console`);
  await signInAgent(bob, token('agent', 'bob', { name: 'Bob Agent' }), { available: false });
  return { alice, bob };
}

async function startChat(open, server, first, last) {
  const page = await open(`customer-${first}`, demoUrl(server), { viewport: { width: 900, height: 700 } });
  await fillPrechat(page, { first, last, email: `${first.toLowerCase()}@example.com` });
  return page;
}

test('two away agents see a waiting chat; one picks it, the other picks the next', async () => {
  await scenario(browser, 'request list pick', async ({ server, open, errors }) => {
    const { alice, bob } = await awayAgents(open, server);
    for (const page of [alice, bob]) {
      await c(page, 'waiting-panel').waitFor();
      await c(page, 'no-waiting').filter({ hasText: 'No chats waiting' }).waitFor();
    }

    const ada = await startChat(open, server, 'Ada', 'Lovelace');
    await customerSays(ada, 'Hello, is anyone there?');
    // Both agents see it: name, queue and place, how long it waits, not offered to anyone.
    for (const page of [alice, bob]) {
      const item = waitingItem(page, 'Ada Lovelace');
      await item.waitFor();
      assert.equal(await c(item, 'waiting-place').textContent(), 'General · next in line');
      assert.match(await c(item, 'waiting-time').textContent(), /^Waiting \d+:\d\d$/);
      assert.equal(await item.getAttribute('data-offered'), 'false');
      assert.ok(await c(page, 'no-waiting').isHidden());
    }
    assert.equal(await c(alice, 'offer').count(), 0, 'away: no offer');

    // Alice picks it: the chat opens with the customer's message; the customer sees her join.
    const { conversation, pane } = await pickWaiting(alice, 'Ada Lovelace');
    await c(pane, 'msg-customer').filter({ hasText: 'is anyone there?' }).waitFor();
    await w(ada, 'sys-joined').filter({ hasText: 'Alice Agent joined the chat' }).waitFor();
    await w(ada, 'status').filter({ hasText: 'Chatting with Alice Agent' }).waitFor();
    await agentSays(pane, 'Hi Ada, Alice here.');
    await w(ada, 'msg-agent').filter({ hasText: 'Alice here' }).waitFor();
    await c(alice, 'load').filter({ hasText: '1/3' }).waitFor();
    assert.equal(await c(alice, 'offer').count(), 0, 'a pick shows no offer card');
    assert.equal(await c(alice, 'waiting-error').textContent(), '');
    // It leaves both lists (Bob's at his next refresh).
    await waitingItem(alice, 'Ada Lovelace').waitFor({ state: 'detached' });
    await waitingItem(bob, 'Ada Lovelace').waitFor({ state: 'detached' });
    await c(bob, 'no-waiting').waitFor();
    assert.equal(await bob.locator(`[data-t=chat-item][data-conversation="${conversation}"]`).count(), 0);

    // A second chat: Bob picks it.
    const grace = await startChat(open, server, 'Grace', 'Hopper');
    await waitingItem(alice, 'Grace Hopper').waitFor();
    const { pane: bobPane } = await pickWaiting(bob, 'Grace Hopper');
    await w(grace, 'sys-joined').filter({ hasText: 'Bob Agent joined the chat' }).waitFor();
    await agentSays(bobPane, 'Hello Grace, Bob here.');
    await w(grace, 'msg-agent').filter({ hasText: 'Bob here' }).waitFor();
    await c(bob, 'load').filter({ hasText: '1/3' }).waitFor();
    await waitingItem(alice, 'Grace Hopper').waitFor({ state: 'detached' });
    await c(alice, 'no-waiting').waitFor();
    assert.equal(await c(alice, 'chat-item').count(), 1, 'Alice has only her own chat');
    assert.deepEqual(errors, []);
  });
});

test('refused picks show why: taken by someone else, at capacity', async () => {
  const orgs = [testOrg('e2e', { max_chats: 1 })];
  await scenario(browser, 'request list refused', async ({ server, open, errors }) => {
    const { alice, bob } = await awayAgents(open, server);
    await startChat(open, server, 'Ada', 'Lovelace');
    const ben = await startChat(open, server, 'Ben', 'Shopper');
    for (const page of [alice, bob]) {
      await waitingItem(page, 'Ada Lovelace').waitFor();
      await waitingItem(page, 'Ben Shopper').waitFor();
    }
    assert.equal(await c(bob, 'waiting-place').nth(1).textContent(), 'General · #2 in line');

    // Bob's list stops refreshing (his requests fail), so it still shows Ada after Alice took her.
    await bob.route('**/v1/queues/*/waiting', (route) => route.abort());
    await pickWaiting(alice, 'Ada Lovelace');
    await c(alice, 'load').filter({ hasText: '1/1' }).waitFor();
    await c(bob, 'waiting-error').filter({ hasText: 'Could not refresh the waiting chats' }).waitFor();
    await c(waitingItem(bob, 'Ada Lovelace'), 'pick').click();
    await c(bob, 'waiting-error').filter({ hasText: 'Could not pick the chat with Ada Lovelace: the chat is no longer waiting' }).waitFor();
    assert.equal(await c(bob, 'chat-item').count(), 0, 'Bob did not get the chat');

    // Alice, at her limit of 1, cannot pick Ben: the panel says so and Ben still waits.
    await c(waitingItem(alice, 'Ben Shopper'), 'pick').click();
    await c(alice, 'waiting-error').filter({ hasText: 'agent is at capacity' }).waitFor();
    await until(async () => (await c(waitingItem(alice, 'Ben Shopper'), 'pick').isEnabled()), 'Ben pickable again');
    assert.equal(await c(alice, 'chat-item').count(), 1, 'Alice still has one chat');
    assert.equal(await w(ben, 'sys-joined').count(), 0, 'nobody joined Ben');

    // Bob's list refreshes again: Ada is gone; he picks Ben.
    await bob.unroute('**/v1/queues/*/waiting');
    await waitingItem(bob, 'Ada Lovelace').waitFor({ state: 'detached' });
    await pickWaiting(bob, 'Ben Shopper');
    await w(ben, 'sys-joined').filter({ hasText: 'Bob Agent joined the chat' }).waitFor();
    await waitingItem(alice, 'Ben Shopper').waitFor({ state: 'detached' });
    await c(alice, 'no-waiting').waitFor();
    assert.deepEqual(errors, []);
  }, { orgs });
});

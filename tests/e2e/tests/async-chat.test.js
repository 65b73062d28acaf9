// Asynchronous chat (seed 004): with the org's `owner_leaves: "async"`, the agent leaves and the
// chat stays open; the customer reloads the page later, writes again, and the same agent gets it
// back first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('an asynchronous chat: the agent leaves, the customer comes back later to the same agent', async () => {
  const orgs = [testOrg('e2e', { owner_leaves: 'async' })];
  await scenario(browser, 'async chat', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    const customer = await open('customer', demoUrl(server));
    await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    const { conversation, pane } = await acceptOffer(alice);
    await customerSays(customer, 'Can you check where my parcel is?');
    await c(pane, 'msg-customer').filter({ hasText: 'parcel' }).waitFor();
    await agentSays(pane, 'I will ask the carrier and get back to you.');
    await w(customer, 'msg-agent').filter({ hasText: 'carrier' }).waitFor();

    // Alice leaves; the chat stays open for the customer, with nobody in it.
    await c(pane, 'leave').click();
    await c(pane, 'confirm-leave').click();
    await w(customer, 'sys-parked').waitFor();
    await w(customer, 'sys-left').filter({ hasText: 'Alice Agent left the chat' }).waitFor();
    await w(customer, 'status').filter({ hasText: 'Write any time' }).waitFor();
    assert.ok(await w(customer, 'queue').isHidden(), 'not queued while nobody is needed');

    // Later: the page reloads (the widget resumes the open chat) and the customer writes.
    await customer.reload();
    await w(customer, 'sys-parked').waitFor();
    await customerSays(customer, 'Any news about my parcel?');
    await w(customer, 'status').filter({ hasText: 'Waiting for an agent' }).waitFor();

    // Alice is offered it again (first, as the previous agent) and has the whole transcript.
    const again = await acceptOffer(alice);
    assert.equal(again.conversation, conversation);
    await c(again.pane, 'msg-customer').filter({ hasText: 'Any news' }).waitFor();
    await c(again.pane, 'msg-customer').filter({ hasText: 'where my parcel is' }).waitFor();
    await w(customer, 'status').filter({ hasText: 'Chatting with Alice Agent' }).waitFor();
    await agentSays(again.pane, 'It arrives tomorrow.');
    await w(customer, 'msg-agent').filter({ hasText: 'arrives tomorrow' }).waitFor();
    assert.deepEqual(errors, []);
  }, { orgs });
});

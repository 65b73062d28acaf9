// Chats between agents (agent_chat, issue 12): an agent starts a chat with another agent from the
// console's Chat-with-an-agent form; the other agent gets an invitation ("Alice Agent wants to
// chat with you"), accepts or rejects it. The chat has no customer: the pane names the other
// agent, shows no customer details, no transfer / invite / monitoring controls and no internal
// discussion (it is internal), and it never counts toward the agents' load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, c, signInAgent, agentSays, acceptOffer, testOrg,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** The chat pane the console shows (one at a time). */
const shownPane = (page) => page.locator('section[data-t=chat]');
const chatItem = (page, conversation) => page.locator(`[data-t=chat-item][data-conversation="${conversation}"]`);

/** Alice and Bob signed in (away: no customer chats come their way). */
async function setUp(server, open) {
  const alice = await open('alice', `${server.url}/console`);
  await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }), { available: false });
  const bob = await open('bob', `${server.url}/console`);
  await signInAgent(bob, token('agent', 'bob', { name: 'Bob Agent' }), { available: false });
  return { alice, bob };
}

/** Fills and sends the Chat-with-an-agent form (opening it when closed). */
async function chatWithAgent(page, to, text) {
  if (await c(page, 'agent-chat-form').isHidden()) await c(page, 'agent-chat-open').click();
  if (to) await c(page, 'agent-chat-to').locator(`option[value="${to}"]`).waitFor({ state: 'attached' });
  await c(page, 'agent-chat-to').selectOption(to || '');
  await c(page, 'agent-chat-text').fill(text);
  await c(page, 'agent-chat-go').click();
}

test('an agent chats with another agent: invitation, messages both ways, no load; the other leaves, the chat ends', async () => {
  await scenario(browser, 'agent chat', async ({ server, open, errors }) => {
    const { alice, bob } = await setUp(server, open);
    await c(alice, 'load').filter({ hasText: '0/3 chats' }).waitFor();
    await c(bob, 'load').filter({ hasText: '0/3 chats' }).waitFor();

    // The picker lists the other agents with their presence (not Alice herself).
    await c(alice, 'agent-chat-open').click();
    const bobPresence = await bob.locator('[data-t=presence]').inputValue();
    await c(alice, 'agent-chat-to').locator('option[value="bob"]', { hasText: `Bob Agent – ${bobPresence}` }).waitFor({ state: 'attached' });
    await c(alice, 'agent-chat-to').locator('option[value="carol"]', { hasText: 'Carol Agent – offline' }).waitFor({ state: 'attached' });
    assert.equal(await c(alice, 'agent-chat-to').locator('option[value="alice"]').count(), 0, 'not herself');

    await chatWithAgent(alice, 'bob', 'Got a minute about order 42?');
    const pane = shownPane(alice);
    await c(pane, 'chat-title').filter({ hasText: 'Chat with Bob Agent' }).waitFor();
    await c(alice, 'agent-chat-form').waitFor({ state: 'hidden' });
    assert.equal(await c(alice, 'agent-chat-error').textContent(), '');
    const conversation = await pane.getAttribute('data-conversation');
    await c(pane, 'sys-created').filter({ hasText: 'Chat between agents started by Alice Agent' }).waitFor();
    await c(pane, 'msg-agent').filter({ hasText: 'order 42' }).waitFor();
    await c(pane, 'banner').filter({ hasText: 'Waiting for Bob Agent to accept' }).waitFor();
    await c(pane, 'chat-sub').filter({ hasText: 'agents only' }).waitFor();
    // Listed apart from customer chats, named after Bob.
    await c(chatItem(alice, conversation), 'chat-internal').filter({ hasText: 'Internal' }).waitFor();
    await c(chatItem(alice, conversation), 'chat-name').filter({ hasText: 'Bob Agent' }).waitFor();
    // No customer, so nothing to transfer, invite to or discuss internally.
    await c(pane, 'end').waitFor();
    assert.equal(await c(pane, 'transfer').count(), 0, 'no Transfer');
    assert.equal(await c(pane, 'invite').count(), 0, 'no Invite');
    assert.ok(await c(pane, 'internal-thread').isHidden(), 'no internal discussion');
    assert.ok(await c(pane, 'internal-composer').isHidden(), 'no internal composer');
    assert.ok(await c(pane, 'note-label').isHidden(), 'no notes: all of it is agents only');
    assert.ok(await c(pane, 'monitoring-customer').isHidden(), 'no customer notification level');

    // Bob is asked, without any customer named.
    const card = c(bob, 'invitation');
    await card.waitFor();
    assert.equal(await card.getAttribute('data-conversation'), conversation);
    assert.equal(await card.getAttribute('data-internal'), 'true');
    await c(card, 'invite-what').filter({ hasText: 'Alice Agent wants to chat with you' }).waitFor();
    assert.doesNotMatch(await card.textContent(), /customer/i);
    assert.match(await c(card, 'countdown').textContent(), /^\d+s$/);
    const { pane: bobPane } = await acceptOffer(bob, 'invitation');
    await card.waitFor({ state: 'detached' });
    await c(bobPane, 'chat-title').filter({ hasText: 'Chat with Alice Agent' }).waitFor();
    await c(bobPane, 'msg-agent').filter({ hasText: 'order 42' }).waitFor();
    await c(chatItem(bob, conversation), 'chat-internal').waitFor();
    await c(bobPane, 'composer').waitFor();
    assert.equal(await c(bobPane, 'transfer').count(), 0);
    assert.equal(await c(bobPane, 'invite').count(), 0);
    assert.ok(await c(bobPane, 'internal-thread').isHidden());
    await c(pane, 'sys-invite-ended').filter({ hasText: 'Bob Agent accepted the chat' }).waitFor();
    await c(pane, 'banner').waitFor({ state: 'hidden' });

    // They talk, both ways; each sees the other's messages as the other's.
    await agentSays(bobPane, 'Sure, what about it?');
    await c(pane, 'msg-agent').filter({ hasText: 'what about it' }).waitFor();
    assert.equal(await c(pane, 'msg-agent').filter({ hasText: 'what about it' }).getAttribute('data-author'), 'bob');
    await agentSays(pane, 'The customer wants it gift-wrapped.');
    await c(bobPane, 'msg-agent').filter({ hasText: 'gift-wrapped' }).waitFor();
    await agentSays(bobPane, 'Done, I added the note.');
    await c(pane, 'msg-agent').filter({ hasText: 'added the note' }).waitFor();

    // Internal chats are not customer work: neither load moved.
    assert.equal(await c(alice, 'load').textContent(), '0/3 chats');
    assert.equal(await c(bob, 'load').textContent(), '0/3 chats');

    // A reload brings the chat back as it was (from the log): still between agents, still no load.
    await alice.reload();
    await alice.locator('#net.ok').waitFor();
    await c(pane, 'chat-title').filter({ hasText: 'Chat with Bob Agent' }).waitFor();
    await c(pane, 'msg-agent').filter({ hasText: 'added the note' }).waitFor();
    await c(chatItem(alice, conversation), 'chat-internal').waitFor();
    await c(alice, 'load').filter({ hasText: '0/3 chats' }).waitFor();
    assert.equal(await c(pane, 'transfer').count(), 0);
    await c(pane, 'end').waitFor();

    // Bob leaves; Alice is told, then ends the chat: nothing to wrap up, she closes it.
    await c(bobPane, 'leave').click();
    await c(bobPane, 'banner').filter({ hasText: 'You left this chat.' }).waitFor();
    await c(bobPane, 'composer').waitFor({ state: 'hidden' });
    await c(pane, 'sys-participant-left').filter({ hasText: 'Bob Agent left' }).waitFor();
    await c(pane, 'banner').filter({ hasText: 'Bob Agent is not in this chat any more' }).waitFor();
    await c(pane, 'end').click();
    await c(pane, 'confirm-end').click();
    await c(pane, 'sys-ended').filter({ hasText: 'Chat ended by Alice Agent' }).waitFor();
    await c(pane, 'composer').waitFor({ state: 'hidden' });
    assert.equal(await c(pane, 'wrapup').count(), 0, 'no wrap-up for a chat between agents');
    await chatItem(alice, conversation).filter({ hasText: 'Ended' }).waitFor();
    await c(pane, 'close').click();
    await chatItem(alice, conversation).waitFor({ state: 'detached' });
    assert.equal(await c(alice, 'load').textContent(), '0/3 chats');
    assert.deepEqual(errors, []);
  }, { orgs: [testOrg('e2e')] });
});

test('the form shows the server’s refusals; a rejected chat ends on the requester’s side', async () => {
  await scenario(browser, 'agent chat rejected', async ({ server, open, errors }) => {
    const { alice, bob } = await setUp(server, open);

    // Nothing chosen: said in the form without asking the server.
    await chatWithAgent(alice, '', 'Hello?');
    await c(alice, 'agent-chat-error').filter({ hasText: 'Choose an agent.' }).waitFor();
    // Carol is not signed in: the server's reason, no chat.
    await chatWithAgent(alice, 'carol', 'Are you there?');
    await c(alice, 'agent-chat-error').filter({ hasText: 'Could not start the chat' }).waitFor();
    assert.ok(await c(alice, 'agent-chat-form').isVisible(), 'the form stays open to correct');
    assert.equal(await c(alice, 'chat-item').count(), 0);

    // Bob says no: the chat ends at once on Alice's side; Bob has no chat.
    await chatWithAgent(alice, 'bob', 'Can you cover my queue for ten minutes?');
    const pane = shownPane(alice);
    await c(pane, 'chat-title').filter({ hasText: 'Chat with Bob Agent' }).waitFor();
    const conversation = await pane.getAttribute('data-conversation');
    const card = c(bob, 'invitation');
    await c(card, 'invite-what').filter({ hasText: 'Alice Agent wants to chat with you' }).waitFor();
    await c(card, 'reject').click();
    await card.waitFor({ state: 'detached' });
    await c(pane, 'sys-invite-ended').filter({ hasText: 'Bob Agent declined the chat' }).waitFor();
    await c(pane, 'sys-ended').waitFor();
    await chatItem(alice, conversation).filter({ hasText: 'Ended' }).waitFor();
    await c(pane, 'composer').waitFor({ state: 'hidden' });
    await c(pane, 'close').waitFor();
    assert.equal(await c(pane, 'end').count(), 0);
    assert.equal(await c(bob, 'chat-item').count(), 0, 'Bob never joined');
    assert.equal(await c(alice, 'load').textContent(), '0/3 chats');
    assert.deepEqual(errors, []);
  }, { orgs: [testOrg('e2e')] });
});

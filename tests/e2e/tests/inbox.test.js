// The inbox (seed 001, issue 12): an agent of a chat's queue who is not in it sees it under Queue
// chats, opens it to view (the whole transcript, live) and writes in its internal discussion,
// never to the customer; the owner reads those messages, the customer never receives them; after
// the end the discussion is read-only. Agents of other queues do not see the chat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg, withAgents, internalSays, participant, texts, until,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** The test org with Dave, an agent of Billing only. */
const orgs = () => [withAgents(testOrg('e2e'), [{ id: 'dave', name: 'Dave Agent', queues: ['billing'] }])];

/** Every frame the page's console sends on its websocket, parsed (attach before signing in). */
function recordSent(page) {
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    try { sent.push(JSON.parse(f.payload)); } catch { /* not JSON */ }
  }));
  return sent;
}

/** Every frame the page's console receives on its websocket, parsed (attach before it connects). */
function recordReceived(page) {
  const got = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    try { got.push(JSON.parse(f.payload)); } catch { /* not JSON */ }
  }));
  return got;
}

/** Clicks Refresh in the Queue chats panel and waits for the answer to be drawn. */
async function refreshQueueChats(page) {
  const panel = c(page, 'queue-chats-panel');
  await panel.waitFor();
  const before = Number(await panel.getAttribute('data-loads') || 0);
  await c(page, 'queue-chats-refresh').click();
  await until(async () => Number(await panel.getAttribute('data-loads') || 0) > before, 'the queue chats to refresh');
}

/** Everything the widget received (its stored log) and everything its page shows. */
async function customerView(customer) {
  return customer.evaluate(() => ({
    events: Object.keys(localStorage).filter((k) => k.startsWith('switchboard:'))
      .flatMap((k) => JSON.parse(localStorage.getItem(k)).events || []),
    text: document.getElementById('switchboard-widget').shadowRoot.textContent,
  }));
}

/** The customer never received an agents-only event, nor any of `secrets`. */
async function assertCustomerSawNothing(customer, secrets, why) {
  const { events, text } = await customerView(customer);
  const agentsOnly = events.filter((e) => e.visibility !== 'public' || e.kind === 'internal');
  assert.deepEqual(agentsOnly.map((e) => e.kind), [], `the customer received no agents-only event (${why})`);
  for (const s of secrets) {
    assert.ok(!text.includes(s), `the customer's page never shows “${s}” (${why})`);
    assert.ok(!JSON.stringify(events).includes(s), `the customer never received “${s}” (${why})`);
  }
}

/**
 * Bob and Dave sign in away (no offers); Alice, available, takes Grace's chat and they talk.
 * Bob's sent frames are recorded.
 */
async function setUp(server, open) {
  const bob = await open('bob', `${server.url}/console`);
  const bobSent = recordSent(bob);
  await signInAgent(bob, token('agent', 'bob', { name: 'Bob Agent', queues: 'general' }), { available: false });
  await c(bob, 'no-queue-chats').waitFor();
  const dave = await open('dave', `${server.url}/console`);
  await signInAgent(dave, token('agent', 'dave', { name: 'Dave Agent', queues: 'billing' }), { available: false });
  const alice = await open('alice', `${server.url}/console`);
  await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent', queues: 'general' }));
  const customer = await open('customer', demoUrl(server));
  await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
  const { conversation, pane } = await acceptOffer(alice);
  await customerSays(customer, 'My boots arrived with a broken heel.');
  await c(pane, 'msg-customer').filter({ hasText: 'broken heel' }).waitFor();
  await agentSays(pane, 'Sorry to hear that, let me check.');
  await w(customer, 'msg-agent').filter({ hasText: 'let me check' }).waitFor();
  return { alice, bob, bobSent, dave, customer, conversation, pane };
}

/** Bob opens the chat from Queue chats; returns his pane. */
async function bobViews(bob, conversation) {
  await refreshQueueChats(bob);
  const item = bob.locator(`[data-t=queue-chat-item][data-conversation="${conversation}"]`);
  await item.click();
  const pane = bob.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
  await pane.waitFor();
  await c(pane, 'msg-agent').filter({ hasText: 'let me check' }).waitFor();
  return { item, pane };
}

test('an agent of the queue views a colleague’s chat and writes in its internal discussion; the customer never sees it', async () => {
  await scenario(browser, 'inbox view', async ({ server, open, errors }) => {
    const { alice, bob, bobSent, dave, customer, conversation, pane } = await setUp(server, open);

    // Bob (same queue, not in the chat) finds it under Queue chats: customer, queue, owner, status, age.
    await refreshQueueChats(bob);
    const item = bob.locator(`[data-t=queue-chat-item][data-conversation="${conversation}"]`);
    await item.waitFor();
    assert.equal(await c(item, 'queue-chat-name').textContent(), 'Grace Hopper');
    assert.equal(await c(item, 'queue-chat-queue').textContent(), 'General');
    assert.equal(await c(item, 'queue-chat-owner').textContent(), 'Alice Agent');
    assert.equal(await c(item, 'queue-chat-status').textContent(), 'In progress');
    assert.match(await c(item, 'queue-chat-time').textContent(), /^Open \d+:\d\d$/);
    assert.equal(await item.getAttribute('data-viewing'), 'false');
    assert.ok(await c(bob, 'no-queue-chats').isHidden());
    assert.equal(await c(bob, 'chat-item').count(), 0, 'not in Bob’s chats until he opens it');

    // Alice is in it: not listed for her. Dave (Billing only) does not see it at all.
    await refreshQueueChats(alice);
    assert.equal(await c(alice, 'queue-chat-item').count(), 0, 'the owner’s own chat is not a queue chat for her');
    await refreshQueueChats(dave);
    assert.equal(await c(dave, 'queue-chat-item').count(), 0, 'an agent of another queue does not see it');
    await c(dave, 'no-queue-chats').waitFor();

    // Bob opens it: the transcript, read-only; the internal discussion beside it.
    await item.click();
    const bobPane = bob.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
    await bobPane.waitFor();
    await c(bobPane, 'msg-customer').filter({ hasText: 'broken heel' }).waitFor();
    await c(bobPane, 'msg-agent').filter({ hasText: 'let me check' }).waitFor();
    await c(bobPane, 'sys-created').filter({ hasText: 'Chat started by Grace Hopper' }).waitFor();
    await c(bobPane, 'banner').filter({ hasText: 'Viewing: you are not in this chat. Write to the agents in the internal discussion.' }).waitFor();
    assert.equal(await c(bobPane, 'chat-title').textContent(), 'Grace Hopper');
    assert.ok(await c(bobPane, 'composer').isHidden(), 'no customer composer');
    await c(bobPane, 'internal-composer').waitFor();
    assert.ok(await c(bobPane, 'internal-readonly').isHidden());
    for (const control of ['transfer', 'invite', 'end', 'leave', 'close', 'wrapup', 'monitor-observe', 'monitor-coach', 'monitor-barge']) {
      assert.equal(await c(bobPane, control).count(), 0, `no ${control} control for a viewer`);
    }
    await c(bobPane, 'stop-viewing').waitFor();
    await participant(bobPane, 'alice').filter({ hasText: 'owner' }).waitFor();
    assert.equal(await participant(bobPane, 'bob').count(), 0, 'Bob holds no role');
    // Listed with a Viewing tag, and marked under Queue chats.
    const chatItem = bob.locator(`[data-t=chat-item][data-conversation="${conversation}"]`);
    await c(chatItem, 'chat-viewing').filter({ hasText: 'Viewing' }).waitFor();
    assert.equal(await chatItem.getAttribute('data-viewing'), 'true');
    await c(item, 'queue-chat-viewing').waitFor();
    assert.equal(await item.getAttribute('data-viewing'), 'true');

    // Bob writes in the internal discussion; Alice reads it; they talk there.
    await internalSays(bobPane, 'Check the warranty first: heels are covered for two years.');
    const fromBob = c(pane, 'internal-msg').filter({ hasText: 'heels are covered' });
    await fromBob.waitFor();
    assert.equal(await c(fromBob, 'internal-author').textContent(), 'Bob Agent');
    await c(bobPane, 'internal-msg').filter({ hasText: 'heels are covered' }).waitFor();
    await c(bobPane, 'internal-pending').waitFor({ state: 'detached' });
    await internalSays(pane, 'Thanks, starting a warranty claim.');
    await c(bobPane, 'internal-msg').filter({ hasText: 'warranty claim' }).waitFor();
    assert.deepEqual(await texts(c(bobPane, 'internal-author')), ['Bob Agent', 'Alice Agent']);
    // Bob follows the chat live, and Alice's page shows nothing of him but his messages.
    await customerSays(customer, 'Is it covered?');
    await c(bobPane, 'msg-customer').filter({ hasText: 'Is it covered?' }).waitFor();
    await agentSays(pane, 'Yes, it is covered by the warranty.');
    await c(bobPane, 'msg-agent').filter({ hasText: 'covered by the warranty' }).waitFor();
    assert.equal(await participant(pane, 'bob').count(), 0, 'Bob is no participant for Alice');
    assert.ok(!(await c(pane, 'transcript').textContent()).includes('Bob'), 'nothing of Bob in Alice’s transcript');

    // The customer got Alice's answer (so everything before it) and nothing of Bob.
    await w(customer, 'msg-agent').filter({ hasText: 'covered by the warranty' }).waitFor();
    await assertCustomerSawNothing(customer, ['heels are covered', 'warranty claim', 'Bob'], 'while Bob views the chat');

    // The customer ends the chat: Bob's internal discussion is read-only, the thread stays.
    await w(customer, 'end').click();
    await w(customer, 'confirm-end-yes').click();
    await c(bobPane, 'sys-ended').waitFor();
    await c(bobPane, 'internal-readonly').waitFor();
    await c(bobPane, 'internal-composer').waitFor({ state: 'hidden' });
    await c(bobPane, 'banner').filter({ hasText: 'this chat has ended' }).waitFor();
    await c(bobPane, 'internal-msg').filter({ hasText: 'heels are covered' }).waitFor();
    assert.ok(await c(bobPane, 'composer').isHidden(), 'still no customer composer');
    assert.equal(await c(bobPane, 'wrapup').count(), 0, 'no wrap-up for a viewer');
    await c(chatItem, 'chat-viewing').waitFor();

    // Bob never wrote to the customer, typed, read or noted; he only resumed and wrote internally.
    const toChat = bobSent.filter((f) => f.conversation === conversation).map((f) => f.type);
    for (const kind of ['send', 'typing', 'read', 'note', 'accept', 'pick', 'monitor']) {
      assert.ok(!toChat.includes(kind), `Bob sent no ${kind} (sent: ${toChat.join(', ')})`);
    }
    assert.ok(toChat.includes('resume') && toChat.includes('internal'), `Bob resumed and wrote internally (sent: ${toChat.join(', ')})`);

    // Stop viewing: out of his list, unfollowed; the ended chat leaves Queue chats.
    await c(bobPane, 'stop-viewing').click();
    await chatItem.waitFor({ state: 'detached' });
    await bobPane.waitFor({ state: 'detached' });
    await until(() => bobSent.some((f) => f.type === 'unfollow' && f.conversation === conversation), 'Bob’s unfollow');
    await refreshQueueChats(bob);
    assert.equal(await c(bob, 'queue-chat-item').count(), 0, 'an ended chat is not a queue chat');
    assert.deepEqual(errors, []);
  }, { orgs: orgs() });
});

test('a viewed chat survives a reload; after Stop viewing nothing more of it arrives', async () => {
  await scenario(browser, 'inbox reload stop', async ({ server, open, errors }) => {
    const { bob, bobSent, conversation, pane, customer } = await setUp(server, open);
    const { item } = await bobViews(bob, conversation);
    await c(item, 'queue-chat-viewing').waitFor();

    // A reload: the chat is still viewed (tag, banner, thread), rebuilt from the log.
    await internalSays(pane, 'Bob, any idea about broken heels?');
    const bobPane = bob.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
    await c(bobPane, 'internal-msg').filter({ hasText: 'any idea' }).waitFor();
    const received = recordReceived(bob); // the socket after the reload
    await bob.reload();
    await bob.locator('#net.ok').waitFor();
    const chatItem = bob.locator(`[data-t=chat-item][data-conversation="${conversation}"]`);
    await c(chatItem, 'chat-viewing').waitFor();
    await bobPane.waitFor();
    await c(bobPane, 'banner').filter({ hasText: 'Viewing: you are not in this chat' }).waitFor();
    await c(bobPane, 'internal-msg').filter({ hasText: 'any idea' }).waitFor();
    assert.equal(await c(bobPane, 'internal-msg').count(), 1, 'the thread, once');
    assert.ok(await c(bobPane, 'composer').isHidden(), 'no customer composer after the reload');
    await internalSays(bobPane, 'Warranty covers heels.');
    await c(pane, 'internal-msg').filter({ hasText: 'Warranty covers heels' }).waitFor();

    // Live events still come after the reload.
    await customerSays(customer, 'Hello again');
    await c(bobPane, 'msg-customer').filter({ hasText: 'Hello again' }).waitFor();

    // Stop viewing; later events of the chat do not bring it back.
    await c(bobPane, 'stop-viewing').click();
    await chatItem.waitFor({ state: 'detached' });
    // The server acknowledged the unfollow (an ack with the unfollow's id): nothing follows it.
    const unfollow = await until(() => bobSent.find((f) => f.type === 'unfollow' && f.conversation === conversation), 'Bob’s unfollow');
    await until(() => received.some((f) => f.type === 'ack' && f.id === unfollow.id), 'the unfollow’s ack');
    const mark = received.length;
    await internalSays(pane, 'Are you still reading, Bob?');
    await agentSays(pane, 'We will send a replacement.');
    await customerSays(customer, 'Thank you!');
    await c(pane, 'msg-customer').filter({ hasText: 'Thank you!' }).waitFor();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await chatItem.count(), 0, 'the chat does not come back');
    assert.equal(await bob.locator(`section[data-t=chat][data-conversation="${conversation}"]`).count(), 0);
    assert.equal(await bob.evaluate((id) => window.switchboardConsole.lastSeq(id), conversation), 0, 'no events kept');
    assert.deepEqual(received.slice(mark).filter((f) => f.conversation === conversation).map((f) => f.type), [], 'no frame of the chat after the unfollow');

    // Still listed under Queue chats (open, Bob not in it), no longer marked; he can view it again.
    await refreshQueueChats(bob);
    assert.equal(await item.getAttribute('data-viewing'), 'false');
    await item.click();
    await bobPane.waitFor();
    await c(bobPane, 'msg-customer').filter({ hasText: 'Thank you!' }).waitFor();
    await c(bobPane, 'internal-msg').filter({ hasText: 'still reading' }).waitFor();
    assert.deepEqual(errors, []);
  }, { orgs: orgs() });
});

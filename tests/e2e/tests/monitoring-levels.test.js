// Per-chat monitoring levels (seed 002): each chat has a three-way switch – no notifications,
// the customer's activity, every action – kept per agent and chat across reloads. A matching new
// event in a chat that is not in view raises a notification (always in the page, data-t
// `notification`; from the browser too when it is allowed); the agent's own actions, the chat in
// view and replayed history never do. The levels are the server's (any browser of the agent).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, openChat, invite, internalSays, until, texts,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const notes = (page, conversation) => page.locator(`[data-t=notification][data-conversation="${conversation}"]`);
const lastSeq = (page, conversation) => page.evaluate((id) => window.switchboardConsole.lastSeq(id), conversation);

/** Alice takes one chat per customer, in turn. */
async function takeChats(server, open, alice, people) {
  const chats = {};
  for (const [first, last] of people) {
    const customer = await open(`customer-${first}`, demoUrl(server), { viewport: { width: 900, height: 700 } });
    await fillPrechat(customer, { first, last, email: `${first.toLowerCase()}@example.com` });
    const { conversation } = await acceptOffer(alice);
    await c(alice, 'offer').waitFor({ state: 'detached' });
    chats[first] = { customer, conversation };
  }
  return chats;
}

/** The customer writes; Alice's console has the message (logged and delivered) once this returns. */
async function customerWrites(alice, chat, text) {
  const before = await lastSeq(alice, chat.conversation);
  await customerSays(chat.customer, text);
  await until(async () => (await lastSeq(alice, chat.conversation)) > before, `Alice to receive “${text}”`);
}

async function level(pane) {
  const m = c(pane, 'monitoring');
  await m.waitFor();
  return [await m.getAttribute('data-level'), await m.getAttribute('data-explicit')];
}

test('monitoring levels: none, all, customer; notifications only for chats not in view; kept across a reload and on another browser', async () => {
  await scenario(browser, 'monitoring levels', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    const { Ada: a, Grace: b, Ben: other } = await takeChats(server, open, alice, [['Ada', 'Lovelace'], ['Grace', 'Hopper'], ['Ben', 'Shopper']]);
    const bob = await open('bob', `${server.url}/console`);
    await signInAgent(bob, token('agent', 'bob', { name: 'Bob Agent' }));

    // Defaults: the chats Alice owns notify of the customer's activity.
    const paneA = await openChat(alice, a.conversation);
    assert.deepEqual(await level(paneA), ['customer', 'false']);
    await c(paneA, 'monitoring-none').click();
    assert.deepEqual(await level(paneA), ['none', 'true']);
    const paneB = await openChat(alice, b.conversation);
    assert.deepEqual(await level(paneB), ['customer', 'false']);
    await c(paneB, 'monitoring-all').click();
    assert.deepEqual(await level(paneB), ['all', 'true']);
    assert.equal(await c(paneB, 'monitoring-all').getAttribute('aria-checked'), 'true');
    // Bob is invited to consult on B (Alice's own action: never a notification).
    await invite(paneB, 'bob', 'consult');
    const paneOther = await openChat(alice, other.conversation);

    // A is set to none: its customer writing raises nothing (the unread count still shows).
    await customerWrites(alice, a, 'Is my parcel lost? (A)');
    await alice.locator(`[data-t=chat-item][data-conversation="${a.conversation}"] [data-t=unread]`).filter({ hasText: '1' }).waitFor();
    // The chat in view: nothing either.
    await customerWrites(alice, other, 'Hello from Ben');
    await c(paneOther, 'msg-customer').filter({ hasText: 'Hello from Ben' }).waitFor();
    assert.equal(await c(alice, 'notification').count(), 0, 'no notification for a chat set to none, nor for the chat in view');

    // B is set to all: another agent joining, the internal discussion, the customer – each notifies.
    const { pane: bobPane } = await acceptOffer(bob, 'invitation');
    await notes(alice, b.conversation).filter({ hasText: 'Bob Agent joined as consultant' }).waitFor();
    await internalSays(bobPane, 'Check the warranty first.');
    await notes(alice, b.conversation).filter({ hasText: 'Bob Agent (internal): Check the warranty first.' }).waitFor();
    await customerWrites(alice, b, 'Any news?');
    const news = notes(alice, b.conversation).filter({ hasText: 'Grace Hopper: Any news?' });
    await news.waitFor();
    assert.equal(await c(news, 'notification-chat').textContent().then((t) => t.startsWith('Chat with Grace Hopper')), true);
    assert.equal(await notes(alice, a.conversation).count(), 0, 'still nothing for A');
    assert.equal(await notes(alice, other.conversation).count(), 0, 'nothing for the chat in view');

    // Opening B clears its notifications; B goes to customer activity only.
    await openChat(alice, b.conversation);
    assert.equal(await notes(alice, b.conversation).count(), 0, 'notifications of the chat in view are gone');
    await c(paneB, 'monitoring-customer').click();
    assert.deepEqual(await level(paneB), ['customer', 'true']);
    await openChat(alice, other.conversation);
    // An agent's internal message: nothing; then the customer: a notification (after the former:
    // events of a chat arrive in order, so the internal one was handled already).
    await internalSays(bobPane, 'Second thought: offer a refund.');
    await customerWrites(alice, b, 'Still there?');
    await notes(alice, b.conversation).filter({ hasText: 'Grace Hopper: Still there?' }).waitFor();
    assert.deepEqual(await texts(notes(alice, b.conversation).locator('[data-t=notification-text]')), ['Grace Hopper: Still there?']);
    // A notification opens its chat.
    await c(notes(alice, b.conversation), 'notification-open').click();
    await alice.locator(`section[data-t=chat][data-conversation="${b.conversation}"]`).waitFor();
    await notes(alice, b.conversation).waitFor({ state: 'detached' });
    await openChat(alice, other.conversation);

    // A reload: the replayed history raises nothing; the levels are kept.
    const seqs = {};
    for (const x of [a, b, other]) seqs[x.conversation] = await lastSeq(alice, x.conversation);
    await alice.reload();
    await alice.locator('#net.ok').waitFor();
    for (const [id, seq] of Object.entries(seqs)) {
      await until(async () => (await lastSeq(alice, id)) >= seq, `the replay of ${id} after the reload`);
    }
    assert.equal(await c(alice, 'notification').count(), 0, 'no notification for replayed history');
    assert.deepEqual(await level(await openChat(alice, a.conversation)), ['none', 'true']);
    assert.deepEqual(await level(await openChat(alice, b.conversation)), ['customer', 'true']);
    assert.deepEqual(await level(await openChat(alice, other.conversation)), ['customer', 'false']);
    await customerWrites(alice, a, 'Hello? (A again)');
    await customerWrites(alice, b, 'After the reload');
    await notes(alice, b.conversation).filter({ hasText: 'Grace Hopper: After the reload' }).waitFor();
    assert.equal(await notes(alice, a.conversation).count(), 0, 'A is still set to none');
    assert.equal(await c(alice, 'notification').count(), 1);

    // Another browser (nothing in its storage): the server keeps Alice's levels.
    const laptop = await open('alice-laptop', `${server.url}/console`);
    await signInAgent(laptop, token('agent', 'alice', { name: 'Alice Agent' }), { available: false });
    await until(async () => (await level(await openChat(laptop, a.conversation)))[0] === 'none', 'A set to none on the other browser');
    assert.deepEqual(await level(await openChat(laptop, a.conversation)), ['none', 'true']);
    assert.deepEqual(await level(await openChat(laptop, b.conversation)), ['customer', 'true']);
    assert.deepEqual(await level(await openChat(laptop, other.conversation)), ['customer', 'false']);
    assert.deepEqual(errors, []);
  });
});

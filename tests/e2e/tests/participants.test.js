// Participants (participants-spec): a conference of three agents, a consultation turned into a
// transfer, and a supervisor who observes, coaches and barges in. The customer's page must show
// the public joins and leaves and nothing of what only agents see.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, openChat, testOrg, withAgents, invite, internalSays, participant, texts,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/**
 * Alice holds a chat with Grace; the other agents sign in once she has it (available: the only
 * customer is already assigned, so they get no offers).
 */
async function setUp(server, open, others = []) {
  const alice = await open('alice', `${server.url}/console`);
  await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
  const customer = await open('customer', demoUrl(server));
  await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
  const { conversation, pane } = await acceptOffer(alice);
  await customerSays(customer, 'I would like a refund for my boots.');
  await c(pane, 'msg-customer').filter({ hasText: 'refund' }).waitFor();
  await agentSays(pane, 'Sure, one moment please.');
  await w(customer, 'msg-agent').filter({ hasText: 'one moment' }).waitFor();
  const pages = {};
  for (const [id, name, kind = 'agent', available = true] of others) {
    pages[id] = await open(id, `${server.url}/console`);
    await signInAgent(pages[id], token(kind, id, { name }), { available });
  }
  return { alice, customer, conversation, pane, ...pages };
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
  const agentsOnly = events.filter((e) => e.visibility !== 'public'
    || ['internal', 'invited', 'invite_ended'].includes(e.kind)
    || (['participant_joined', 'participant_left'].includes(e.kind) && ['consult', 'observer', 'coach'].includes(e.role))
    || (e.kind === 'role_changed' && e.to !== 'conference' && e.from !== 'conference'));
  assert.deepEqual(agentsOnly.map((e) => e.kind), [], `the customer received no agents-only event (${why})`);
  for (const s of secrets) {
    assert.ok(!text.includes(s), `the customer's page never shows “${s}” (${why})`);
    assert.ok(!JSON.stringify(events).includes(s), `the customer never received “${s}” (${why})`);
  }
}

test('a conference of three agents; the owner leaves and ownership passes on', async () => {
  await scenario(browser, 'participants conference', async ({ server, open, errors }) => {
    const { bob, carol, customer, conversation, pane } = await setUp(server, open, [['bob', 'Bob Agent'], ['carol', 'Carol Agent']]);

    // Alice invites Bob to a conference; Bob sees who, what, for whom, the note and a countdown.
    await invite(pane, 'bob', 'conference', 'Boots expert needed');
    await c(pane, 'sys-invited').filter({ hasText: 'Alice Agent invited Bob Agent as conference' }).waitFor();
    await c(pane, 'invitee').filter({ hasText: 'Bob Agent' }).waitFor();
    const card = c(bob, 'invitation');
    await card.waitFor();
    assert.equal(await card.getAttribute('data-conversation'), conversation);
    assert.equal(await card.getAttribute('data-role'), 'conference');
    assert.match(await c(card, 'invite-from').textContent(), /Conference · Alice Agent/);
    assert.match(await c(card, 'invite-what').textContent(), /Grace Hopper/);
    assert.equal(await c(card, 'invite-note').textContent(), '“Boots expert needed”');
    assert.match(await c(card, 'countdown').textContent(), /^\d+s$/);
    const { pane: bobPane } = await acceptOffer(bob, 'invitation');
    await card.waitFor({ state: 'detached' });

    // Everybody sees Bob join; Bob has the whole transcript and talks to the customer.
    await c(pane, 'sys-invite-ended').filter({ hasText: 'Invitation to Bob Agent accepted' }).waitFor();
    await c(pane, 'sys-participant-joined').filter({ hasText: 'Bob Agent joined the conference' }).waitFor();
    await participant(pane, 'bob').filter({ hasText: 'conference' }).waitFor();
    assert.equal(await c(pane, 'invitee').count(), 0, 'no invitation pending any more');
    await c(bobPane, 'msg-customer').filter({ hasText: 'refund' }).waitFor();
    await participant(bobPane, 'alice').filter({ hasText: 'owner' }).waitFor();
    await participant(bobPane, 'bob').filter({ hasText: 'conference' }).waitFor();
    await c(bobPane, 'composer').waitFor();
    assert.ok(await c(bobPane, 'note-label').isHidden(), 'notes are the owner’s');
    assert.equal(await c(bobPane, 'transfer').count(), 0, 'a conference participant cannot transfer');
    assert.equal(await c(bobPane, 'remove').count(), 0, 'nor remove anyone');
    await c(bobPane, 'leave').waitFor();
    await w(customer, 'sys-joined').filter({ hasText: 'Bob Agent joined the chat' }).waitFor();
    await agentSays(bobPane, 'Hi, Bob here: I know these boots well.');
    await w(customer, 'msg-agent').filter({ hasText: 'Bob here' }).waitFor();
    assert.equal(await w(customer, 'msg-agent').filter({ hasText: 'Bob here' }).locator('.sb-who').textContent(), 'Bob Agent');
    await c(pane, 'msg-agent').filter({ hasText: 'Bob here' }).waitFor();
    await customerSays(customer, 'Great, thanks both!');
    await c(bobPane, 'msg-customer').filter({ hasText: 'thanks both' }).waitFor();

    // Carol joins too.
    await invite(pane, 'carol', 'conference');
    const { pane: carolPane } = await acceptOffer(carol, 'invitation');
    await w(customer, 'sys-joined').filter({ hasText: 'Carol Agent joined the chat' }).waitFor();
    await c(pane, 'sys-participant-joined').filter({ hasText: 'Carol Agent joined the conference' }).waitFor();
    await participant(bobPane, 'carol').filter({ hasText: 'conference' }).waitFor();
    await c(carolPane, 'msg-agent').filter({ hasText: 'Bob here' }).waitFor();

    // Alice leaves: Bob joined the conference first, so he owns the chat now.
    await c(pane, 'leave').click();
    await c(pane, 'leave-what').filter({ hasText: 'Bob Agent becomes its owner' }).waitFor();
    await c(pane, 'confirm-leave').click();
    await c(pane, 'sys-ownership-changed').filter({ hasText: 'Ownership passed to Bob Agent' }).waitFor();
    await c(pane, 'banner').filter({ hasText: 'Bob Agent owns it now' }).waitFor();
    await c(pane, 'composer').waitFor({ state: 'hidden' });
    assert.equal(await c(pane, 'transfer').count(), 0, 'Alice no longer owns it');
    await c(bobPane, 'sys-ownership-changed').filter({ hasText: 'Ownership passed to Bob Agent' }).waitFor();
    await c(carolPane, 'sys-ownership-changed').filter({ hasText: 'Ownership passed to Bob Agent' }).waitFor();
    await participant(bobPane, 'bob').filter({ hasText: 'owner' }).waitFor();
    await c(bobPane, 'transfer').waitFor();
    await c(bobPane, 'invite').waitFor();
    await c(bobPane, 'end').waitFor();
    await participant(bobPane, 'carol').locator('[data-t=remove]').waitFor();
    assert.equal(await participant(bobPane, 'alice').count(), 0, 'Alice is gone from the list');
    await participant(carolPane, 'bob').filter({ hasText: 'owner' }).waitFor();
    assert.equal(await c(carolPane, 'transfer').count(), 0, 'Carol is still a participant');

    // The customer sees Alice leave and goes on with Bob.
    await w(customer, 'sys-left').filter({ hasText: 'Alice Agent left the chat' }).waitFor();
    await w(customer, 'status').filter({ hasText: 'Chatting with Bob Agent' }).waitFor();
    assert.equal(await w(customer, 'sys-transferred').count(), 0, 'not a transfer for the customer');
    await agentSays(bobPane, 'I am taking it from here.');
    await w(customer, 'msg-agent').filter({ hasText: 'taking it from here' }).waitFor();
    await assertCustomerSawNothing(customer, ['Boots expert needed'], 'conference');
    assert.deepEqual(errors, []);
  });
});

test('a consultation, then turned into a transfer', async () => {
  await scenario(browser, 'participants consultation', async ({ server, open, errors }) => {
    const { bob, customer, conversation, pane } = await setUp(server, open, [['bob', 'Bob Agent']]);

    await invite(pane, 'bob', 'consult', 'refund rules?');
    const card = c(bob, 'invitation');
    await card.filter({ hasText: 'Consultation' }).waitFor();
    assert.match(await c(card, 'invite-what').textContent(), /consult/);
    const { pane: bobPane } = await acceptOffer(bob, 'invitation');

    // Bob follows the chat but only writes to the agents.
    await c(bobPane, 'msg-customer').filter({ hasText: 'refund' }).waitFor();
    await c(bobPane, 'banner').filter({ hasText: 'You are consulting' }).waitFor();
    await c(bobPane, 'internal-composer').waitFor();
    assert.ok(await c(bobPane, 'composer').isHidden(), 'a consultant does not write to the customer');
    await c(pane, 'sys-participant-joined').filter({ hasText: 'Bob Agent joined as consultant' }).waitFor();
    await participant(pane, 'bob').filter({ hasText: 'consultant' }).waitFor();

    // They talk in the internal discussion.
    await internalSays(pane, 'Is 40 days too late for a refund?');
    const asked = c(bobPane, 'internal-msg').filter({ hasText: 'Is 40 days too late' });
    await asked.waitFor();
    assert.equal(await c(asked, 'internal-author').textContent(), 'Alice Agent');
    await internalSays(bobPane, 'No, boots have 60 days.');
    await c(pane, 'internal-msg').filter({ hasText: 'boots have 60 days' }).waitFor();
    assert.deepEqual(await texts(c(pane, 'internal-author')), ['Alice Agent', 'Bob Agent']);
    await c(pane, 'internal-pending').waitFor({ state: 'detached' });

    // Bob's page reloads: the replayed log rebuilds his role, the participants and the thread.
    await bob.reload();
    await bob.locator('#net.ok').waitFor();
    await openChat(bob, conversation);
    await c(bobPane, 'internal-msg').filter({ hasText: 'boots have 60 days' }).waitFor();
    assert.deepEqual(await texts(c(bobPane, 'internal-author')), ['Alice Agent', 'Bob Agent'], 'the thread, once');
    await participant(bobPane, 'alice').filter({ hasText: 'owner' }).waitFor();
    await participant(bobPane, 'bob').filter({ hasText: 'consultant' }).waitFor();
    await c(bobPane, 'banner').filter({ hasText: 'You are consulting' }).waitFor();
    assert.ok(await c(bobPane, 'composer').isHidden(), 'still no customer composer');

    // What the customer got after all that (a public message after it: everything before it
    // has been delivered): no internal text, no consultant.
    await agentSays(pane, 'Good news: you are within the refund period.');
    await w(customer, 'msg-agent').filter({ hasText: 'Good news' }).waitFor();
    await assertCustomerSawNothing(customer, ['40 days', '60 days', 'refund rules?', 'Bob'], 'during the consultation');
    assert.deepEqual(await texts(w(customer, 'sys-joined')), ['Alice Agent joined the chat']);

    // Alice hands the chat to Bob.
    await participant(pane, 'bob').locator('[data-t=convert-transfer]').click();
    await c(pane, 'sys-ownership-changed').filter({ hasText: 'Ownership passed to Bob Agent' }).waitFor();
    await c(pane, 'banner').filter({ hasText: 'Bob Agent owns it now' }).waitFor();
    await c(pane, 'composer').waitFor({ state: 'hidden' });
    assert.equal(await c(pane, 'transfer').count(), 0, 'Alice no longer owns it');
    assert.equal(await c(pane, 'invite').count(), 0, 'Alice no longer owns it');
    await c(bobPane, 'sys-ownership-changed').filter({ hasText: 'Ownership passed to Bob Agent' }).waitFor();
    await participant(bobPane, 'bob').filter({ hasText: 'owner' }).waitFor();
    await c(bobPane, 'transfer').waitFor();
    await c(bobPane, 'composer').waitFor();
    await c(bobPane, 'banner').waitFor({ state: 'hidden' });
    await c(bobPane, 'internal-msg').filter({ hasText: 'Is 40 days too late' }).waitFor();

    await w(customer, 'sys-joined').filter({ hasText: 'Bob Agent joined the chat' }).waitFor();
    await agentSays(bobPane, 'Hi, Bob here. I have started your refund.');
    await w(customer, 'msg-agent').filter({ hasText: 'Bob here' }).waitFor();
    await w(customer, 'status').filter({ hasText: 'Chatting with Bob Agent' }).waitFor();
    await customerSays(customer, 'Thank you Bob!');
    await c(bobPane, 'msg-customer').filter({ hasText: 'Thank you Bob!' }).waitFor();
    await assertCustomerSawNothing(customer, ['40 days', '60 days', 'refund rules?'], 'after the transfer');
    assert.deepEqual(errors, []);
  });
});

test('a supervisor observes, coaches, then barges in', async () => {
  const orgs = [withAgents(testOrg('e2e'), [{ id: 'sue', name: 'Sue Supervisor', queues: ['general'] }])];
  await scenario(browser, 'participants supervisor', async ({ server, open, errors }) => {
    const { alice, sue, customer, conversation, pane } = await setUp(server, open, [['sue', 'Sue Supervisor', 'supervisor', false]]);
    assert.ok(await c(alice, 'monitor').isHidden(), 'agents have no monitoring controls');

    // Sue opens the chat by its id and observes it.
    await c(sue, 'monitor').waitFor();
    await c(sue, 'monitor-id').fill(conversation);
    await c(sue, 'monitor-open').click();
    const suePane = sue.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
    await c(suePane, 'msg-customer').filter({ hasText: 'refund' }).waitFor();
    await c(suePane, 'monitor-observe').click();
    await c(suePane, 'sys-participant-joined').filter({ hasText: 'Sue Supervisor is observing' }).waitFor();
    await c(pane, 'sys-participant-joined').filter({ hasText: 'Sue Supervisor is observing' }).waitFor();
    await participant(pane, 'sue').filter({ hasText: 'observer' }).waitFor();
    await c(suePane, 'banner').filter({ hasText: 'observing' }).waitFor();
    assert.ok(await c(suePane, 'composer').isHidden(), 'an observer does not write to the customer');
    assert.ok(await c(suePane, 'internal-composer').isHidden(), 'nor to the agents');
    assert.ok(await c(suePane, 'monitor-observe').isDisabled(), 'already observing');

    // Coaching: Sue talks to Alice only.
    await c(suePane, 'monitor-coach').click();
    await c(pane, 'sys-role-changed').filter({ hasText: 'Sue Supervisor is coaching' }).waitFor();
    await c(suePane, 'internal-composer').waitFor();
    await internalSays(suePane, 'Offer a 10% voucher.');
    await c(pane, 'internal-msg').filter({ hasText: '10% voucher' }).waitFor();
    await agentSays(pane, 'We can add a voucher to your refund.');
    await w(customer, 'msg-agent').filter({ hasText: 'voucher to your refund' }).waitFor();
    await assertCustomerSawNothing(customer, ['Sue', '10% voucher'], 'observed and coached');

    // Barging in: the customer sees Sue join, and her message.
    await c(suePane, 'monitor-barge').click();
    await w(customer, 'sys-joined').filter({ hasText: 'Sue Supervisor joined the chat' }).waitFor();
    await c(pane, 'sys-role-changed').filter({ hasText: 'Sue Supervisor barged in' }).waitFor();
    await c(suePane, 'composer').waitFor();
    await agentSays(suePane, 'Hello Grace, I am the team supervisor.');
    await w(customer, 'msg-agent').filter({ hasText: 'team supervisor' }).waitFor();
    assert.equal(await w(customer, 'msg-agent').filter({ hasText: 'team supervisor' }).locator('.sb-who').textContent(), 'Sue Supervisor');
    await w(customer, 'status').filter({ hasText: 'Chatting with Alice Agent' }).waitFor();

    // Back to observing: the customer sees Sue step out of the chat; then she leaves.
    await c(suePane, 'monitor-observe').click();
    await w(customer, 'sys-left').filter({ hasText: 'Sue Supervisor left the chat' }).waitFor();
    await c(suePane, 'leave').click();
    await c(suePane, 'banner').filter({ hasText: 'You left this chat' }).waitFor();
    await c(pane, 'sys-participant-left').filter({ hasText: 'Sue Supervisor' }).waitFor();
    assert.equal(await participant(pane, 'sue').count(), 0, 'Sue is gone from the list');
    await agentSays(pane, 'Anything else?');
    await w(customer, 'msg-agent').filter({ hasText: 'Anything else?' }).waitFor();
    await assertCustomerSawNothing(customer, ['10% voucher'], 'after the barge');
    assert.deepEqual(errors, []);
  }, { orgs });
});

test('invitations rejected, removed and expired; the internal discussion is read-only after the end', async () => {
  const orgs = [testOrg('e2e', { invite_expiry_ms: 4000 })];
  await scenario(browser, 'participants reject remove expire', async ({ server, open, errors }) => {
    const { bob, carol, customer, pane } = await setUp(server, open, [['bob', 'Bob Agent'], ['carol', 'Carol Agent']]);

    // Bob rejects.
    await invite(pane, 'bob', 'consult', 'quick question');
    const card = c(bob, 'invitation');
    await card.waitFor();
    await c(card, 'reject').click();
    await card.waitFor({ state: 'detached' });
    await c(pane, 'sys-invite-ended').filter({ hasText: 'Invitation to Bob Agent rejected' }).waitFor();
    assert.equal(await bob.locator('[data-t=chat-item]').count(), 0, 'Bob never got the chat');

    // Carol accepts a consultation, then Alice ends it.
    await invite(pane, 'carol', 'consult');
    const { pane: carolPane } = await acceptOffer(carol, 'invitation');
    await internalSays(carolPane, 'Carol here, ask away.');
    await c(pane, 'internal-msg').filter({ hasText: 'Carol here' }).waitFor();
    await participant(pane, 'carol').locator('[data-t=remove]').click();
    await c(pane, 'sys-participant-left').filter({ hasText: 'Alice Agent removed Carol Agent (consultant)' }).waitFor();
    await c(carolPane, 'banner').filter({ hasText: 'Alice Agent removed you from this chat' }).waitFor();
    await c(carolPane, 'internal-composer').waitFor({ state: 'hidden' });
    assert.equal(await participant(pane, 'carol').count(), 0, 'Carol is gone from the list');

    // Bob does not answer a second invitation in time.
    await invite(pane, 'bob', 'conference');
    await c(bob, 'invitation').waitFor();
    await c(pane, 'sys-invite-ended').filter({ hasText: 'Invitation to Bob Agent expired' }).waitFor();
    await c(bob, 'invitation').waitFor({ state: 'detached' });
    await c(bob, 'notice').filter({ hasText: 'invitation expired' }).waitFor();

    // The customer saw none of it; then the chat ends and the discussion becomes read-only.
    await agentSays(pane, 'All sorted, goodbye!');
    await w(customer, 'msg-agent').filter({ hasText: 'All sorted' }).waitFor();
    await assertCustomerSawNothing(customer, ['Carol', 'Bob', 'quick question'], 'rejected, removed, expired');
    await c(pane, 'end').click();
    await c(pane, 'confirm-end').click();
    await c(pane, 'sys-ended').waitFor();
    await c(pane, 'internal-readonly').waitFor();
    await c(pane, 'internal-composer').waitFor({ state: 'hidden' });
    await c(pane, 'internal-msg').filter({ hasText: 'Carol here' }).waitFor();
    await w(customer, 'sys-ended').waitFor();
    assert.deepEqual(errors, []);
  }, { orgs });
});

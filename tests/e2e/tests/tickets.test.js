// Tickets from chats (PROTOCOL §9.13): the agent asks the org's ticket integration for a ticket
// (new, or to append the chat to one); a real little integration (node:http, signed webhooks
// checked) answers through REST with an admin token; the console shows the request, the linked
// ticket (transcript line, internal discussion, case data). The customer never sees any of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg, restSend, rest, until, texts, webhookReceiver,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const DESK_SECRET = 'e2e-desk-secret-0123456789';
const ASKED = 'My parcel A-1001 never arrived, can you open a case?';
const deskUrl = (n) => `https://desk.example.com/t/${n}`;

/**
 * The ticket system: verifies every webhook's Standard Webhooks signature (a bad one is answered
 * 401 and recorded in `errors`, which every test asserts empty), checks a ticket request's
 * transcript has the customer's message, and answers through the REST API with an admin token:
 * a new ticket is T-1042 (with its url), an append names the ticket it was asked for (T-77: no url).
 */
async function startDesk() {
  const desk = {
    errors: [],
    hooks: [], // the webhook bodies, in arrival order
    answers: [], // the REST answers to our ticket links
    server: null,
    admin: null,
    // While set, the desk waits for this promise before answering a ticket request.
    hold: null,
  };
  const answer = async (hook) => {
    const transcript = Array.isArray(hook.transcript) ? hook.transcript : [];
    if (!transcript.some((e) => e.kind === 'message' && e.author?.role === 'customer' && e.text === ASKED)) {
      desk.errors.push(`the transcript lacks the customer's message: ${JSON.stringify(transcript).slice(0, 600)}`);
    }
    if (desk.hold) await desk.hold;
    const ticket = hook.event.ticket || 'T-1042';
    const body = ticket === 'T-1042' ? { ticket, url: deskUrl(1042) } : { ticket };
    const r = await restSend(desk.server, 'POST', `/v1/conversations/${hook.conversation}/tickets/${hook.event.request}`, desk.admin, body);
    desk.answers.push(r);
    if (r.status !== 200) desk.errors.push(`link → ${r.status} ${JSON.stringify(r.body)}`);
  };
  const http = webhookReceiver(DESK_SECRET, desk.errors, (hook) => {
    // Redeliveries (same id) are answered, not acted on twice.
    if (desk.hooks.some((x) => x.id === hook.id)) return undefined;
    desk.hooks.push(hook);
    if (hook.type !== 'ticket.requested') { desk.errors.push(`unexpected webhook ${hook.type}`); return undefined; }
    return answer(hook);
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  desk.url = `http://127.0.0.1:${http.address().port}/hook`;
  desk.attach = (server, org) => {
    desk.server = server;
    desk.admin = token('admin', 'dave', { org, name: 'Dave Admin' });
  };
  desk.close = () => new Promise((r) => { http.closeAllConnections?.(); http.close(() => r()); });
  return desk;
}

/** An org whose ticket integration is `desk` (or, without one, no subscription at all). */
function ticketOrg(desk) {
  const org = testOrg('e2e');
  if (desk) org.webhooks = [{ id: 'desk', url: desk.url, secret: DESK_SECRET, events: ['ticket.requested'], allow_private_network: true }];
  return org;
}

async function withDesk(name, body) {
  const desk = await startDesk();
  try {
    await scenario(browser, name, async (ctx) => {
      desk.attach(ctx.server, 'e2e');
      await body({ ...ctx, desk });
      assert.deepEqual(desk.errors, [], 'the desk saw only well-signed webhooks and every call succeeded');
    }, { orgs: [ticketOrg(desk)] });
  } finally {
    if (desk.errors.length) console.error(`desk errors:\n${desk.errors.join('\n')}`);
    await desk.close();
  }
}

/** Alice accepts Ada's chat; Ada writes ASKED, Alice sees it. */
async function chatting(server, open) {
  const agent = await open('agent', `${server.url}/console`);
  const alice = token('agent', 'alice', { name: 'Alice Agent', queues: 'general' });
  await signInAgent(agent, alice);
  const customer = await open('customer', demoUrl(server));
  await fillPrechat(customer);
  const { conversation, pane } = await acceptOffer(agent);
  await w(customer, 'sys-joined').waitFor();
  await customerSays(customer, ASKED);
  await c(pane, 'msg-customer').filter({ hasText: ASKED }).waitFor();
  return { agent, alice, customer, conversation, pane };
}

/** Everything in the customer's widget (its open shadow root), as text. */
const widgetText = (page) => page.evaluate(() => document.querySelector('#switchboard-widget')?.shadowRoot?.textContent || '');

test('Create ticket: pending, then the linked ticket in the transcript, the internal discussion and the case data; the customer sees nothing', async () => {
  await withDesk('ticket create', async ({ server, open, errors, desk }) => {
    const { alice, customer, conversation, pane } = await chatting(server, open);

    let release;
    desk.hold = new Promise((r) => { release = r; });
    await c(pane, 'ticket-create').click();
    const pending = c(pane, 'ticket-pending');
    await pending.filter({ hasText: 'Ticket requested…' }).waitFor();
    await c(pane, 'sys-ticket-requested').filter({ hasText: 'Alice Agent asked for a ticket' }).waitFor();
    await until(() => desk.hooks.length === 1, 'the ticket.requested webhook');
    const hook = desk.hooks[0];
    assert.equal(hook.type, 'ticket.requested');
    assert.equal(hook.conversation, conversation);
    assert.equal(hook.org, 'e2e');
    assert.equal(hook.event.kind, 'ticket_requested');
    assert.ok(hook.event.request, 'the request id');
    assert.equal(hook.event.ticket, undefined, 'a new ticket: no ticket to append to');
    assert.equal(hook.event.author?.role, 'agent');
    assert.equal(hook.event.author?.id, 'alice');
    assert.equal(await pending.count(), 1, 'still pending while the desk has not answered');
    release();

    // The answer: the internal discussion's system message, the transcript line, the chip.
    const url = deskUrl(1042);
    const note = c(pane, 'internal-msg').filter({ hasText: `Ticket T-1042 is linked to this chat: ${url}` });
    await note.waitFor();
    assert.equal(await c(note, 'internal-author').textContent(), 'System');
    const line = c(pane, 'sys-ticket-linked').filter({ hasText: 'Ticket T-1042' });
    await line.waitFor();
    const link = line.locator('a');
    assert.equal(await link.getAttribute('href'), url);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    const chip = c(c(pane, 'tickets'), 'ticket-chip');
    await chip.waitFor();
    assert.equal(await chip.count(), 1);
    assert.equal(await chip.textContent(), 'T-1042');
    assert.equal(await chip.getAttribute('href'), url);
    assert.equal(await chip.getAttribute('rel'), 'noopener noreferrer');
    assert.ok(await c(pane, 'case-data-panel').isVisible(), 'the case data shows');
    await pending.waitFor({ state: 'detached' });
    assert.equal(await c(pane, 'ticket-error').isVisible(), false);
    assert.equal(desk.answers[0].body.duplicate, false);

    // The desk answers again (a retry): the first answer stands, nothing new in the chat.
    const again = await restSend(server, 'POST', `/v1/conversations/${conversation}/tickets/${hook.event.request}`, desk.admin, { ticket: 'T-1042', url });
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    const summary = await rest(server, `/v1/conversations/${conversation}`, alice);
    assert.equal(summary.status, 200);
    assert.deepEqual(summary.body.tickets, ['T-1042']);

    // The customer: the chat goes on, and nothing about the ticket ever shows.
    await agentSays(pane, 'I have opened a case for your parcel.');
    await w(customer, 'msg-agent').filter({ hasText: 'opened a case' }).waitFor();
    const seen = await widgetText(customer);
    assert.doesNotMatch(seen, /T-1042|ticket|desk\.example/i);
    await customer.reload();
    await w(customer, 'msg-agent').filter({ hasText: 'opened a case' }).waitFor();
    assert.doesNotMatch(await widgetText(customer), /T-1042|ticket|desk\.example/i);
    assert.equal(await c(pane, 'sys-ticket-linked').count(), 1);
    assert.equal(await c(pane, 'internal-msg').count(), 1);
    assert.deepEqual(errors, []);
  });
});

test('Append to ticket T-77: the webhook names it, the console shows the linked line; after the chat ended a ticket is still linked', async () => {
  await withDesk('ticket append', async ({ server, open, errors, desk }) => {
    const { agent, pane } = await chatting(server, open);

    await c(pane, 'ticket-append').click();
    const input = c(pane, 'ticket-id');
    await input.waitFor();
    await input.fill('T-77');
    await c(pane, 'ticket-append-go').click();
    await input.waitFor({ state: 'hidden' });
    await until(() => desk.hooks.length === 1, 'the ticket.requested webhook');
    assert.equal(desk.hooks[0].event.ticket, 'T-77');
    await c(pane, 'sys-ticket-requested').filter({ hasText: 'Alice Agent asked to append this chat to ticket T-77' }).waitFor();
    const line = c(pane, 'sys-ticket-linked').filter({ hasText: 'Ticket T-77 is linked to this chat' });
    await line.waitFor();
    assert.equal(await line.locator('a').count(), 0, 'no url: no link');
    await c(pane, 'internal-msg').filter({ hasText: 'Ticket T-77 is linked to this chat.' }).waitFor();
    const chip = c(c(pane, 'tickets'), 'ticket-chip');
    await chip.filter({ hasText: 'T-77' }).waitFor();
    assert.equal(await chip.first().evaluate((el) => el.tagName), 'SPAN', 'a chip without a url is not a link');
    await c(pane, 'ticket-pending').waitFor({ state: 'detached' });

    // An empty ticket id is refused in the console.
    await c(pane, 'ticket-append').click();
    await input.fill('  ');
    await c(pane, 'ticket-append-go').click();
    await c(pane, 'ticket-error').filter({ hasText: 'Enter the ticket' }).waitFor();
    await c(pane, 'ticket-append').click();
    await input.waitFor({ state: 'hidden' });

    // The chat ends; in wrap-up, Alice still asks for a ticket: it is linked, with no internal message.
    await c(pane, 'end').click();
    await c(pane, 'confirm-end').click();
    await c(pane, 'sys-ended').waitFor();
    await c(pane, 'ticket-create').click();
    await until(() => desk.hooks.length === 2, 'the second ticket.requested webhook');
    await c(pane, 'sys-ticket-linked').filter({ hasText: 'Ticket T-1042' }).waitFor();
    assert.deepEqual(await texts(c(c(pane, 'tickets'), 'ticket-chip')), ['T-77', 'T-1042']);
    assert.equal(await c(pane, 'internal-msg').count(), 1, 'no internal message once the chat has ended');
    await c(pane, 'wrapup').waitFor();
    assert.ok(agent, 'the console stays up');
    assert.deepEqual(errors, []);
  });
});

test('without a ticket integration, Create ticket shows the server\u2019s refusal', async () => {
  await scenario(browser, 'ticket no integration', async ({ server, open, errors }) => {
    const { pane } = await chatting(server, open);
    await c(pane, 'ticket-create').click();
    await c(pane, 'ticket-error').filter({ hasText: 'no integration takes ticket requests' }).waitFor();
    assert.equal(await c(pane, 'ticket-pending').count(), 0);
    assert.equal(await c(pane, 'sys-ticket-requested').count(), 0);
    assert.ok(await c(pane, 'case-data-panel').isHidden(), 'no tickets, no case data');
    assert.deepEqual(errors, []);
  }, { orgs: [ticketOrg(null)] });
});

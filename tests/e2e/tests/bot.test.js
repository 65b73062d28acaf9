// Bot-first chats (PROTOCOL §9.12): a real little bot (node:http, signed webhooks checked) takes
// new chats first; the customer's "Connect to an agent" or the bot's own handover brings a person.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg, restSend, until, texts, webhookReceiver,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const BOT_SECRET = 'e2e-bot-secret-0123456789';
const BOT_NAME = 'Ava (bot)';
const GREETING = 'Hi, I am Ava, the shop\u2019s assistant. How can I help?';
const ANSWER = 'Returns are free within 30 days of delivery.';
const SUMMARY = 'Customer wants to return order A-1001.';

const closedAllWeek = {
  ProfileId: 'closed',
  data: ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'].map((d) => ({
    InteractionType: 'Chat', DayOfWeek: d, TimeZoneId: 'UTC',
    OperationPeriod: [{ OperationPeriodId: '1', StartTime: '00:00', EndTime: '23:59', IsBreak: true }],
  })),
};

/**
 * The FAQ bot: verifies every webhook's Standard Webhooks signature (a bad one is answered 401
 * and recorded in `errors`, which every test asserts empty), greets on conversation.started,
 * answers questions, and hands over to the "returns" skill when the customer mentions an agent.
 * It answers each webhook at once and acts afterwards, through the bot REST API.
 */
async function startBot() {
  const bot = {
    errors: [], // anything wrong: a bad signature, a refused call
    received: [], // webhook types, in arrival order
    handovers: [], // the bot's own handover answers
    server: null,
    token: null,
    // While set, the bot shows its typing indicator and waits for this promise before answering.
    hold: null,
  };
  let n = 0;
  const call = async (method, path, body) => {
    const r = await fetch(bot.server.url + path, {
      method, headers: { authorization: `Bearer ${bot.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const j = await r.json().catch(() => null);
    return { status: r.status, body: j };
  };
  const say = async (conversation, text) => {
    const r = await call('POST', `/v1/bot/conversations/${conversation}/messages`, { client_msg_id: `bot-${++n}`, text });
    if (r.status !== 201) bot.errors.push(`send → ${r.status} ${JSON.stringify(r.body)}`);
  };
  const act = async (hook) => {
    const conv = hook.conversation;
    switch (hook.type) {
      case 'conversation.started':
        await say(conv, GREETING);
        break;
      case 'message.created': {
        const text = hook.event?.text || '';
        if (/\bagent\b/i.test(text)) {
          const r = await call('POST', `/v1/bot/conversations/${conv}/handover`, { skill: 'returns', intake: { order: 'A-1001' }, summary: SUMMARY });
          bot.handovers.push(r);
          if (r.status !== 200) bot.errors.push(`handover → ${r.status} ${JSON.stringify(r.body)}`);
        } else {
          if (bot.hold) {
            const t = await call('POST', `/v1/bot/conversations/${conv}/typing`, { on: true });
            if (t.status !== 204) bot.errors.push(`typing → ${t.status} ${JSON.stringify(t.body)}`);
            await bot.hold;
          }
          await say(conv, ANSWER);
        }
        break;
      }
      default: break; // handover.failed, conversation.handed_over, conversation.ended: noted only
    }
  };
  const http = webhookReceiver(BOT_SECRET, bot.errors, (hook) => {
    bot.received.push(hook.type);
    return act(hook);
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  bot.port = http.address().port;
  bot.url = `http://127.0.0.1:${bot.port}/hook`;
  /** Connects the bot to the server under test: a bot token, minted by an admin. */
  bot.attach = async (server, org) => {
    bot.server = server;
    const r = await restSend(server, 'POST', '/v1/bot/token', token('admin', 'dave', { org, name: 'Dave Admin' }));
    assert.equal(r.status, 201, `bot token: ${JSON.stringify(r.body)}`);
    assert.ok(r.body.token, 'a bot token');
    bot.token = r.body.token;
  };
  bot.close = () => new Promise((r) => { http.closeAllConnections?.(); http.close(() => r()); });
  return bot;
}

/** A bot-first org: the bot at `bot.url`, a returns queue (skill "returns") with its agent. */
function botOrg(id, bot, { settings = {}, hours } = {}) {
  const { botExtra = {}, ...rest } = settings;
  const org = testOrg(id, {
    bot: {
      id: 'faq', name: BOT_NAME, url: bot.url, secret: BOT_SECRET, allow_private_network: true,
      reply_timeout_ms: 30000, handover_on_timeout: true, channels: [], ...botExtra,
    },
    ...rest,
  });
  org.queues = [...org.queues, { id: 'returns', name: 'Returns', skills: ['returns'] }];
  org.agents = [...org.agents, { id: 'dan', name: 'Dan Returns', queues: ['returns'] }];
  if (hours) org.hours = hours;
  return org;
}

async function withBot(name, body, options = {}) {
  const bot = await startBot();
  try {
    const org = botOrg('botco', bot, options);
    await scenario(browser, name, async (ctx) => {
      await bot.attach(ctx.server, 'botco');
      await body({ ...ctx, bot });
      assert.deepEqual(bot.errors, [], 'the bot saw only well-signed webhooks and every call succeeded');
    }, { orgs: [org] });
  } finally {
    if (bot.errors.length) console.error(`bot errors:\n${bot.errors.join('\n')}`);
    await bot.close();
  }
}

test('the bot greets and answers; "Connect to an agent" brings an agent who sees the bot part', async () => {
  await withBot('bot connect', async ({ server, open, errors, bot }) => {
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { org: 'botco', name: 'Alice Agent', queues: 'general' }));
    const customer = await open('customer', demoUrl(server, { org: 'botco' }));
    await fillPrechat(customer);

    // The bot has the chat: its greeting, its name, no queue, no offer to any agent.
    const greeting = w(customer, 'msg-bot').filter({ hasText: GREETING });
    await greeting.waitFor();
    assert.match(await greeting.textContent(), /Ava \(bot\)/);
    await w(customer, 'status').filter({ hasText: `Chatting with ${BOT_NAME}` }).waitFor();
    assert.ok(await w(customer, 'queue').isHidden(), 'no queue box while the bot has the chat');
    const connect = w(customer, 'connect-agent');
    await connect.waitFor();
    assert.ok(await connect.isEnabled(), 'Connect to an agent is enabled within opening hours');

    // A question: the bot types (the usual typing line, with its name), then answers.
    let release;
    bot.hold = new Promise((r) => { release = r; });
    await customerSays(customer, 'How long do I have to return a jacket?');
    await w(customer, 'typing').filter({ hasText: `${BOT_NAME} is typing` }).waitFor();
    release();
    await w(customer, 'msg-bot').filter({ hasText: ANSWER }).waitFor();
    await w(customer, 'typing').waitFor({ state: 'hidden' });
    bot.hold = null;
    assert.equal(await c(agent, 'offer').count(), 0, 'no agent is offered a chat the bot has');

    // "Connect to an agent": the chat goes to the general queue and its agent.
    await connect.click();
    await w(customer, 'sys-handed-over').filter({ hasText: 'Connecting you to an agent' }).waitFor();
    await connect.waitFor({ state: 'detached' });
    const { pane } = await acceptOffer(agent);
    await w(customer, 'sys-joined').filter({ hasText: 'Alice Agent joined the chat' }).waitFor();

    // The agent sees the bot's part labelled, and who asked for the handover.
    await c(pane, 'msg-bot').filter({ hasText: ANSWER }).waitFor();
    const botMsgs = c(pane, 'msg-bot');
    assert.equal(await botMsgs.count(), 2);
    for (const who of await texts(botMsgs.locator('.who'))) assert.equal(who, `${BOT_NAME} bot`);
    assert.equal(await c(botMsgs.first(), 'bot-badge').textContent(), 'bot');
    await c(pane, 'sys-handed-over').filter({ hasText: 'The customer asked for an agent' }).waitFor();
    assert.equal(await c(pane, 'intake').count(), 0, 'a customer\u2019s handover carries no intake');

    // Then a normal chat.
    await agentSays(pane, 'Hi Ada, Alice here. I can start that return for you.');
    await w(customer, 'msg-agent').filter({ hasText: 'start that return' }).waitFor();
    await customerSays(customer, 'Thank you!');
    await c(pane, 'msg-customer').filter({ hasText: 'Thank you!' }).waitFor();
    assert.equal(await w(customer, 'connect-agent').count(), 0);
    await until(() => bot.received.includes('conversation.handed_over'), 'the bot told of the handover');

    // A reload replays the log: bot messages, the handover line, no Connect button.
    await customer.reload();
    await w(customer, 'msg-agent').filter({ hasText: 'start that return' }).waitFor();
    assert.equal(await w(customer, 'msg-bot').count(), 2);
    await w(customer, 'sys-handed-over').waitFor();
    assert.equal(await w(customer, 'connect-agent').count(), 0);
    assert.deepEqual(errors, []);
  });
});

test('the bot hands over by itself to the returns skill; the agent sees the intake', async () => {
  await withBot('bot handover', async ({ server, open, errors, bot }) => {
    const dan = await open('agent', `${server.url}/console`);
    await signInAgent(dan, token('agent', 'dan', { org: 'botco', name: 'Dan Returns', queues: 'returns' }));
    const customer = await open('customer', demoUrl(server, { org: 'botco' }));
    await fillPrechat(customer, { reason: 'Returns and refunds' });
    await w(customer, 'msg-bot').filter({ hasText: GREETING }).waitFor();

    await customerSays(customer, 'I want to talk to an agent about my return');
    await w(customer, 'sys-handed-over').filter({ hasText: 'Connecting you to an agent' }).waitFor();
    await w(customer, 'connect-agent').waitFor({ state: 'detached' });
    assert.equal(bot.handovers.length, 1);
    assert.equal(bot.handovers[0].body.queue, 'returns', 'the returns skill routes to the returns queue');

    // Dan (returns queue only) gets the offer: the intake card, in the transcript and the side panel.
    const { pane } = await acceptOffer(dan);
    await c(pane, 'sys-handed-over').filter({ hasText: `Handed over to an agent by ${BOT_NAME}` }).waitFor();
    const card = c(pane, 'intake');
    await card.waitFor();
    assert.equal(await c(card, 'intake-answer').getAttribute('data-key'), 'order');
    assert.match(await c(card, 'intake-answer').textContent(), /order:?\s*A-1001/);
    assert.match(await c(card, 'intake-skill').textContent(), /returns/);
    assert.equal(await c(card, 'intake-summary').textContent(), `Summary: ${SUMMARY}`);
    const side = c(pane, 'case-data');
    await side.filter({ hasText: 'A-1001' }).filter({ hasText: SUMMARY }).waitFor();
    await c(pane, 'msg-bot').filter({ hasText: GREETING }).waitFor();

    await agentSays(pane, 'Dan from returns here: A-1001 is on its way back to us.');
    await w(customer, 'msg-agent').filter({ hasText: 'A-1001 is on its way' }).waitFor();
    assert.deepEqual(errors, []);
  });
});

test('outside opening hours the bot still answers; Connect to an agent is disabled with the org\u2019s message', async () => {
  const closedText = 'Our agents are back Monday at 9.';
  await withBot('bot outside hours', async ({ server, open, errors }) => {
    const customer = await open('customer', demoUrl(server, { org: 'botco' }));
    await fillPrechat(customer);
    await w(customer, 'msg-bot').filter({ hasText: GREETING }).waitFor();
    await customerSays(customer, 'Do you ship to Norway?');
    await w(customer, 'msg-bot').filter({ hasText: ANSWER }).waitFor();

    const connect = w(customer, 'connect-agent');
    await connect.waitFor();
    assert.ok(await connect.isDisabled(), 'no agent to connect to outside hours');
    await w(customer, 'connect-agent-closed').filter({ hasText: closedText }).waitFor();

    // After a reload the replayed log shows the same.
    await customer.reload();
    await w(customer, 'msg-bot').filter({ hasText: ANSWER }).waitFor();
    await w(customer, 'connect-agent-closed').filter({ hasText: closedText }).waitFor();
    assert.ok(await w(customer, 'connect-agent').isDisabled());
    assert.equal(await w(customer, 'sys-handed-over').count(), 0);
    assert.deepEqual(errors, []);
  }, { hours: closedAllWeek, settings: { messages: { outside_hours: closedText } } });
});

test('a refused "Connect to an agent" shows why and keeps the button', async () => {
  const busy = 'All our agents are busy right now.';
  await withBot('bot handover refused', async ({ server, open, errors, bot }) => {
    // require_agents: with no agent available, the handover fails (no_agents) and the bot keeps the chat.
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { org: 'botco', name: 'Alice Agent', queues: 'general' }), { available: false });
    const customer = await open('customer', demoUrl(server, { org: 'botco' }));
    await fillPrechat(customer);
    await w(customer, 'msg-bot').filter({ hasText: GREETING }).waitFor();
    const connect = w(customer, 'connect-agent');
    await connect.click();
    await w(customer, 'handover-error').filter({ hasText: busy }).waitFor();
    assert.ok(await connect.isEnabled(), 'the customer may try again');
    assert.equal(await w(customer, 'sys-handed-over').count(), 0);
    await until(() => bot.received.includes('handover.failed'), 'the bot told of the failed handover');
    // Still with the bot: it answers.
    await customerSays(customer, 'OK, what are your opening hours?');
    await w(customer, 'msg-bot').filter({ hasText: ANSWER }).waitFor();

    // An agent of the queue finds the chat under Queue chats, "With the bot", and reads why.
    const panel = c(agent, 'queue-chats-panel');
    await panel.waitFor();
    const loads = Number(await panel.getAttribute('data-loads') || 0);
    await c(agent, 'queue-chats-refresh').click();
    await until(async () => Number(await panel.getAttribute('data-loads') || 0) > loads, 'the queue chats to refresh');
    const item = agent.locator('[data-t=queue-chat-item][data-status=bot]');
    await item.waitFor();
    assert.equal(await c(item, 'queue-chat-status').textContent(), 'With the bot');
    await item.click();
    const pane = agent.locator(`section[data-t=chat][data-conversation="${await item.getAttribute('data-conversation')}"]`);
    await c(pane, 'sys-handover-failed').filter({ hasText: 'no agents' }).filter({ hasText: 'asked by the customer' }).filter({ hasText: busy }).waitFor();
    await c(pane, 'msg-bot').filter({ hasText: ANSWER }).waitFor();
    await c(pane, 'sys-bot-engaged').filter({ hasText: `${BOT_NAME} took the chat` }).waitFor();
    assert.deepEqual(errors, []);
  }, { settings: { botExtra: { require_agents: true }, messages: { all_busy: busy } } });
});

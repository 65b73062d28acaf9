// A whole chat between the widget on a retailer's page (another origin) and the agent console.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, customerSays, signInAgent, acceptOffer, agentSays,
  until, texts,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('a customer and an agent complete a chat, survey included', async () => {
  await scenario(browser, 'full chat', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent' }));
    const customer = await open('customer', demoUrl(server), { viewport: { width: 1000, height: 760 } });

    // Pre-chat form and reason chips, five at a time, mandatory.
    await w(customer, 'launcher').click();
    const chips = w(customer, 'reasons').locator('.sb-chip');
    await until(async () => (await chips.count()) === 5, 'the first 5 reasons');
    await w(customer, 'reasons-next').click();
    await until(async () => (await chips.count()) === 2, 'the last 2 reasons');
    assert.deepEqual(await texts(chips), ['Product question', 'Sizing help']);
    await w(customer, 'reasons-prev').click();
    await until(async () => (await chips.count()) === 5, 'back to the first page');
    const form = w(customer, 'prechat');
    await form.locator('input[name=first_name]').fill('Ada');
    await form.locator('input[name=last_name]').fill('Lovelace');
    await form.locator('input[name=email]').fill('ada@example.com');
    await w(customer, 'start').click();
    await w(customer, 'form-error').filter({ hasText: 'choose a reason' }).waitFor();
    await form.locator('.sb-chip', { hasText: 'Returns and refunds' }).click();
    await w(customer, 'start').click();
    await w(customer, 'composer').waitFor();

    // The offer, with its countdown, then accepted.
    const offer = c(agent, 'offer');
    await offer.filter({ hasText: 'Ada Lovelace' }).waitFor();
    assert.match(await c(offer, 'countdown').textContent(), /^\d+s$/);
    const { pane } = await acceptOffer(agent);
    await w(customer, 'sys-joined').filter({ hasText: 'Alice Agent joined the chat' }).waitFor();
    await w(customer, 'status').filter({ hasText: 'Chatting with Alice Agent' }).waitFor();
    assert.match(await c(pane, 'chat-sub').textContent(), /ada@example\.com/);

    // Customer typing, then a message; the pending-response indicator goes green, yellow, red.
    await w(customer, 'input').pressSequentially('Hello');
    await c(pane, 'typing').waitFor();
    await w(customer, 'input').fill('Hi! Where is my order #1042?');
    await w(customer, 'send').click();
    await c(pane, 'msg-customer').filter({ hasText: 'Where is my order #1042?' }).waitFor();
    const dot = agent.locator('[data-t=chat-item] [data-t=pending]');
    await until(async () => (await dot.getAttribute('data-level')) === 'green', 'a green pending indicator');
    await until(async () => (await dot.getAttribute('data-level')) === 'yellow', 'a yellow pending indicator');
    await until(async () => (await dot.getAttribute('data-level')) === 'red', 'a red pending indicator');
    // The agent read it (the chat is open), so the customer sees a read receipt.
    await w(customer, 'receipt').filter({ hasText: 'Read' }).waitFor();

    // Agent typing, an internal note, and a reply.
    await c(pane, 'composer-input').pressSequentially('Let me');
    await w(customer, 'typing').filter({ hasText: 'Alice Agent is typing' }).waitFor();
    await c(pane, 'note-toggle').check();
    await agentSays(pane, 'VIP customer – check the express queue');
    await c(pane, 'note').filter({ hasText: 'agents only' }).filter({ hasText: 'VIP customer' }).waitFor();
    await c(pane, 'note-toggle').uncheck();
    await agentSays(pane, 'Let me check that for you – it ships today.');
    await w(customer, 'msg-agent').filter({ hasText: 'it ships today' }).waitFor();
    await until(async () => (await dot.getAttribute('data-level')) === 'none', 'no pending indicator after the reply');
    await c(pane, 'receipt').filter({ hasText: 'Read' }).waitFor();
    assert.ok(!(await w(customer, 'transcript').textContent()).includes('VIP customer'), 'notes never reach the customer');
    await customerSays(customer, 'Great, thanks!');
    await c(pane, 'msg-customer').filter({ hasText: 'Great, thanks!' }).waitFor();

    // The agent ends the chat; the customer answers the survey; the agent wraps up.
    await c(pane, 'end').click();
    await c(pane, 'confirm-end').click();
    await w(customer, 'sys-ended').waitFor();
    await w(customer, 'survey').waitFor();
    assert.ok(await w(customer, 'composer').isHidden(), 'no composer after the end');
    await w(customer, 'survey').locator('[data-score="9"]').click();
    await w(customer, 'survey-comment').fill('Quick and friendly');
    await w(customer, 'survey-submit').click();
    await w(customer, 'survey-thanks').waitFor();
    await c(pane, 'sys-survey').filter({ hasText: '9/10' }).filter({ hasText: 'Quick and friendly' }).waitFor();
    await c(pane, 'disposition').selectOption('resolved');
    await c(pane, 'wrapup-note').fill('Order shipped');
    await c(pane, 'wrapup').click();
    await c(pane, 'sys-wrap-up').filter({ hasText: 'Wrapped up: Resolved' }).waitFor();
    await c(pane, 'close').click();
    await c(agent, 'chat-item').first().waitFor({ state: 'detached' });
    assert.deepEqual(errors, [], 'no script errors on either page');
  });
});

test('an HTML/script payload from either side shows as inert text on both pages', async () => {
  await scenario(browser, 'inert payload', async ({ server, open, errors }) => {
    const payload = (who) => `<img src=x onerror="window.__pwned='${who}'"><script>window.__pwned='${who}'</script>` +
      `<b>bold</b> <a href="javascript:window.__pwned=1">click</a> see https://example.com/a?b=1&c=2 <i>x</i>`;
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice <b>Agent</b>' }));
    const customer = await open('customer', demoUrl(server));
    await w(customer, 'launcher').click();
    const form = w(customer, 'prechat');
    await form.locator('input[name=first_name]').fill('<img src=x onerror=alert(1)>');
    await form.locator('input[name=last_name]').fill('Tester');
    await form.locator('input[name=email]').fill('t@example.com');
    await form.locator('.sb-chip', { hasText: 'Order status' }).click();
    await w(customer, 'start').click();
    const { pane } = await acceptOffer(agent);

    await customerSays(customer, payload('customer'));
    await agentSays(pane, payload('agent'));
    const onCustomer = w(customer, 'transcript');
    const onAgent = c(pane, 'transcript');
    await onCustomer.locator('[data-sb=msg-agent]').waitFor();
    await onAgent.locator('[data-t=msg-customer]').waitFor();
    await onAgent.locator('[data-t=msg-agent]').waitFor();
    await onCustomer.locator('[data-sb=msg-mine]').waitFor();

    const check = async (scope, selector, who) => {
      const text = scope.locator(`${selector} .${selector.includes('sb') ? 'sb-text' : 'text'}`);
      assert.equal(await text.textContent(), payload(who), `${who}'s message shows exactly as typed`);
      assert.equal(await text.locator('img, script, b, i').count(), 0, 'no markup was created');
      const links = text.locator('a');
      assert.equal(await links.count(), 1, 'only the http(s) address is a link');
      assert.equal(await links.getAttribute('href'), 'https://example.com/a?b=1&c=2');
      assert.equal(await links.textContent(), await links.getAttribute('href'), 'a link shows its real address');
    };
    await check(onCustomer, '[data-sb=msg-mine]', 'customer');
    await check(onCustomer, '[data-sb=msg-agent]', 'agent');
    await check(onAgent, '[data-t=msg-customer]', 'customer');
    await check(onAgent, '[data-t=msg-agent]', 'agent');
    // Names typed into the form and the token are text too.
    assert.equal(await c(pane, 'chat-title').textContent(), '<img src=x onerror=alert(1)> Tester');
    assert.equal(await onCustomer.locator('[data-sb=msg-agent] .sb-who').textContent(), 'Alice <b>Agent</b>');

    // Both pages render through the one shared renderText (chatcore.js): the same text makes
    // the same nodes on either side.
    const markup = (scope, selector) => scope.locator(selector).evaluate((el) => el.innerHTML);
    assert.equal(await markup(onCustomer, '[data-sb=msg-mine] .sb-text'), await markup(onAgent, '[data-t=msg-customer] .text'));
    assert.equal(await markup(onCustomer, '[data-sb=msg-agent] .sb-text'), await markup(onAgent, '[data-t=msg-agent] .text'));

    // An internal note is rendered the same way on the console and never reaches the customer.
    await c(pane, 'note-toggle').check();
    await agentSays(pane, payload('note'));
    await onAgent.locator('[data-t=note]').waitFor();
    await check(onAgent, '[data-t=note]', 'note');
    await c(pane, 'note-toggle').uncheck();
    await agentSays(pane, 'after the note');
    await onCustomer.locator('[data-sb=msg-agent]', { hasText: 'after the note' }).waitFor();
    assert.ok(!(await onCustomer.textContent()).includes("__pwned='note'"), 'the note never reached the customer');

    // A message waiting in the widget's outbox (offline) is text too, and arrives as text.
    await customer.evaluate(() => window.Switchboard._debug.hold(true));
    await until(async () => !(await customer.evaluate(() => window.Switchboard._debug.connected())), 'the widget to go offline');
    await customerSays(customer, payload('outbox'));
    await check(customer.locator('#switchboard-widget'), '[data-sb=msg-pending]', 'outbox');
    await customer.evaluate(() => window.Switchboard._debug.hold(false));
    const arrived = onAgent.locator('[data-t=msg-customer]', { hasText: "__pwned='outbox'" });
    await arrived.waitFor();
    assert.equal(await arrived.locator('.text').textContent(), payload('outbox'));
    assert.equal(await arrived.locator('.text').locator('img, script, b, i').count(), 0);

    for (const page of [agent, customer]) {
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing ran');
    }
    assert.deepEqual(errors, []);
  });
});

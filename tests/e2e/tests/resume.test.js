// Page reloads and dropped connections: nothing lost, nothing doubled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, texts, until,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const widgetTexts = (page) => texts(w(page, 'transcript').locator('.sb-msg .sb-text'));
const consoleTexts = (pane) => texts(c(pane, 'transcript').locator('.msg .text'));

test('the customer page reloads mid-chat and loses nothing', async () => {
  await scenario(browser, 'reload', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent' }));
    const customer = await open('customer', demoUrl(server));
    await fillPrechat(customer);
    const { pane } = await acceptOffer(agent);
    const said = [];
    for (const [who, text] of [['c', 'one'], ['a', 'two'], ['c', 'three'], ['a', 'four']]) {
      said.push(text);
      if (who === 'c') await customerSays(customer, text); else await agentSays(pane, text);
      await w(customer, 'transcript').locator('.sb-msg', { hasText: text }).waitFor();
    }
    assert.deepEqual(await widgetTexts(customer), said);

    // 1. A plain reload: the same conversation, the same transcript, once.
    await customer.reload();
    await w(customer, 'transcript').locator('.sb-msg', { hasText: 'four' }).waitFor();
    await until(() => customer.evaluate(() => window.Switchboard._debug.connected()), 'the widget to reconnect');
    await agentSays(pane, 'five');
    said.push('five');
    await w(customer, 'transcript').locator('.sb-msg', { hasText: 'five' }).waitFor();
    assert.deepEqual(await widgetTexts(customer), said, 'no gap and no duplicate after a reload');

    // 2. The connection drops; the agent keeps writing; the customer writes while offline.
    await customer.evaluate(() => window.Switchboard._debug.hold(true));
    await until(async () => !(await customer.evaluate(() => window.Switchboard._debug.connected())), 'the widget to go offline');
    await agentSays(pane, 'six (while you were away)');
    await agentSays(pane, 'seven (while you were away)');
    await customerSays(customer, 'eight, typed offline');
    await w(customer, 'msg-pending').filter({ hasText: 'eight' }).waitFor();
    const pendingId = await w(customer, 'msg-pending').getAttribute('data-client-msg-id');
    // ... and the page reloads before the message was ever acknowledged.
    await customer.reload();
    await w(customer, 'transcript').locator('.sb-msg', { hasText: 'eight' }).waitFor();
    said.push('six (while you were away)', 'seven (while you were away)', 'eight, typed offline');
    await until(async () => JSON.stringify(await widgetTexts(customer)) === JSON.stringify(said), 'the full transcript on the customer page');
    assert.equal(await w(customer, 'msg-pending').count(), 0, 'nothing left to send');
    const sent = w(customer, 'transcript').locator('[data-sb=msg-mine]', { hasText: 'eight' });
    assert.equal(await sent.getAttribute('data-client-msg-id'), pendingId, 're-sent with its original client_msg_id');
    await c(pane, 'msg-customer').filter({ hasText: 'eight' }).waitFor();
    assert.deepEqual(await consoleTexts(pane), said, 'the agent got the offline message exactly once');

    // 3. A dropped connection without a reload resumes by itself.
    await customer.evaluate(() => window.Switchboard._debug.drop());
    await agentSays(pane, 'nine');
    await customerSays(customer, 'ten');
    said.push('nine', 'ten');
    await until(async () => JSON.stringify(await widgetTexts(customer)) === JSON.stringify(said), 'the transcript after a drop');
    await c(pane, 'msg-customer').filter({ hasText: 'ten' }).waitFor();

    // 4. The console drops too, and resumes every open chat gap-free.
    await agent.evaluate(() => window.switchboardConsole.drop());
    await customerSays(customer, 'eleven, while the agent reconnects');
    said.push('eleven, while the agent reconnects');
    await c(pane, 'msg-customer').filter({ hasText: 'eleven' }).waitFor();
    await until(() => agent.evaluate(() => window.switchboardConsole.connected()), 'the console to reconnect');
    await agentSays(pane, 'twelve');
    said.push('twelve');
    await w(customer, 'transcript').locator('.sb-msg', { hasText: 'twelve' }).waitFor();
    await c(pane, 'msg-agent').filter({ hasText: 'twelve' }).waitFor();
    assert.deepEqual(await consoleTexts(pane), said);
    assert.deepEqual(await widgetTexts(customer), said);
    assert.deepEqual(errors, []);
  });
});

// Reports (issue 14): a supervisor finishes a chat in the console, opens Reports and sees the
// queue's and her own row count it; each table downloads as CSV. A plain agent has no Reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  launchBrowser, scenario, token, demoUrl, c, w, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, until,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('a supervisor sees a finished chat in the queue and agent reports and downloads them as CSV', async () => {
  await scenario(browser, 'reports', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('supervisor', 'alice', { name: 'Alice Agent', queues: 'general' }));
    const customer = await open('customer', demoUrl(server));
    await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    const { pane } = await acceptOffer(alice);
    await customerSays(customer, 'Where is my order?');
    await c(pane, 'msg-customer').filter({ hasText: 'Where is my order?' }).waitFor();
    await agentSays(pane, 'It ships today.');
    await w(customer, 'msg-agent').filter({ hasText: 'ships today' }).waitFor();

    // Alice ends the chat, Grace rates it 10, Alice wraps up: the chat is done and archived.
    await c(pane, 'end').click();
    await c(pane, 'confirm-end').click();
    await w(customer, 'survey').waitFor();
    await w(customer, 'survey').locator('[data-score="10"]').click();
    await w(customer, 'survey-submit').click();
    await c(pane, 'sys-survey').filter({ hasText: '10/10' }).waitFor();
    await c(pane, 'disposition').selectOption('resolved');
    await c(pane, 'wrapup').click();
    await c(pane, 'sys-wrap-up').waitFor();

    // Reports: the last 7 days by default; Show again until the archive has the chat.
    await c(alice, 'reports-open').click();
    const panel = c(alice, 'reports');
    await panel.waitFor();
    assert.equal(await c(alice, 'reports-to').inputValue(), new Date().toISOString().slice(0, 10));
    const general = alice.locator('[data-t=report-queue-row][data-id=general]');
    const cell = (row, col) => row.locator(`td[data-col=${col}]`).textContent();
    await until(async () => {
      if ((await general.count()) && (await cell(general, 'handled')) === '1') return true;
      const loads = await panel.getAttribute('data-loads');
      await c(alice, 'reports-show').click();
      await alice.waitForFunction((n) => document.getElementById('reports').getAttribute('data-loads') !== n, loads);
      return false;
    }, 'the finished chat in the queue report');
    assert.equal(await general.locator('td').first().textContent(), 'General');
    assert.equal(await cell(general, 'abandoned'), '0');
    assert.equal(await cell(general, 'surveys'), '1');
    assert.equal(await cell(general, 'nps'), '100');
    assert.match(await cell(general, 'first_response_avg_ms'), /^\d+(\.\d)? s$|^\d+:\d\d$/);
    const mine = alice.locator('[data-t=report-agent-row][data-id=alice]');
    assert.equal(await mine.locator('td').first().textContent(), 'Alice Agent');
    assert.equal(await cell(mine, 'handled'), '1');
    // The bot's share is per queue only (no bot here): an agent's row counts people's handling.
    assert.equal(await cell(general, 'bot_only'), '0');
    assert.equal(await cell(general, 'handed_over'), '0');
    assert.equal(await cell(general, 'bot_avg_ms'), '–');
    assert.equal(await mine.locator('td[data-col=bot_only]').count(), 0);
    assert.equal(await c(c(alice, 'report-queues'), 'report-total').locator('td[data-col=handled]').textContent(), '1');

    // Each table downloads as CSV.
    const [queues] = await Promise.all([alice.waitForEvent('download'), c(alice, 'reports-csv-queues').click()]);
    assert.match(queues.suggestedFilename(), /^report-queues-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
    const table = await readFile(await queues.path(), 'utf8');
    assert.ok(table.startsWith('queue,handled,abandoned,wait_avg_ms,wait_p90_ms,first_response_avg_ms,handle_avg_ms,transfers,surveys,nps,bot_only,handed_over,bot_avg_ms\r\n'), table);
    assert.match(table, /\r\ngeneral,1,0,\d+,\d+,\d+,\d+,0,1,100,0,0,\r\ntotal,1,0,/);
    const [agents] = await Promise.all([alice.waitForEvent('download'), c(alice, 'reports-csv-agents').click()]);
    assert.match(await readFile(await agents.path(), 'utf8'), /\r\nalice,1,0,/);

    // A plain agent has no Reports button.
    const bob = await open('bob', `${server.url}/console`);
    await signInAgent(bob, token('agent', 'bob', { name: 'Bob Agent', queues: 'general' }));
    assert.ok(await c(bob, 'reports-open').isHidden());
    await c(alice, 'reports-close').click();
    await panel.waitFor({ state: 'hidden' });
    assert.deepEqual(errors, []);
  });
});

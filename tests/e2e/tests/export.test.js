// View & export (seed 001): the agent downloads a chat's transcript from the console as CSV and
// as text; a customer's formula stays inert text in the CSV.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  launchBrowser, scenario, token, demoUrl, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, w,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('the agent exports a transcript as CSV and as text', async () => {
  await scenario(browser, 'export', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    const customer = await open('customer', demoUrl(server));
    await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    const { conversation, pane } = await acceptOffer(alice);
    await customerSays(customer, '=HYPERLINK("http://evil.example","click")');
    await c(pane, 'msg-customer').filter({ hasText: 'HYPERLINK' }).waitFor();
    await agentSays(pane, 'Hello Grace, how can I help?');
    await w(customer, 'msg-agent').filter({ hasText: 'how can I help' }).waitFor();

    await c(pane, 'export').click();
    const [csv] = await Promise.all([alice.waitForEvent('download'), c(pane, 'export-csv').click()]);
    assert.equal(csv.suggestedFilename(), `transcript-${conversation}.csv`);
    const table = await readFile(await csv.path(), 'utf8');
    assert.ok(table.startsWith('seq,at,visibility,kind,author_role,author_id,author_name,text\r\n'), table);
    assert.ok(table.includes(`"'=HYPERLINK(""http://evil.example"",""click"")"`), 'the formula is neutralised');
    assert.ok(table.includes('Hello Grace, how can I help?'));

    const [txt] = await Promise.all([alice.waitForEvent('download'), c(pane, 'export-txt').click()]);
    assert.equal(txt.suggestedFilename(), `transcript-${conversation}.txt`);
    const text = await readFile(await txt.path(), 'utf8');
    assert.ok(text.includes('Customer: Grace Hopper'), text);
    assert.match(text, /\] Alice Agent: Hello Grace, how can I help\?/);
    assert.deepEqual(errors, []);
  });
});

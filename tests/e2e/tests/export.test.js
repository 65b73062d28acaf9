// View & export (seeds 001, 002): the agent downloads a chat's transcript from the console as CSV,
// as text and as PDF; a customer's formula stays inert text in the CSV. Emailing it: this server
// has no SMTP server, so the console says so clearly (the delivery itself: tests/api/email.rs).
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

test('the agent exports a transcript as CSV, text and PDF, and tries to email it', async () => {
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

    const [pdf] = await Promise.all([alice.waitForEvent('download'), c(pane, 'export-pdf').click()]);
    assert.equal(pdf.suggestedFilename(), `transcript-${conversation}.pdf`);
    const bytes = await readFile(await pdf.path());
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok(bytes.includes('FontFile2'), 'the font is embedded');

    // The address is the customer's; without an SMTP server the request is refused clearly.
    assert.equal(await c(pane, 'email-to').inputValue(), 'grace@example.com');
    await c(pane, 'email-pdf').check();
    await c(pane, 'email-send').click();
    await c(pane, 'email-status').filter({ hasText: /Could not email: email is not configured|Queued for grace@example.com/ }).waitFor();
    assert.deepEqual(errors, []);
  });
});

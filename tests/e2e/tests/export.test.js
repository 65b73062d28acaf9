// View & export (seeds 001, 002): the agent downloads a chat's transcript from the console as CSV,
// as text and as PDF; a customer's formula stays inert text in the CSV. Emailing it: without an
// SMTP server the console says so clearly; with a real one (aiosmtpd) it shows the email sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createServer as createTcpServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A free loopback port (bind to 0, read it, let it go). */
async function freePort() {
  const srv = createTcpServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** A real SMTP server (aiosmtpd, installed by tests/setup.sh) writing a Maildir under `dir`. */
async function startSmtp(port, dir) {
  const child = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`,
    '-c', 'aiosmtpd.handlers.Mailbox', join(dir, 'maildir')], { stdio: 'ignore' });
  const deadline = Date.now() + 20000;
  for (;;) {
    const up = await new Promise((r) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); r(true); });
      s.on('error', () => r(false));
    });
    if (up) return child;
    if (child.exitCode !== null) throw new Error('aiosmtpd exited: is it installed? (tests/setup.sh)');
    if (Date.now() > deadline) throw new Error('aiosmtpd did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the agent emails a transcript and sees it sent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-e2e-smtp-'));
  const port = await freePort();
  const smtp = await startSmtp(port, dir);
  try {
    const env = {
      SWITCHBOARD__SMTP__HOST: '127.0.0.1', SWITCHBOARD__SMTP__PORT: String(port),
      SWITCHBOARD__SMTP__FROM: 'chat@shop.example', SWITCHBOARD__SMTP__POLL_MS: '100',
    };
    await scenario(browser, 'export-email', async ({ server, open, errors }) => {
      const alice = await open('alice', `${server.url}/console`);
      await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
      const customer = await open('customer', demoUrl(server));
      await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
      const { pane } = await acceptOffer(alice);
      await customerSays(customer, 'Please send me this chat');
      await c(pane, 'msg-customer').filter({ hasText: 'send me this chat' }).waitFor();

      await c(pane, 'export').click();
      await c(pane, 'email-pdf').check();
      await c(pane, 'email-send').click();
      await c(pane, 'email-status').filter({ hasText: 'Sent to grace@example.com' }).waitFor({ timeout: 20000 });
      const files = await readdir(join(dir, 'maildir', 'new'));
      assert.equal(files.length, 1);
      const raw = await readFile(join(dir, 'maildir', 'new', files[0]), 'utf8');
      assert.match(raw, /^X-RcptTo: grace@example\.com$/m);
      assert.match(raw, /^Subject: Transcript of your chat on /m);
      assert.match(raw, /attachment;\s+filename(\*0)?="transcript-c_[0-9a-f]+\.pdf"/);
      assert.deepEqual(errors, []);
    }, { env });
  } finally {
    smtp.kill();
    await rm(dir, { recursive: true, force: true });
  }
});

// Push URL and typing preview (seed 004, issue 13): the agent pushes a link that the customer's
// widget shows with its address and opens only on the customer's click; where the org has the
// typing preview on, the widget says so and the agent sees the customer's unsent text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg, until,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

async function setUp(server, open) {
  const alice = await open('alice', `${server.url}/console`);
  await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
  const customer = await open('customer', demoUrl(server));
  await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
  const { pane } = await acceptOffer(alice);
  return { alice, customer, pane };
}

test('a pushed link shows its address and opens only when the customer clicks it', async () => {
  await scenario(browser, 'push url', async ({ server, open, errors }) => {
    const { customer, pane } = await setUp(server, open);
    const target = `${server.url}/healthz?from=push`;

    await c(pane, 'push-url').click();
    // The page's own check, then the server's (a user name in the address is refused).
    await c(pane, 'push-url-input').fill('javascript:alert(1)');
    await c(pane, 'push-url-go').click();
    await c(pane, 'tools-error').filter({ hasText: 'http://' }).waitFor();
    await c(pane, 'push-url-input').fill('https://user:secret@example.com/');
    await c(pane, 'push-url-go').click();
    await c(pane, 'tools-error').filter({ hasText: 'user name or password' }).waitFor();

    await c(pane, 'push-url-input').fill(target);
    await c(pane, 'push-url-go').click();
    const card = w(customer, 'pushed-url');
    await card.waitFor();
    assert.equal(await card.textContent(), `Please navigate to the link: ${target}`);
    const link = card.locator('a');
    assert.equal(await link.getAttribute('href'), target);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener/);
    assert.match(await link.getAttribute('rel'), /noreferrer/);
    // The console: a line in the transcript and the chat's history of pushed links.
    await c(pane, 'pushed-url').filter({ hasText: target }).waitFor();
    await c(pane, 'pushed-url-item').filter({ hasText: target }).waitFor();

    // Nothing opened by itself: by the time a later message arrives, still one page.
    await agentSays(pane, 'Have a look at that page.');
    await w(customer, 'msg-agent').filter({ hasText: 'Have a look' }).waitFor();
    assert.equal(customer.context().pages().length, 1, 'the pushed link never opens by itself');

    // The customer's click opens it, in a new tab.
    const [tab] = await Promise.all([customer.context().waitForEvent('page'), link.click()]);
    await tab.waitForURL(target);
    assert.match(await tab.locator('body').textContent(), /ok/);
    // A reload keeps it (it is in the transcript).
    await customer.reload();
    await w(customer, 'pushed-url').filter({ hasText: target }).waitFor();
    assert.deepEqual(errors, []);
  });
});

test('typing preview: the customer is told, and the agent sees the unsent text', async () => {
  const orgs = [testOrg('e2e', { typing_preview: true })];
  await scenario(browser, 'typing preview', async ({ server, open, errors }) => {
    const { customer, pane } = await setUp(server, open);
    await w(customer, 'typing-preview-note').waitFor();
    assert.match(await w(customer, 'typing-preview-note').textContent(), /see what you type before you send/);
    await w(customer, 'input').fill('Where is my ord');
    await c(pane, 'typing').filter({ hasText: 'Customer is typing: “Where is my ord”' }).waitFor();
    await w(customer, 'input').fill('Where is my order #42?');
    await c(pane, 'typing').filter({ hasText: 'Where is my order #42?' }).waitFor();
    await w(customer, 'send').click();
    await c(pane, 'msg-customer').filter({ hasText: 'Where is my order #42?' }).waitFor();
    await until(async () => await c(pane, 'typing').isHidden(), 'the typing line goes once the message is sent');
    assert.deepEqual(errors, []);
  }, { orgs });
});

test('without the typing preview the agent sees only that the customer types', async () => {
  await scenario(browser, 'no typing preview', async ({ server, open, errors }) => {
    const { customer, pane } = await setUp(server, open);
    await w(customer, 'input').fill('my secret draft');
    await c(pane, 'typing').filter({ hasText: 'Customer is typing…' }).waitFor();
    assert.ok(await w(customer, 'typing-preview-note').isHidden(), 'no notice where the org has it off');
    assert.ok(!(await c(pane, 'typing').textContent()).includes('secret'));
    await customerSays(customer, 'Hello');
    await c(pane, 'msg-customer').filter({ hasText: 'Hello' }).waitFor();
    assert.deepEqual(errors, []);
  });
});

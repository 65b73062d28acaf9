// The widget's other faces: outside hours, verified customers, the idle prompt, the snippet page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, testOrg,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const closedAllWeek = {
  ProfileId: 'closed',
  data: ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'].map((d) => ({
    InteractionType: 'Chat', DayOfWeek: d, TimeZoneId: 'UTC',
    OperationPeriod: [{ OperationPeriodId: '1', StartTime: '00:00', EndTime: '23:59', IsBreak: true }],
  })),
};

test('outside opening hours the widget shows the org\'s message instead of the form', async () => {
  const closed = { ...testOrg('closed', { messages: { outside_hours: 'We are closed – back Monday at 9.' } }), hours: closedAllWeek };
  await scenario(browser, 'outside hours', async ({ server, open }) => {
    const customer = await open('customer', demoUrl(server, { org: 'closed' }));
    await w(customer, 'launcher').click();
    await w(customer, 'outside-hours').filter({ hasText: 'We are closed – back Monday at 9.' }).waitFor();
    assert.equal(await w(customer, 'prechat').count(), 0);
  }, { orgs: [closed] });
});

test('a verified customer (data-customer-token) skips the pre-chat form', async () => {
  await scenario(browser, 'verified customer', async ({ server, open, errors }) => {
    // The demo org's backend secret signs the customer token (the CLI knows the demo seed).
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { org: 'demo', name: 'Alice Agent', queues: 'general' }));
    const customerToken = token('customer', 'cust-42', { org: 'demo', name: 'Linus Verified', email: 'linus@example.com' });
    const customer = await open('customer', demoUrl(server, { org: 'demo', token: customerToken }));
    await w(customer, 'launcher').click();
    await w(customer, 'prechat').waitFor();
    assert.equal(await w(customer, 'prechat').locator('input').count(), 0, 'no form fields for a verified customer');
    await w(customer, 'prechat').locator('.sb-chip', { hasText: 'Delivery' }).click();
    await w(customer, 'start').click();
    const { pane } = await acceptOffer(agent);
    assert.match(await c(pane, 'sys-created').textContent(), /verified customer/);
    assert.equal(await c(pane, 'chat-title').textContent(), 'Linus Verified');
    await customerSays(customer, 'Where is my parcel?');
    await c(pane, 'msg-customer').waitFor();
    await agentSays(pane, 'Checking.');
    await w(customer, 'msg-agent').waitFor();
    assert.deepEqual(errors, []);
  });
});

test('the idle prompt has a continue button; the customer can end the chat', async () => {
  const orgs = [testOrg('e2e', { idle_prompt_ms: 1500, idle_end_ms: 600000 })];
  await scenario(browser, 'idle prompt', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent' }));
    const customer = await open('customer', demoUrl(server));
    await fillPrechat(customer);
    const { pane } = await acceptOffer(agent);
    await customerSays(customer, 'Hello?');
    await c(pane, 'msg-customer').waitFor();
    // The customer goes quiet: the prompt comes, with its button.
    await w(customer, 'idle').filter({ hasText: 'Are you still there?' }).waitFor({ timeout: 10_000 });
    await c(pane, 'sys-idle').waitFor();
    await w(customer, 'continue').click();
    await w(customer, 'idle').waitFor({ state: 'hidden' });
    await c(pane, 'sys-continued').waitFor();
    // End from the customer's side.
    await w(customer, 'end').click();
    await w(customer, 'confirm-end-yes').click();
    await w(customer, 'sys-ended').filter({ hasText: 'You ended the chat' }).waitFor();
    await c(pane, 'sys-ended').filter({ hasText: 'by the customer' }).waitFor();
    await c(pane, 'wrapup').waitFor();
    assert.deepEqual(errors, []);
  }, { orgs });
});

test('the snippet page builds the embed tag and previews the widget live', async () => {
  await scenario(browser, 'snippet', async ({ server, open, errors }) => {
    const page = await open('snippet', `${server.url}/snippet`);
    await c(page, 'org-status').filter({ hasText: 'Demo Retail' }).waitFor();
    await page.locator('#title').fill('Talk to "Northwind" <support>');
    await page.locator('#launcher').fill('Need help?');
    const code = c(page, 'snippet');
    await code.filter({ hasText: 'data-launcher="Need help?"' }).waitFor();
    const tag = await code.textContent();
    assert.equal(tag, `<script src="${server.url}/widget.js" data-org="demo" data-title="Talk to &quot;Northwind&quot; &lt;support&gt;" data-launcher="Need help?" async></script>`);
    const preview = page.frameLocator('[data-t=preview]');
    await preview.locator('#switchboard-widget [data-sb=launcher]').filter({ hasText: 'Need help?' }).waitFor();
    await preview.locator('#switchboard-widget [data-sb=launcher]').click();
    await preview.locator('#switchboard-widget [data-sb=prechat]').waitFor();
    await page.locator('#org').fill('no-such-org');
    await c(page, 'org-status').filter({ hasText: 'No chat-enabled org' }).waitFor();
    await c(page, 'copy').click();
    await page.locator('#copied').filter({ hasText: /Copied|Selected/ }).waitFor();
    assert.deepEqual(errors, []);
  });
});

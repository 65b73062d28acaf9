// Capacity: an agent holding three chats is not offered a fourth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, signInAgent, acceptOffer, rest, until,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('the 4th offer does not appear on an agent page holding 3 chats', async () => {
  await scenario(browser, 'capacity', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent' }));
    const customers = [];
    for (const name of ['Ann', 'Ben', 'Cleo']) {
      const page = await open(`customer-${name}`, demoUrl(server), { viewport: { width: 900, height: 700 } });
      await fillPrechat(page, { first: name, last: 'Shopper', email: `${name.toLowerCase()}@example.com` });
      await acceptOffer(agent);
      customers.push(page);
    }
    await c(agent, 'load').filter({ hasText: '3/3' }).waitFor();
    assert.equal(await c(agent, 'chat-item').count(), 3);

    const fourth = await open('customer-Dan', demoUrl(server), { viewport: { width: 900, height: 700 } });
    await fillPrechat(fourth, { first: 'Dan', last: 'Shopper', email: 'dan@example.com' });
    // The customer is queued and told everyone is busy ...
    await w(fourth, 'position').filter({ hasText: 'number 1 in line' }).waitFor();
    await w(fourth, 'all-busy').filter({ hasText: 'All of our agents are currently busy' }).waitFor();
    // ... the queue has no offer out (the server's view) ...
    const admin = token('admin', 'dave', { name: 'Dave' });
    const { body } = await rest(server, '/v1/queues/general', admin);
    assert.equal(body.stats.waiting, 1, JSON.stringify(body));
    assert.equal(body.stats.offered, 0, JSON.stringify(body));
    // ... and the agent page shows none.
    assert.equal(await c(agent, 'offer').count(), 0, 'no 4th offer on the page');
    assert.ok(await agent.locator('#no-offers').isVisible());
    // A reload of the waiting customer's page shows the place in line again.
    await fourth.reload();
    await w(fourth, 'position').filter({ hasText: 'number 1 in line' }).waitFor();
    assert.equal(await c(agent, 'offer').count(), 0);

    // When one chat ends, the waiting customer is offered at once.
    const pane = agent.locator('section[data-t=chat]');
    await c(pane, 'end').click();
    await c(pane, 'confirm-end').click();
    await c(agent, 'offer').filter({ hasText: 'Dan Shopper' }).waitFor();
    await until(async () => (await c(agent, 'offer').count()) === 1, 'exactly one offer');
    assert.deepEqual(errors, []);
  });
});

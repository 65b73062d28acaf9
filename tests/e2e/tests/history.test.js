// History and journey (seeds 004 and 001): the customer's earlier chat shows above the current
// one in the console, under its day, loaded when the agent asks (scrolling up, or the button),
// with how far back the history goes; the journey lists both interactions with their status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, scenario, token, demoUrl, c, fillPrechat, customerSays, signInAgent,
  acceptOffer, agentSays, w,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('the agent sees the customer\'s earlier chat above the current one, and the journey', async () => {
  await scenario(browser, 'history', async ({ server, open, errors }) => {
    const alice = await open('alice', `${server.url}/console`);
    await signInAgent(alice, token('agent', 'alice', { name: 'Alice Agent' }));
    const customer = await open('customer', demoUrl(server));

    // The first chat: a message each way, ended by the agent, wrapped up.
    await fillPrechat(customer, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    const first = await acceptOffer(alice);
    await customerSays(customer, 'My parcel is late');
    await c(first.pane, 'msg-customer').filter({ hasText: 'My parcel is late' }).waitFor();
    await agentSays(first.pane, 'Let me check the tracking.');
    await w(customer, 'msg-agent').filter({ hasText: 'check the tracking' }).waitFor();
    // A chat with no earlier ones says so once loaded.
    await c(first.pane, 'earlier-current').filter({ hasText: 'Scroll up' }).waitFor();
    await c(first.pane, 'earlier-load').click();
    await c(first.pane, 'earlier-since').filter({ hasText: 'No earlier chats' }).waitFor();
    await c(first.pane, 'end').click();
    await c(first.pane, 'confirm-end').click();
    await c(first.pane, 'disposition').selectOption('resolved');
    await c(first.pane, 'wrapup').click();
    await c(first.pane, 'sys-wrap-up').waitFor();
    await c(first.pane, 'close').click();

    // The same customer comes back.
    await w(customer, 'new-chat').click();
    await w(customer, 'prechat').locator('.sb-chip', { hasText: 'Order status' }).click();
    await w(customer, 'start').click();
    await w(customer, 'composer').waitFor();
    const second = await acceptOffer(alice);
    assert.notEqual(second.conversation, first.conversation);
    await customerSays(customer, 'Still nothing arrived');
    await c(second.pane, 'msg-customer').filter({ hasText: 'Still nothing arrived' }).waitFor();

    // Above the current chat: where it begins, and older chats on request.
    await c(second.pane, 'earlier-current').filter({ hasText: 'The current chat begins here' }).waitFor();
    assert.equal(await c(second.pane, 'earlier-session').count(), 0, 'nothing loaded before the agent asks');
    // Scrolling to the top loads them (the pane is scrolled down first, then up, as a person would).
    const scroll = second.pane.locator('.scroll');
    await scroll.evaluate((el) => { el.style.maxHeight = '120px'; });
    await scroll.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await scroll.hover();
    await alice.mouse.wheel(0, -2000);
    const session = c(second.pane, 'earlier-session');
    await session.waitFor();
    assert.equal(await session.count(), 1, 'the current chat is not among the earlier ones');
    assert.equal(await session.getAttribute('data-conversation'), first.conversation);
    await c(session, 'earlier-msg-customer').filter({ hasText: 'My parcel is late' }).waitFor();
    await c(session, 'earlier-msg-agent').filter({ hasText: 'Let me check the tracking.' }).waitFor();
    assert.equal(await c(second.pane, 'earlier-day').first().textContent(), 'Today');
    await c(second.pane, 'earlier-since').filter({ hasText: 'available since' }).waitFor();
    // The earlier chat's lines are not the current chat's: the current transcript has only its own.
    assert.equal(await c(second.pane, 'transcript').locator('text=My parcel is late').count(), 0);

    // The journey: both interactions, the current one first.
    await c(second.pane, 'journey').click();
    const items = c(second.pane, 'journey-item');
    await items.nth(1).waitFor();
    assert.equal(await items.count(), 2);
    assert.equal(await items.nth(0).getAttribute('data-conversation'), second.conversation);
    assert.equal(await c(items.nth(0), 'journey-status').textContent(), 'assigned');
    assert.equal(await c(items.nth(1), 'journey-status').textContent(), 'ended');
    assert.match(await items.nth(1).textContent(), /Alice Agent/);
    assert.deepEqual(errors, [], 'no script errors on either page');
  });
});

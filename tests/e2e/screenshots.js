// Takes the README's screenshots: the widget mid-conversation and the console with a few chats.
//   node tests/e2e/screenshots.js      (after `cargo build --bin switchboard`)
// Writes docs/screenshots/widget.png and docs/screenshots/console.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  REPO, startServer, launchBrowser, testOrg, token, demoUrl, w, c, fillPrechat, customerSays,
  signInAgent, acceptOffer, agentSays, openChat,
} from './lib/harness.js';

const out = join(REPO, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const server = await startServer([testOrg('e2e', { name: 'Northwind Outfitters', pending_yellow_ms: 20000, pending_red_ms: 45000 })]);
const browser = await launchBrowser();
try {
  const newPage = async (url, viewport) => {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    ctx.setDefaultTimeout(15000);
    const page = await ctx.newPage();
    await page.goto(url);
    return page;
  };
  const agent = await newPage(`${server.url}/console`, { width: 1280, height: 760 });
  await signInAgent(agent, token('agent', 'alice', { name: 'Alice Agent' }));

  const grace = await newPage(demoUrl(server), { width: 1100, height: 760 });
  await fillPrechat(grace, { first: 'Grace', last: 'Hopper', email: 'grace@example.com', reason: 'Delivery' });
  const g = await acceptOffer(agent);
  await customerSays(grace, 'Hi! My parcel was due yesterday – tracking says “in transit”.');
  await c(g.pane, 'msg-customer').waitFor();
  await agentSays(g.pane, 'Sorry about that, Grace. Let me look it up.');
  await w(grace, 'msg-agent').waitFor();
  await c(g.pane, 'note-toggle').check();
  await agentSays(g.pane, 'Carrier delay in the north-east hub – offer free express next time.');
  await c(g.pane, 'note-toggle').uncheck();
  await agentSays(g.pane, 'It is at the local depot and out for delivery today: https://track.example/NW-10422');
  await w(grace, 'msg-agent').nth(1).waitFor();
  await customerSays(grace, 'Perfect, thank you!');
  await c(g.pane, 'msg-customer').nth(1).waitFor();
  await agentSays(g.pane, 'You are welcome! Anything else?');
  await w(grace, 'msg-agent').nth(2).waitFor();
  await grace.locator('#switchboard-widget [data-sb=input]').pressSequentially('No, that');

  const ada = await newPage(demoUrl(server), { width: 900, height: 700 });
  await fillPrechat(ada, { first: 'Ada', last: 'Lovelace', email: 'ada@example.com', reason: 'Returns and refunds' });
  const a = await acceptOffer(agent);
  await customerSays(ada, 'Can I return a jacket I bought in a store online?');
  await c(a.pane, 'msg-customer').waitFor();
  const linus = await newPage(demoUrl(server), { width: 900, height: 700 });
  await fillPrechat(linus, { first: 'Linus', last: 'Pauling', email: 'linus@example.com', reason: 'Order status' });
  await c(agent, 'offer').waitFor();
  await openChat(agent, g.conversation);
  await customerSays(ada, 'It still has its tags.');
  await agent.locator('[data-t=chat-item] [data-t=unread]').waitFor();
  await grace.screenshot({ path: join(out, 'widget.png') });
  await agent.screenshot({ path: join(out, 'console.png') });
  console.log(`wrote ${join(out, 'widget.png')} and ${join(out, 'console.png')}`);
} finally {
  await browser.close();
  await server.stop();
}

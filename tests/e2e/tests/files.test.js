// Files in chats, in the browser (PROTOCOL §9.7, §9.8): the widget's paper clip and the console's
// Attach upload with progress into a tray, then go with the next Send (the text as a caption);
// both sides show images as thumbnails (fetched with the bearer token, shown from a blob: URL)
// and other files as cards with a Download button; refusals show the server's message and send
// nothing; a file the virus scanner rejects is shown broken.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
import {
  launchBrowser, scenario, token, demoUrl, w, c, fillPrechat, acceptOffer, until, texts, testOrg,
} from '../lib/harness.js';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** A real PNG: `width`×`height`, an RGB gradient. */
function makePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let k = n;
    for (let i = 0; i < 8; i++) k = k & 1 ? 0xedb88320 ^ (k >>> 1) : k >>> 1;
    return k >>> 0;
  });
  const crc = (buf) => {
    let x = 0xffffffff;
    for (const byte of buf) x = crcTable[(x ^ byte) & 0xff] ^ (x >>> 8);
    return (x ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4); sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row.set([Math.round((255 * x) / width), Math.round((255 * y) / height), 160], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

// A real PNG, a minimal PDF and a text file.
const PNG = makePng(48, 32);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n');
const TXT = Buffer.from('Order #1042: 2 × blue mug, 1 × teapot.\n');

/** Waits for a download started by `click`; resolves with its name and bytes. */
async function download(page, click) {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  const chunks = [];
  for await (const chunk of await dl.createReadStream()) chunks.push(chunk);
  return { name: dl.suggestedFilename(), bytes: Buffer.concat(chunks) };
}

/** Polls until the thumbnail image under `scope` has loaded (natural width: the PNG's 48). */
async function thumbnailLoaded(scope, what) {
  const img = scope.locator('img').first();
  await img.waitFor();
  await until(async () => (await img.evaluate((el) => el.complete && el.naturalWidth)) === 48, what);
  return img;
}

test('files: customer and agent send images, PDFs and text files; refusals send nothing', async () => {
  await scenario(browser, 'files', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await agent.locator('#token').fill(token('agent', 'alice', { name: 'Alice Agent' }));
    await c(agent, 'signin').click();
    await agent.locator('#net.ok').waitFor();
    await c(agent, 'presence').selectOption('available');
    const customer = await open('customer', demoUrl(server), { viewport: { width: 1000, height: 800 } });
    await fillPrechat(customer);
    const { pane } = await acceptOffer(agent);
    await w(customer, 'sys-joined').waitFor();

    // The customer attaches an image and a PDF (the paper clip is a labelled button), each
    // uploads into the tray, then both go with the caption in one message.
    assert.equal(await w(customer, 'attach').getAttribute('aria-label'), 'Attach a file');
    await w(customer, 'file-input').setInputFiles([
      { name: 'photo.png', mimeType: 'image/png', buffer: PNG },
      { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: PDF },
    ]);
    const uploads = w(customer, 'upload');
    await until(async () => (await uploads.count()) === 2 && (await uploads.evaluateAll((els) => els.every((e) => e.dataset.state === 'done'))), 'both uploads done');
    assert.deepEqual(await texts(w(customer, 'upload-name')), ['photo.png', 'invoice.pdf']);
    await w(customer, 'input').fill('Here are the photo and the invoice');
    await w(customer, 'send').click();
    await until(async () => (await uploads.count()) === 0, 'the tray emptied');

    // The agent sees the caption, a thumbnail that really loaded, and a card with name and size.
    const msg = c(pane, 'msg-customer').filter({ hasText: 'Here are the photo and the invoice' });
    await msg.waitFor();
    const photo = msg.locator('[data-t=file]').filter({ hasText: 'photo.png' });
    await thumbnailLoaded(c(photo, 'file-thumb'), 'the agent\'s thumbnail');
    assert.match(await c(photo, 'file-thumb').getAttribute('href'), /^blob:/);
    const pdf = msg.locator('[data-t=file]').filter({ hasText: 'invoice.pdf' });
    assert.equal(await c(pdf, 'file-name').textContent(), 'invoice.pdf');
    assert.equal(await c(pdf, 'file-size').textContent(), `${PDF.length} B`);
    assert.equal(await c(pdf, 'file-thumb').count(), 0, 'a PDF gets a card, no thumbnail');
    await until(async () => (await pdf.getAttribute('data-state')) === 'ready', 'the PDF card ready');

    // The agent downloads the PDF: the same bytes, under its name.
    const got = await download(agent, () => c(pdf, 'file-download').click());
    assert.equal(got.name, 'invoice.pdf');
    assert.ok(got.bytes.equals(PDF), 'the downloaded PDF is the uploaded one');

    // The customer's own message shows the thumbnail too (cross-origin fetch with the token).
    const mine = w(customer, 'msg-mine').filter({ hasText: 'Here are the photo and the invoice' });
    await thumbnailLoaded(mine.locator('[data-sb=file-thumb]'), 'the customer\'s thumbnail');

    // The agent sends a text file back, with Attach, as a message of its own (no caption).
    await c(pane, 'file-input').setInputFiles({ name: 'order-1042.txt', mimeType: 'text/plain', buffer: TXT });
    await until(async () => (await c(pane, 'upload').getAttribute('data-state')) === 'done', 'the agent\'s upload done');
    await c(pane, 'send').click();
    const reply = w(customer, 'msg-agent').filter({ hasText: 'order-1042.txt' });
    await reply.waitFor();
    const card = reply.locator('[data-sb=file]');
    assert.equal(await card.locator('[data-sb=file-size]').textContent(), `${TXT.length} B`);
    await until(async () => (await card.getAttribute('data-state')) === 'ready', 'the customer\'s card ready');
    const back = await download(customer, () => card.locator('[data-sb=file-download]').click());
    assert.equal(back.name, 'order-1042.txt');
    assert.ok(back.bytes.equals(TXT), 'the customer downloads the agent\'s file');

    // Refused files: a PNG named .pdf and an .exe. Each shows the server's message on its tray
    // item; Send with nothing else sends nothing; Remove takes them out.
    const before = await c(pane, 'msg-customer').count();
    await w(customer, 'file-input').setInputFiles([
      { name: 'invoice-2.pdf', mimeType: 'application/pdf', buffer: PNG },
      { name: 'setup.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ\x90\x00') },
    ]);
    const failed = customer.locator('#switchboard-widget [data-sb=upload][data-state=failed]');
    await until(async () => (await failed.count()) === 2, 'both uploads refused');
    assert.deepEqual(await texts(w(customer, 'upload-error')), [
      "the file's content is not a .pdf file",
      'files of type .exe are not allowed',
    ]);
    await w(customer, 'send').click();
    await customer.waitForTimeout(500);
    assert.equal(await w(customer, 'msg-pending').count(), 0, 'nothing queued');
    assert.equal(await c(pane, 'msg-customer').count(), before, 'nothing reached the agent');
    await failed.first().locator('[data-sb=upload-remove]').click();
    await until(async () => (await failed.count()) === 1, 'one removed');
    await failed.first().locator('[data-sb=upload-remove]').press('Enter');
    await until(async () => (await w(customer, 'upload').count()) === 0, 'both removed (keyboard too)');
    assert.equal(await w(customer, 'uploads').isHidden(), true);

    // A caption still goes alone.
    await w(customer, 'input').fill('Sorry, wrong files');
    await w(customer, 'send').click();
    await c(pane, 'msg-customer').filter({ hasText: 'Sorry, wrong files' }).waitFor();
    assert.deepEqual(errors, []);
  });
});

test('files: a file the virus scanner rejects is shown broken on both sides', async () => {
  // A scanning webhook (PROTOCOL §9.8): files holding the marker are infected, answered after a
  // pause so that the message is sent while the file is still pending; the rest are clean.
  const MARKER = 'SWITCHBOARD-E2E-INFECTED';
  const scanner = createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const infected = Buffer.concat(chunks).includes(MARKER);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ result: infected ? 'infected' : 'clean' }));
      }, infected ? 3000 : 300);
    });
  });
  await new Promise((r) => scanner.listen(0, '127.0.0.1', r));
  const env = { SWITCHBOARD__ATTACHMENTS__SCAN_URL: `http://127.0.0.1:${scanner.address().port}/scan` };
  try {
    await scenario(browser, 'files scanned', async ({ server, open, errors }) => {
      const agent = await open('agent', `${server.url}/console`);
      await agent.locator('#token').fill(token('agent', 'alice', { name: 'Alice Agent' }));
      await c(agent, 'signin').click();
      await agent.locator('#net.ok').waitFor();
      await c(agent, 'presence').selectOption('available');
      const customer = await open('customer', demoUrl(server));
      await fillPrechat(customer);
      const { pane } = await acceptOffer(agent);
      await w(customer, 'sys-joined').waitFor();

      await w(customer, 'file-input').setInputFiles([
        { name: 'photo.png', mimeType: 'image/png', buffer: PNG },
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(`hello ${MARKER}\n`) },
      ]);
      await until(async () => (await w(customer, 'upload').evaluateAll((els) => els.length === 2 && els.every((e) => e.dataset.state === 'done'))), 'both uploads done');
      await w(customer, 'input').fill('Two files');
      await w(customer, 'send').click();

      const msg = c(pane, 'msg-customer').filter({ hasText: 'Two files' });
      await msg.waitFor();
      // The clean image: scanned, then its thumbnail (retried after "Scanning…" if need be).
      await thumbnailLoaded(msg.locator('[data-t=file]').filter({ hasText: 'photo.png' }), 'the scanned image');
      // The infected file: "Scanning…" first, then the broken-file indicator, no Download.
      const bad = msg.locator('[data-t=file]').filter({ hasText: 'notes.txt' });
      await until(async () => (await bad.getAttribute('data-state')) === 'blocked', 'the agent sees the file blocked', 20_000);
      assert.equal(await c(bad, 'file-status').textContent(), 'File blocked');
      assert.equal(await c(bad, 'file-download').isHidden(), true);
      const mine = w(customer, 'msg-mine').filter({ hasText: 'Two files' }).locator('[data-sb=file]').filter({ hasText: 'notes.txt' });
      await until(async () => (await mine.getAttribute('data-state')) === 'blocked', 'the customer sees it blocked', 20_000);
      assert.equal(await mine.locator('[data-sb=file-status]').textContent(), 'File blocked');
      assert.deepEqual(errors, []);
    }, { env });
  } finally {
    scanner.close();
  }
});

test('files: upload progress, drag-and-drop, and the org\'s size limit refused with the server\'s message', async () => {
  const orgs = [testOrg('e2e', { attachments: { max_bytes: 400_000 } })];
  await scenario(browser, 'files limits', async ({ server, open, errors }) => {
    const agent = await open('agent', `${server.url}/console`);
    await agent.locator('#token').fill(token('agent', 'alice', { name: 'Alice Agent' }));
    await c(agent, 'signin').click();
    await agent.locator('#net.ok').waitFor();
    await c(agent, 'presence').selectOption('available');
    const customer = await open('customer', demoUrl(server));
    await fillPrechat(customer);
    const { pane } = await acceptOffer(agent);
    await w(customer, 'sys-joined').waitFor();

    // A slow connection: the tray shows the upload's progress bar moving, then the file is sent.
    const cdp = await customer.context().newCDPSession(customer);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 150_000 });
    const big = Buffer.concat([PDF, Buffer.alloc(300_000, 0x20)]);
    await w(customer, 'file-input').setInputFiles({ name: 'scan.pdf', mimeType: 'application/pdf', buffer: big });
    const bar = w(customer, 'upload-progress');
    await until(async () => (await bar.count()) && (await bar.evaluate((el) => el.value > 0 && el.value < el.max).catch(() => false)), 'a progress bar part-way');
    await until(async () => (await w(customer, 'upload').getAttribute('data-state')) === 'done', 'the slow upload done');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await w(customer, 'send').click();
    const card = c(pane, 'msg-customer').locator('[data-t=file]').filter({ hasText: 'scan.pdf' });
    await card.waitFor();
    assert.equal(await c(card, 'file-size').textContent(), '293 KB');

    // The agent drops two files on the chat: one within the limit, one over it (413).
    const drop = await agent.evaluateHandle(([small, large]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([small], 'note.txt', { type: 'text/plain' }));
      dt.items.add(new File([new Uint8Array(large)], 'huge.pdf', { type: 'application/pdf' }));
      return dt;
    }, ['See you soon\n', 500_000]);
    const main = pane.locator('.chat-main');
    await main.dispatchEvent('dragenter', { dataTransfer: drop });
    assert.equal(await main.evaluate((el) => el.classList.contains('dropping')), true, 'the drop zone shows');
    await main.dispatchEvent('dragover', { dataTransfer: drop });
    await main.dispatchEvent('drop', { dataTransfer: drop });
    const huge = c(pane, 'upload').filter({ hasText: 'huge.pdf' });
    await until(async () => (await huge.getAttribute('data-state')) === 'failed', 'the large file refused');
    assert.equal(await c(huge, 'upload-error').textContent(), 'the file is larger than 400000 bytes');
    await until(async () => (await c(pane, 'upload').filter({ hasText: 'note.txt' }).getAttribute('data-state')) === 'done', 'the small one uploaded');
    await c(pane, 'composer-input').fill('Here you go');
    await c(pane, 'send').click();
    const reply = w(customer, 'msg-agent').filter({ hasText: 'Here you go' });
    await reply.waitFor();
    assert.deepEqual(await texts(reply.locator('[data-sb=file-name]')), ['note.txt']);
    // The refused file stays in the agent's tray, with its message, until removed.
    assert.equal(await c(pane, 'upload').count(), 1);
    await c(huge, 'upload-remove').click();
    await until(async () => (await c(pane, 'upload').count()) === 0, 'removed');
    assert.deepEqual(errors, []);
  }, { orgs });
});

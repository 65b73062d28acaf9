// The e2e harness: starts the real server (target/debug/switchboard) on a free port with test
// orgs, mints tokens with the server's own CLI, and drives headless Debian Chromium through
// playwright-core. Every wait has a timeout; screenshots of every open page go to
// tests/e2e/artifacts/ when a test fails.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..', '..', '..');
export const ARTIFACTS = join(REPO, 'tests', 'e2e', 'artifacts');
export const BINARY = process.env.SWITCHBOARD_BIN || join(REPO, 'target', 'debug', 'switchboard');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** The longest any single wait may take. */
export const WAIT = 15_000;

/** An org for the tests: the demo org's shape, with short pending-response thresholds. */
export function testOrg(id, settings = {}) {
  return {
    id,
    settings: {
      name: `Shop ${id}`,
      default_queue: 'general',
      max_chats: 3,
      pending_yellow_ms: 1500,
      pending_red_ms: 3000,
      survey_enabled: true,
      ...settings,
    },
    queues: [
      { id: 'general', name: 'General' },
      { id: 'billing', name: 'Billing' },
    ],
    agents: [
      { id: 'alice', name: 'Alice Agent', queues: ['general'] },
      { id: 'bob', name: 'Bob Agent', queues: ['general'] },
      { id: 'carol', name: 'Carol Agent', queues: ['general', 'billing'] },
    ],
    reasons: [
      { id: 'order-status', name: 'Order status', sequence: 0 },
      { id: 'returns', name: 'Returns and refunds', sequence: 1 },
      { id: 'billing', name: 'Billing question', sequence: 1, queue: 'billing' },
      { id: 'delivery', name: 'Delivery', sequence: 2 },
      { id: 'product', name: 'Product question' },
      { id: 'sizing', name: 'Sizing help' },
      { id: 'none', name: 'None of these' },
    ],
    dispositions: [
      { code: 'resolved', label: 'Resolved' },
      { code: 'follow-up', label: 'Needs follow-up' },
    ],
  };
}

/**
 * Starts a server with `orgs` (the demo org is loaded too); resolves when it listens. Uploaded
 * files and the archive go to a temporary directory; `env` adds settings (e.g. SWITCHBOARD__ATTACHMENTS__SCAN_URL).
 */
export async function startServer(orgs = [testOrg('e2e')], env = {}) {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run \`cargo build --bin switchboard\` first (tests/e2e/run.sh does).`);
  }
  const dir = join(tmpdir(), `sb-e2e-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const seed = join(dir, 'orgs.json');
  writeFileSync(seed, JSON.stringify(orgs));
  const child = spawn(BINARY, ['serve'], {
    cwd: REPO,
    env: {
      ...process.env,
      SWITCHBOARD__SERVER__PORT: '0',
      SWITCHBOARD__SERVER__WORKERS: '1',
      SWITCHBOARD__SERVER__ACTOR_THREADS: '2',
      SWITCHBOARD__SERVER__DRAIN_TIMEOUT_MS: '500',
      SWITCHBOARD__DEMO__SEED_FILE: seed,
      SWITCHBOARD__LIMITS__POSITION_UPDATE_MS: '100',
      SWITCHBOARD__ATTACHMENTS__DIR: join(dir, 'attachments'),
      // Each server its own archive (the embedded SQLite default would be data/ in the repo).
      SWITCHBOARD__ARCHIVE__URL: `sqlite://${join(dir, 'archive.db')}`,
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const port = await new Promise((resolvePort, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start within ${WAIT} ms:\n${out}\n${log}`)), WAIT);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/Switchboard listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolvePort(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening:\n${out}\n${log}`)); });
  });
  child.removeAllListeners('exit');
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** The same server under another origin: the retailer's page in cross-origin tests. */
    otherOrigin: `http://localhost:${port}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A token from the server's own CLI (same config, same secret). */
export function token(kind, id, { org = 'e2e', name, queues = 'general,billing', email } = {}) {
  const args = ['token', '--kind', kind, '--id', id, '--org', org];
  if (name) args.push('--name', name);
  if (kind !== 'customer') args.push('--queues', queues);
  if (email) args.push('--email', email);
  return execFileSync(BINARY, args, { cwd: REPO, encoding: 'utf8', timeout: WAIT }).trim();
}

/**
 * Headless Chromium. The first start on a freshly installed machine builds its font and profile
 * caches and has taken over 30 s on a 2-core box (CI saw the launch time out): run.sh starts it once
 * before the tests, and a launch here gets 55 s and one more try (inside the 120-s hook limit).
 */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const launch = () => chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 55_000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  try {
    return await launch();
  } catch (err) {
    console.error(`Chromium did not start (${err.message.split('\n')[0]}); trying once more.`);
    return launch();
  }
}

/**
 * Runs `body` with a fresh server and a helper that opens pages (each in its own browser
 * context: its own storage, like a different person's browser). On failure, every open page is
 * saved as a screenshot under artifacts/ and the server's log is printed.
 */
export async function scenario(browser, name, body, { orgs, env } = {}) {
  const server = await startServer(orgs, env);
  const pages = [];
  const errors = [];
  const open = async (label, url, { viewport = { width: 1280, height: 800 } } = {}) => {
    const context = await browser.newContext({ viewport });
    context.setDefaultTimeout(WAIT);
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
    pages.push({ label, page, context });
    await page.goto(url);
    return page;
  };
  try {
    await body({ server, open, errors });
  } catch (err) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    for (const { label, page } of pages) {
      try { await page.screenshot({ path: join(ARTIFACTS, `${slug}--${label}.png`), fullPage: true, timeout: 5000 }); } catch { /* page gone */ }
    }
    if (errors.length) console.error(`page errors:\n${errors.join('\n')}`);
    console.error(`server log (${name}):\n${server.log().slice(-4000)}`);
    throw err;
  } finally {
    for (const { context } of pages) await context.close().catch(() => {});
    await server.stop();
  }
}

// ------------------------------------------------------------------ page objects

/** The sample retailer page with the widget, served from the other origin (cross-origin). */
export function demoUrl(server, { org = 'e2e', token: customerToken, crossOrigin = true } = {}) {
  const q = new URLSearchParams({ org, server: server.url });
  if (customerToken) q.set('token', customerToken);
  return `${crossOrigin ? server.otherOrigin : server.url}/demo?${q}`;
}

/** Locators inside the widget's (open) shadow root: Playwright's CSS engine pierces it. */
export const w = (page, name) => page.locator(`#switchboard-widget [data-sb="${name}"]`);
/** Console elements by their data-t hook. */
export const c = (scope, name) => scope.locator(`[data-t="${name}"]`);

export async function fillPrechat(page, { first = 'Ada', last = 'Lovelace', email = 'ada@example.com', reason = 'Order status' } = {}) {
  await w(page, 'launcher').click();
  const form = w(page, 'prechat');
  await form.locator('input[name=first_name]').fill(first);
  await form.locator('input[name=last_name]').fill(last);
  await form.locator('input[name=email]').fill(email);
  if (reason) await form.locator('.sb-chip', { hasText: reason }).click();
  await w(page, 'start').click();
  await w(page, 'composer').waitFor();
}

export async function customerSays(page, text) {
  await w(page, 'input').fill(text);
  await w(page, 'send').click();
}

export async function signInAgent(page, agentToken, { available = true } = {}) {
  await page.locator('#token').fill(agentToken);
  await c(page, 'signin').click();
  await page.locator('#net.ok').waitFor();
  if (available) {
    await c(page, 'presence').selectOption('available');
    await page.waitForFunction(() => document.querySelector('[data-t=presence]').value === 'available');
  }
}

/** Accepts the offer (or transfer request) for the customer named `who`; returns its chat pane. */
export async function acceptOffer(page, kind = 'offer') {
  const card = c(page, kind).first();
  await card.waitFor();
  const conversation = await card.getAttribute('data-conversation');
  await c(card, 'accept').click();
  const pane = page.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
  await pane.waitFor();
  return { conversation, pane };
}

export async function agentSays(pane, text) {
  await c(pane, 'composer-input').fill(text);
  await c(pane, 'send').click();
}

/** Selects the chat of `conversation` in the console's list; returns its pane. */
export async function openChat(page, conversation) {
  await page.locator(`[data-t=chat-item][data-conversation="${conversation}"]`).click();
  const pane = page.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
  await pane.waitFor();
  return pane;
}

/** Polls `check` until it returns a truthy value; fails after `timeout` ms with `what`. */
export async function until(check, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The texts of every element matching `locator`, in order. */
export const texts = (locator) => locator.evaluateAll((els) => els.map((e) => e.textContent));

/** A REST call to the server under test. */
export async function rest(server, path, bearer) {
  const r = await fetch(server.url + path, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  return { status: r.status, body: await r.json().catch(() => null) };
}

/** A REST call with a method and a JSON body (PUT, POST, DELETE), e.g. an admin's configuration. */
export async function restSend(server, method, path, bearer, body) {
  const headers = bearer ? { authorization: `Bearer ${bearer}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

// ------------------------------------------------------------------ participants

/** `org` (a testOrg) with more agent profiles, e.g. a supervisor: `withAgents(testOrg('e2e'), [...])`. */
export function withAgents(org, agents) {
  return { ...org, agents: [...org.agents, ...agents] };
}

/** The owner invites `to` (an agent id) to the chat in `pane` as `role` (conference | consult). */
export async function invite(pane, to, role, note) {
  await c(pane, 'invite').click();
  const target = c(pane, 'invite-target');
  await target.locator(`option[value="agent:${to}"]`).waitFor({ state: 'attached' });
  await target.selectOption(`agent:${to}`);
  await c(pane, 'invite-role').selectOption(role);
  if (note) await c(pane, 'invite-note').fill(note);
  await c(pane, 'invite-go').click();
  await c(pane, 'invite-go').waitFor({ state: 'detached' });
}

/** Writes `text` in the chat's internal discussion (agents only). */
export async function internalSays(pane, text) {
  await c(pane, 'internal-input').fill(text);
  await c(pane, 'internal-send').click();
}

/** A participant's entry in the chat's participant list. */
export const participant = (pane, agent) => pane.locator(`[data-t=participant][data-agent="${agent}"]`);

// ------------------------------------------------------------------ request list

/** The console's request list (Waiting panel) entry of the customer named `who`. */
export const waitingItem = (page, who) => c(page, 'waiting-item').filter({ hasText: who });

/** Picks the waiting chat of `who` from the request list; returns its chat pane once open. */
export async function pickWaiting(page, who) {
  const item = waitingItem(page, who);
  await item.waitFor();
  const conversation = await item.getAttribute('data-conversation');
  await c(item, 'pick').click();
  const pane = page.locator(`section[data-t=chat][data-conversation="${conversation}"]`);
  await pane.waitFor();
  return { conversation, pane };
}

// ------------------------------------------------------------------ agent-initiated chats

/** The customer token secret of orgs made with `verifiedOrg` (PROTOCOL §2.3). */
export const CUSTOMER_SECRET = 'e2e-customer-secret';

/** A test org that accepts verified-customer tokens signed with CUSTOMER_SECRET. */
export function verifiedOrg(id, settings = {}) {
  return testOrg(id, { customer_token_secret: CUSTOMER_SECRET, ...settings });
}

/**
 * A verified-customer token (PROTOCOL §2.3: HS256 with the org's customer_token_secret), as the
 * retailer's backend would mint it. The server's CLI signs only with the demo org's secret.
 */
export function verifiedToken(id, { org = 'e2e', name, email, secret = CUSTOMER_SECRET, ttl = 3600 } = {}) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { aud: 'switchboard-customer', sub: id, org, name: name || id, exp: Math.floor(Date.now() / 1000) + ttl };
  if (email) claims.email = email;
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** Fills and sends the console's Start-a-chat form: on success it closes and the new chat opens; else start-error says why. */
export async function startChatForm(page, { customer, name, queue, text }) {
  if (await c(page, 'start-form').isHidden()) await c(page, 'start-chat').click();
  await c(page, 'start-customer').fill(customer);
  await c(page, 'start-name').fill(name || '');
  if (queue !== undefined) await c(page, 'start-queue').selectOption(queue);
  await c(page, 'start-text').fill(text);
  await c(page, 'start-go').click();
}

/**
 * A real webhook receiver (a bot, a help desk) for a test: a node:http server that checks each
 * POST's Standard Webhooks signature against `secret` and its timestamp (within 5 minutes),
 * answers 401/400 to a bad one (noting it in `errors`) and 204 to a good one, then hands the
 * parsed body to `onHook` (its failures are noted in `errors` too). Listen on it with
 * `.listen(0, '127.0.0.1')`.
 */
export function webhookReceiver(secret, errors, onHook) {
  return createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = req.headers['webhook-id'];
      const ts = req.headers['webhook-timestamp'];
      const sigs = String(req.headers['webhook-signature'] || '').split(' ');
      const want = `v1,${createHmac('sha256', secret).update(`${id}.${ts}.${raw}`).digest('base64')}`;
      const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
      if (req.method !== 'POST' || !id || !fresh || !sigs.includes(want)) {
        errors.push(`bad webhook: ${req.method} id=${id} ts=${ts} sig=${sigs.join(' ')} body=${raw.slice(0, 200)}`);
        res.writeHead(401).end();
        return;
      }
      let hook;
      try { hook = JSON.parse(raw); } catch { errors.push(`webhook body is not JSON: ${raw.slice(0, 200)}`); res.writeHead(400).end(); return; }
      if (hook.id !== id) errors.push(`webhook id header ${id} ≠ body id ${hook.id}`);
      res.writeHead(204).end();
      Promise.resolve()
        .then(() => onHook(hook))
        .catch((e) => errors.push(`${hook.type}: ${e.message}`));
    });
  });
}

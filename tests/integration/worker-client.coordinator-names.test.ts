// A TVARR_COORDINATOR_URL name that resolves to several addresses counts as several
// coordinators: the worker resolves it at each (re)connect, dials the addresses one by
// one, and with TLS checks every one against the name. Scripted coordinators on loopback
// addresses (127.0.0.1 and 127.0.0.2 share one port, as two hosts behind one name would);
// the resolver is injected where the name is made up, the system one for "localhost".
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { LogFields, Logger } from '../../common/log';
import { parseWorkerConfig } from '../../worker/config';
import { WorkerAgent, type AgentOptions } from '../../worker/client/worker-agent';
import type { Capabilities } from '../../worker/probe/capabilities';
import { isEvent, ScriptedCoordinator } from '../helpers/scripted-coordinator';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs';

const caps: Capabilities = { ffmpegVersion: '5.1-test', encoders: [], rejectedEncoders: [], gpus: [], speedFps: 0 };
const hw = { hostname: 'test-host', cpuCount: 2, nvidiaGpuCount: 0, otherGpuCount: 0 };
const started: Array<() => unknown> = [];
let dir: string;
let certs: TestCerts;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-names-'));
  certs = await makeTestCerts(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop();
});

type Line = { level: string; msg: string } & LogFields;
function recordingLogger(lines: Line[], base: LogFields = {}): Logger {
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ ...base, ...fields, level, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (f) => recordingLogger(lines, { ...base, ...f }) };
}

async function coordinator(host: string, port = 0, credentials?: grpc.ServerCredentials): Promise<ScriptedCoordinator> {
  const c = await ScriptedCoordinator.start(host, port, credentials);
  started.push(() => c.kill());
  return c;
}

function startAgent(env: Record<string, string>, extra: Partial<AgentOptions> = {}) {
  const lines: Line[] = [];
  const config = parseWorkerConfig({ TVARR_WORKER_ID: 'w-names', TVARR_RECONNECT_BASE_MS: '50', TVARR_RECONNECT_MAX_MS: '200', ...env }, hw);
  const agent = new WorkerAgent({ config, capabilities: caps, logger: recordingLogger(lines), version: 'test', random: () => 0, ...extra });
  agent.start();
  started.push(() => agent.stop('test finished'));
  return { agent, lines };
}

test('a name with two addresses: the worker registers on one and moves to the other when it dies', async () => {
  const a = await coordinator('127.0.0.1');
  const b = await coordinator('127.0.0.2', a.port);
  const asked: string[] = [];
  const resolve = async (host: string) => (asked.push(host), ['127.0.0.1', '127.0.0.2']);
  const entry = `coord.test:${a.port}`;
  const { agent } = startAgent({ TVARR_COORDINATOR_URL: entry }, { resolve });

  const onA = new Promise<{ coordinator: string; address: string }>((r) => agent.once('registered', r));
  const regA = await a.acceptRegister();
  expect(await onA).toEqual(expect.objectContaining({ coordinator: entry, address: a.address }));
  // Dialled by address, but as the name: that is the :authority the coordinator sees.
  expect(regA.host).toBe(entry);

  // Kept past a heartbeat: its loss starts a new round, with the name resolved again.
  await a.control.next(isEvent('heartbeat'), 'heartbeat on A');
  const onB = new Promise<{ coordinator: string; address: string }>((r) => agent.once('registered', r));
  a.kill();
  const regB = await b.acceptRegister({ timeoutMs: 9000 });
  expect(await onB).toEqual(expect.objectContaining({ coordinator: entry, address: b.address }));
  expect(regB.host).toBe(entry);
  expect(regB.msg.register!.worker_id).toBe('w-names');
  // Resolved again for the new round, not only at start.
  expect(asked.length).toBeGreaterThanOrEqual(2);
  expect(new Set(asked)).toEqual(new Set(['coord.test']));
}, 30_000);

test('"localhost" through the system resolver reaches the coordinator on its loopback address', async () => {
  const c = await coordinator('127.0.0.1');
  const { agent } = startAgent({ TVARR_COORDINATOR_URL: `localhost:${c.port}` });
  const registered = new Promise<{ address: string }>((r) => agent.once('registered', r));
  await c.acceptRegister();
  expect((await registered).address).toBe(c.address);
}, 30_000);

test('TLS checks each resolved address against the name: a certificate for it passes, one for another name does not', async () => {
  const creds = grpc.ServerCredentials.createSsl(fs.readFileSync(certs.caCert), [
    { cert_chain: fs.readFileSync(certs.serverCert), private_key: fs.readFileSync(certs.serverKey) },
  ], false);
  const c = await coordinator('127.0.0.1', 0, creds);

  // The certificate names localhost (and 127.0.0.1): dialled at 127.0.0.1 as "localhost", it is trusted.
  const ok = startAgent({ TVARR_COORDINATOR_URL: `localhost:${c.port}`, TVARR_TLS_CA_FILE: certs.caCert }, { resolve: async () => ['127.0.0.1'] });
  const registered = new Promise<{ address: string }>((r) => ok.agent.once('registered', r));
  await c.acceptRegister();
  expect((await registered).address).toBe(c.address);

  // The same address under a name the certificate does not carry is refused, and said so.
  const bad = startAgent({ TVARR_COORDINATOR_URL: `coord.test:${c.port}`, TVARR_TLS_CA_FILE: certs.caCert, TVARR_WORKER_ID: 'w-bad' }, { resolve: async () => ['127.0.0.1'] });
  const deadline = Date.now() + 15_000;
  while (!bad.lines.some((l) => l.msg === 'cannot connect to the coordinator') && Date.now() < deadline) await Bun.sleep(20);
  const hint = bad.lines.find((l) => l.msg === 'cannot connect to the coordinator');
  expect(String(hint?.hint)).toContain('not trusted');
  // Checked as the name, not as the address the certificate does carry.
  expect(String(hint?.reason)).toMatch(/ALTNAME_INVALID.*Host: coord\.test\./);
  expect(bad.lines.some((l) => l.msg === 'registered')).toBe(false);
  expect(c.control.all.filter((m) => m.msg.register?.worker_id === 'w-bad')).toHaveLength(0);
}, 60_000);

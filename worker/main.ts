// ffmpegd entry point: wiring only.
//   bun worker/main.ts           probe, connect, register, run jobs
//   bun worker/main.ts detect    probe and print the capabilities JSON
//   bun worker/main.ts --help    usage and environment variables
import pkg from '../package.json';
import { allocatorHint } from '../common/allocator-env';
import { createLogger, setLogLevel } from '../common/log';
import { CONFIG_HELP, ConfigError, parseWorkerConfig, redactConfig, type WorkerConfig } from './config';
import { probeCapabilities } from './probe/capabilities';
import { WorkerAgent } from './client/worker-agent';

const VERSION: string = pkg.version;

function usage(): string {
  const rows = CONFIG_HELP.map(([name, dflt, what]) => `  ${name.padEnd(27)} ${dflt.padEnd(27)} ${what}`);
  return [
    `ffmpegd ${VERSION}: FFmpeg transcoding worker for the tvarr coordinator`,
    '',
    'Usage: ffmpegd [run|detect|--help]',
    '  run (default)  probe FFmpeg, connect to the coordinator, run jobs',
    '  detect         probe FFmpeg and print capabilities as JSON',
    '',
    'Environment:',
    `  ${'VARIABLE'.padEnd(27)} ${'DEFAULT'.padEnd(27)} MEANING`,
    ...rows,
    `  ${'MIMALLOC_PURGE_DELAY'.padEnd(27)} ${'(unset: 100)'.padEnd(27)} set 10000, with MIMALLOC_PURGE_HOLES=0: freed buffers`,
    `  ${'MIMALLOC_PURGE_HOLES'.padEnd(27)} ${'(unset: 1)'.padEnd(27)} stay for reuse 10 s (about half the relay CPU)`,
    '',
    'Signals: SIGTERM drains (no new jobs; exits when its jobs have moved or after',
    'TVARR_DRAIN_TIMEOUT_MS); SIGINT stops all jobs and exits.',
  ].join('\n');
}

function loadConfig(): WorkerConfig {
  try {
    return parseWorkerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ffmpegd: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function detect(config: WorkerConfig): Promise<void> {
  const capabilities = await probeCapabilities(config);
  const limits = { maxJobs: config.maxJobs, maxGpuJobs: config.maxGpuJobs, maxCpuJobs: config.maxCpuJobs };
  process.stdout.write(JSON.stringify({ workerId: config.workerId, name: config.workerName, version: VERSION, limits, ...capabilities }, null, 2) + '\n');
}

async function run(config: WorkerConfig): Promise<void> {
  const logger = createLogger('worker', { workerId: config.workerId });
  logger.info('starting', { version: VERSION, config: redactConfig(config) });
  const hint = allocatorHint();
  if (hint) logger.warn(hint);
  let agent: WorkerAgent | undefined;
  let stopping = false;
  // Installed before the probe so a signal during start-up still exits cleanly.
  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => {
    if (stopping) return;
    stopping = true;
    if (!agent) process.exit(0);
    const done = signal === 'SIGTERM' ? agent.startDrain('SIGTERM', config.drainTimeoutMs) : agent.stop('SIGINT');
    void done.then(() => {
      logger.info(signal === 'SIGTERM' ? 'drained; exiting' : 'stopped; exiting');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const capabilities = await probeCapabilities(config);
  logger.info('capabilities probed', {
    ffmpegVersion: capabilities.ffmpegVersion,
    encoders: capabilities.encoders.map((e) => `${e.name}(${e.kind})`),
    rejected: capabilities.rejectedEncoders.map((e) => `${e.name}: ${e.reason}`),
    gpus: capabilities.gpus.length,
    speedFps: capabilities.speedFps,
  });
  if (stopping) return;
  agent = new WorkerAgent({ config, capabilities, logger, version: VERSION });
  agent.start();
}

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0] ?? 'run';
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return;
  }
  if (cmd !== 'run' && cmd !== 'detect') {
    process.stderr.write(`ffmpegd: unknown command ${JSON.stringify(cmd)}; see --help\n`);
    process.exit(2);
  }
  const config = loadConfig();
  setLogLevel(config.logLevel);
  if (cmd === 'detect') return detect(config);
  return run(config);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`ffmpegd: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});

// `npm start`: makes sure FFmpeg is present, then runs the embedded default
// (coordinator + one local worker + SQLite under ./data + a test-pattern source).
// Plain Node on purpose: it runs before anything else is known to work.
// Without FFmpeg: as root on Debian/Ubuntu it runs `apt-get update` and
// `apt-get install -y ffmpeg` (progress shown), then starts; otherwise it prints the
// exact command to run and exits 1. The decisions live in ./ffmpeg-setup.mjs.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { decideFfmpegSetup, findOnPath, SUDO_COMMAND } from './ffmpeg-setup.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// ffmpeg and ffprobe both answer `-version` with status 0 (apt-get does not: see findOnPath).
const runs = (cmd) => spawnSync(cmd, ['-version'], { stdio: 'ignore' }).status === 0;
const hasFfmpeg = () => runs('ffmpeg') && runs('ffprobe');

const decision = decideFfmpegSetup({
  hasFfmpeg: hasFfmpeg(),
  isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
  hasAptGet: findOnPath('apt-get') !== null,
});
if (decision.action === 'instruct') {
  console.error(decision.message);
  process.exit(1);
}
if (decision.action === 'install') {
  console.log('FFmpeg not found: installing Debian\'s ffmpeg package (apt-get update, then apt-get install -y ffmpeg)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const [cmd, ...args] of decision.commands) {
    console.log(`$ ${[cmd, ...args].join(' ')}`);
    const r = spawnSync(cmd, args, { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`\`${[cmd, ...args].join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}).`);
      if (args[0] !== 'update') break; // a failed update may still leave usable package lists
    }
  }
  if (!hasFfmpeg()) {
    console.error(`FFmpeg is required and could not be installed: fix the apt-get error above, or run \`${SUDO_COMMAND}\` yourself, then \`npm start\` again.`);
    process.exit(1);
  }
  console.log('FFmpeg installed.');
}

const bun = join(root, 'node_modules', '.bin', 'bun');
if (!existsSync(bun)) {
  console.error('Bun is missing from node_modules: run `npm ci` first.');
  process.exit(1);
}
// The allocator setting must be in the environment when the process starts (see
// common/allocator-env.ts: without it relaying costs about twice the CPU); a value the
// operator set wins.
const allocatorEnv = JSON.parse(readFileSync(join(root, 'common', 'allocator-env.json'), 'utf8'));
const child = spawn(bun, [join(root, 'scripts', 'embedded.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
  env: { ...allocatorEnv, ...process.env },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

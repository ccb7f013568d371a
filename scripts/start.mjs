// `npm start`: makes sure FFmpeg is present, then runs the embedded default
// (coordinator + one local worker + SQLite under ./data + a test-pattern source).
// Plain Node on purpose: it runs before anything else is known to work.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const has = (cmd) => spawnSync(cmd, ['-version'], { stdio: 'ignore' }).status === 0;

if (!has('ffmpeg') || !has('ffprobe')) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log('FFmpeg not found: installing Debian\'s ffmpeg package (apt-get install -y ffmpeg)...');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', 'ffmpeg'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0 || !has('ffmpeg')) {
      console.error('FFmpeg is required and could not be installed: run `sudo apt-get install -y ffmpeg` (or install FFmpeg for your system) and retry.');
      process.exit(1);
    }
  } else {
    console.error('FFmpeg is required: run `sudo apt-get install -y ffmpeg` (or install FFmpeg for your system), then `npm start` again.');
    process.exit(1);
  }
}

const bun = join(root, 'node_modules', '.bin', 'bun');
if (!existsSync(bun)) {
  console.error('Bun is missing from node_modules: run `npm ci` first.');
  process.exit(1);
}
const child = spawn(bun, [join(root, 'scripts', 'embedded.ts'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

// What `npm start` does about FFmpeg, as pure decisions plus a PATH lookup, so a test can
// cover every case without touching the machine's packages. Plain Node (no Bun yet).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The commands a root user gets run for them, and a non-root user is told to run. */
export const APT_UPDATE = ['apt-get', 'update'];
export const APT_INSTALL = ['apt-get', 'install', '-y', 'ffmpeg'];
export const SUDO_COMMAND = 'sudo apt-get update && sudo apt-get install -y ffmpeg';

/**
 * Finds an executable by name on PATH (what `command -v` does), without running it:
 * `apt-get -version` exits 100, so an exit status says nothing about presence.
 * Returns its full path, or null.
 */
export function findOnPath(name, pathValue = process.env.PATH ?? '') {
  const candidates = name.includes('/') ? [name] : pathValue.split(delimiter).filter((d) => d !== '' && isAbsolute(d)).map((d) => join(d, name));
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not there, or not executable: keep looking
    }
  }
  return null;
}

/**
 * @param {{ hasFfmpeg: boolean, isRoot: boolean, hasAptGet: boolean }} facts
 * @returns {{ action: 'proceed' } | { action: 'install', commands: string[][] } | { action: 'instruct', message: string }}
 */
export function decideFfmpegSetup({ hasFfmpeg, isRoot, hasAptGet }) {
  if (hasFfmpeg) return { action: 'proceed' };
  if (hasAptGet && isRoot) return { action: 'install', commands: [APT_UPDATE, APT_INSTALL] };
  if (hasAptGet) {
    return { action: 'instruct', message: `FFmpeg is required and is not installed. Run:\n  ${SUDO_COMMAND}\nthen \`npm start\` again.` };
  }
  return {
    action: 'instruct',
    message: 'FFmpeg is required and is not installed, and this system has no apt-get. Install FFmpeg (ffmpeg and ffprobe on PATH) with your system\'s package manager, e.g. `sudo dnf install ffmpeg`, `sudo pacman -S ffmpeg`, `apk add ffmpeg` or `brew install ffmpeg`, then `npm start` again.',
  };
}

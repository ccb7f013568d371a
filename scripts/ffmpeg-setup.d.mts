// Types for scripts/ffmpeg-setup.mjs (plain Node on purpose; the tests are TypeScript).
export declare const APT_UPDATE: string[];
export declare const APT_INSTALL: string[];
export declare const SUDO_COMMAND: string;
export declare function findOnPath(name: string, pathValue?: string): string | null;
export type FfmpegSetupAction = { action: 'proceed' } | { action: 'install'; commands: string[][] } | { action: 'instruct'; message: string };
export declare function decideFfmpegSetup(facts: { hasFfmpeg: boolean; isRoot: boolean; hasAptGet: boolean }): FfmpegSetupAction;

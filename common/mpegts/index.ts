// One import point for the MPEG-TS helpers shared by coordinator and worker. The
// modules stay separate so each can be read (and tested) on its own.
export * from './constants.ts';
export * from './packet-header.ts';
export * from './packet-aligner.ts';
export * from './psi.ts';
export * from './continuity.ts';
export * from './program-tracker.ts';
export * from './null-packet.ts';
export * from './timeline-restamp.ts';
export * from './program-watch.ts';
export * from './es-headers.ts';

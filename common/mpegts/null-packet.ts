// A null packet (PID 0x1FFF): valid MPEG-TS that every demuxer discards. Used to get
// HTTP headers out at once: Bun sends a streaming response's headers only with its
// first body bytes, and a player would time out waiting for the first keyframe.
import { PID_NULL, TS_PACKET_SIZE, TS_SYNC_BYTE } from './constants.ts';

export function makeNullPacket(): Uint8Array {
  const packet = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  packet[0] = TS_SYNC_BYTE;
  packet[1] = (PID_NULL >> 8) & 0x1f;
  packet[2] = PID_NULL & 0xff;
  packet[3] = 0x10; // payload only, continuity counter 0
  return packet;
}

#!/usr/bin/env python3
# A userspace "netem" for kernels built without sch_netem: two TUN devices joined by
# this process, which holds every packet for DELAY_MS in each direction and drops a
# fraction LOSS_PERCENT of them. Used by tests/helpers/netns.ts; one end is moved into
# a network namespace after this prints "ready" (a TUN device keeps its fd across the
# move). Exits when stdin closes or on SIGTERM.
import collections, fcntl, os, random, select, signal, struct, sys, time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000

def open_tun(name):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd

def main():
    a_name, b_name, delay_ms, loss = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    delay, drop = delay_ms / 1000.0, loss / 100.0
    a, b = open_tun(a_name), open_tun(b_name)
    peer = {a: b, b: a}
    queues = {a: collections.deque(), b: collections.deque()}  # packets read from fd, FIFO by release time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print('ready', flush=True)
    stdin = sys.stdin.fileno()
    while True:
        now = time.monotonic()
        nxt = min((q[0][0] for q in queues.values() if q), default=None)
        timeout = None if nxt is None else max(0.0, nxt - now)
        readable, _, _ = select.select([a, b, stdin], [], [], timeout)
        if stdin in readable and not os.read(stdin, 4096):
            return
        now = time.monotonic()
        for fd in (a, b):
            if fd not in readable:
                continue
            for _ in range(256):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if drop and random.random() < drop:
                    continue
                queues[fd].append((now + delay, pkt))
        now = time.monotonic()
        for src, q in queues.items():
            while q and q[0][0] <= now:
                try:
                    os.write(peer[src], q.popleft()[1])
                except (BlockingIOError, OSError):
                    pass  # a full or downed device drops, like a real link

if __name__ == '__main__':
    main()

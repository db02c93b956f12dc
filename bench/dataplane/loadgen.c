// Load generator and sink for the data-plane benchmark, in C so that the load is never the bottleneck:
// it sends COUNT datagrams of SIZE bytes from SOURCE to TARGET at RATE per second (paced in 100 µs
// ticks, each tick one sendmmsg), while a second thread counts what arrives on K sink sockets
// SINK_ADDR:SINK_BASE..+K-1. Prints one JSON line: sent, seconds, received, expected, loss, and the
// one-way latency percentiles (µs) of what arrived: every datagram carries its send time (CLOCK_MONOTONIC
// ns, bytes 8-15), and the sink reads the clock once per recvmmsg batch, so a latency is the forwarder's
// delay plus at most one sink batch.
// With SENDERS > 1 the datagrams leave round-robin from SOURCE_PORT..+SENDERS-1, one by one, so the
// forwarder sees the senders interleaved (a batch then holds several senders' datagrams).
// usage: loadgen TARGET_ADDR TARGET_PORT SOURCE_ADDR SOURCE_PORT COUNT SIZE RATE SINK_ADDR SINK_BASE K [SENDERS [QUIET_MS]]
// QUIET_MS (default 500): the drain ends when nothing has arrived for that long.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SINKS 1024

static int sinks = 0;
static int sink_fd[MAX_SINKS];
static atomic_int stop = 0;
static atomic_long received = 0;
// Latency histogram in µs, 1 µs buckets up to 1 s (the last bucket holds everything slower). Written by
// the sink thread only, read after it joined.
#define LATENCY_BUCKETS 1000000
static long latency_us[LATENCY_BUCKETS];

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void record_latency(const char *payload, unsigned len, long now) {
  if (len < 16) return;
  long sent;
  memcpy(&sent, payload + 8, sizeof sent);
  long us = (now - sent) / 1000;
  if (us < 0) us = 0;
  if (us >= LATENCY_BUCKETS) us = LATENCY_BUCKETS - 1;
  latency_us[us]++;
}

/** The smallest latency (µs) with at least `share` of the samples at or below it; -1 with no samples. */
static long percentile(long total, double share) {
  if (total <= 0) return -1;
  long need = (long)(share * (double)total);
  if (need < 1) need = 1;
  long seen = 0;
  for (long us = 0; us < LATENCY_BUCKETS; us++) {
    seen += latency_us[us];
    if (seen >= need) return us;
  }
  return LATENCY_BUCKETS - 1;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int udp_socket(const char *address, int port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int size = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, address, &a.sin_addr);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
    fprintf(stderr, "loadgen: cannot bind %s:%d: %s\n", address, port, strerror(errno));
    exit(1);
  }
  return s;
}

static void *sink(void *arg) {
  (void)arg;
  int ep = epoll_create1(0);
  for (int k = 0; k < sinks; k++) {
    struct epoll_event e = {.events = EPOLLIN, .data.fd = sink_fd[k]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sink_fd[k], &e);
  }
  static char buf[BATCH][2048];
  struct mmsghdr m[BATCH];
  struct iovec io[BATCH];
  for (int i = 0; i < BATCH; i++) {
    io[i].iov_base = buf[i];
    io[i].iov_len = sizeof buf[i];
    memset(&m[i], 0, sizeof m[i]);
    m[i].msg_hdr.msg_iov = &io[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  struct epoll_event ev[64];
  while (!atomic_load(&stop)) {
    int n = epoll_wait(ep, ev, 64, 20);
    for (int i = 0; i < n; i++) {
      int r;
      while ((r = recvmmsg(ev[i].data.fd, m, BATCH, MSG_DONTWAIT, NULL)) > 0) {
        long t = now_ns();
        for (int j = 0; j < r; j++) record_latency(buf[j], m[j].msg_len, t);
        atomic_fetch_add(&received, r);
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 11 || argc > 13) {
    fprintf(stderr, "usage: loadgen TARGET_ADDR TARGET_PORT SOURCE_ADDR SOURCE_PORT COUNT SIZE RATE SINK_ADDR SINK_BASE K [SENDERS [QUIET_MS]]\n");
    return 2;
  }
  const char *target_addr = argv[1], *source_addr = argv[3], *sink_addr = argv[8];
  int target_port = atoi(argv[2]), source_port = atoi(argv[4]), size = atoi(argv[6]), sink_base = atoi(argv[9]);
  long count = atol(argv[5]);
  double rate = atof(argv[7]);
  sinks = atoi(argv[10]);
  int senders = argc > 11 ? atoi(argv[11]) : 1;
  double quiet = argc > 12 ? atof(argv[12]) / 1000 : 0.5;
  if (senders < 1 || senders > 256) {
    fprintf(stderr, "loadgen: SENDERS must be 1-256\n");
    return 2;
  }
  if (sinks < 1 || sinks > MAX_SINKS || size < 16 || size > 2048 || rate <= 0) {
    fprintf(stderr, "loadgen: K must be 1-%d, SIZE 16-2048, RATE > 0\n", MAX_SINKS);
    return 2;
  }
  for (int k = 0; k < sinks; k++) sink_fd[k] = udp_socket(sink_addr, sink_base + k);
  pthread_t thread;
  pthread_create(&thread, NULL, sink, NULL);

  int source[256];
  for (int i = 0; i < senders; i++) source[i] = udp_socket(source_addr, source_port + i);
  int s = source[0];
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
  inet_pton(AF_INET, target_addr, &to.sin_addr);
  static char payload[BATCH][2048];
  struct mmsghdr m[BATCH];
  struct iovec io[BATCH];
  for (int i = 0; i < BATCH; i++) {
    memset(payload[i], 0x5a, (size_t)size);
    payload[i][0] = (char)0x80;  // RTP version 2: never the control magic
    io[i].iov_base = payload[i];
    io[i].iov_len = (size_t)size;
    memset(&m[i], 0, sizeof m[i]);
    m[i].msg_hdr.msg_iov = &io[i];
    m[i].msg_hdr.msg_iovlen = 1;
    m[i].msg_hdr.msg_name = &to;
    m[i].msg_hdr.msg_namelen = sizeof to;
  }

  usleep(50000);  // the sink thread is polling
  long sent = 0;
  double start = now();
  struct timespec tick;
  clock_gettime(CLOCK_MONOTONIC, &tick);
  while (sent < count) {
    long due = (long)((now() - start) * rate) + 1;
    if (due > count) due = count;
    while (sent < due) {
      int n = due - sent > BATCH ? BATCH : (int)(due - sent);
      long stamp = now_ns();
      for (int i = 0; i < n; i++) {
        memcpy(payload[i] + 4, &(uint32_t){(uint32_t)(sent + i)}, 4);
        memcpy(payload[i] + 8, &stamp, sizeof stamp);
      }
      if (senders == 1) {
        int r = sendmmsg(s, m, (unsigned)n, 0);
        if (r > 0) sent += r;
      } else {
        for (int i = 0; i < n; i++) sendmsg(source[(sent + i) % senders], &m[i].msg_hdr, 0);
        sent += n;
      }
    }
    tick.tv_nsec += 100000;
    if (tick.tv_nsec >= 1000000000) {
      tick.tv_sec++;
      tick.tv_nsec -= 1000000000;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL);
  }
  double seconds = now() - start;

  // Drain: wait until nothing more arrives for QUIET_MS (500 ms by default; at most 3 s): a forwarder may hold a partial
  // batch for a while (the C yardstick holds up to 200 ms to fill its batch of 64).
  long expected = count * sinks, last = -1;
  double quiet_since = now(), deadline = now() + 3;
  while (now() < deadline) {
    long got = atomic_load(&received);
    if (got >= expected) break;
    if (got != last) {
      last = got;
      quiet_since = now();
    } else if (now() - quiet_since > quiet) {
      break;
    }
    usleep(10000);
  }
  atomic_store(&stop, 1);
  pthread_join(thread, NULL);
  long got = atomic_load(&received);
  long samples = 0;
  for (long us = 0; us < LATENCY_BUCKETS; us++) samples += latency_us[us];
  printf("{\"sent\":%ld,\"seconds\":%.4f,\"rate\":%.0f,\"received\":%ld,\"expected\":%ld,\"loss\":%.6f,"
         "\"latencyUs\":{\"p50\":%ld,\"p90\":%ld,\"p99\":%ld,\"max\":%ld}}\n",
         sent, seconds, sent / seconds, got, expected, expected ? (double)(expected - got) / (double)expected : 0.0,
         percentile(samples, 0.5), percentile(samples, 0.9), percentile(samples, 0.99), percentile(samples, 1.0));
  return 0;
}

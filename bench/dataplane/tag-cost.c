// The native engine's cost of authenticated peers per datagram, without the network: rm_mac_tag (what
// the sender does once per datagram and the receiver once per peer datagram) and the replay window,
// from reflector/native/src/mac.c itself, over header+epoch (24 bytes) and a payload of SIZE bytes.
// Built and run by tag-cost.ts: cc -O2 tag-cost.c -lcrypto (the system's OpenSSL 3, the same SHA-256
// code as the OpenSSL inside Node that the addon uses).
// usage: tag-cost SIZE ITERATIONS   -> prints "tag_ns window_ns"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../reflector/native/src/mac.c"

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  size_t size = argc > 1 ? (size_t)atoi(argv[1]) : 1440;
  long n = argc > 2 ? atol(argv[2]) : 200000;
  uint8_t key[32], header[RM_PEER_TAGGED_HEADER], tag[RM_PEER_TAG];
  memset(key, 7, sizeof key);
  memset(header, 1, sizeof header);
  uint8_t *payload = malloc(size);
  memset(payload, 0x5a, size);
  rm_mac_key mac;
  rm_mac_key_init(&mac, key, sizeof key);
  unsigned sink = 0;
  double t0 = cpu_ns();
  for (long i = 0; i < n; i++) {
    header[15] = (uint8_t)i;
    rm_mac_tag(&mac, header, sizeof header, payload, size, tag);
    sink += tag[0];
  }
  double t1 = cpu_ns();
  rm_window w;
  memset(&w, 0, sizeof w);
  for (long i = 0; i < n; i++) {
    uint32_t seq = (uint32_t)(i ^ (i & 3));  // mostly rising, a few late
    if (rm_window_check(&w, 1, seq)) rm_window_update(&w, 1, seq);
    sink += (unsigned)w.bitmap;
  }
  double t2 = cpu_ns();
  printf("%.1f %.2f %u\n", (t1 - t0) / (double)n, (t2 - t1) / (double)n, sink & 1);
  free(payload);
  return 0;
}

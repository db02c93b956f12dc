// Authenticated peers in the native engine (docs/protocol.md §2.4): HMAC-SHA256 tags from precomputed
// key states (no allocation, two SHA-256 finalisations per tag) and the anti-replay window. The same
// algorithm and window as reflector/security/peer-tag.ts and replay-window.ts.
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "mirror.h"

void rm_mac_key_init(rm_mac_key *key, const uint8_t *secret, size_t len) {
  uint8_t block[SHA256_CBLOCK], pad[SHA256_CBLOCK];
  memset(block, 0, sizeof block);
  if (len > SHA256_CBLOCK) {
    SHA256(secret, len, block);  // RFC 2104: a key longer than a block is hashed first
  } else {
    memcpy(block, secret, len);
  }
  for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&key->inner);
  SHA256_Update(&key->inner, pad, sizeof pad);
  for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&key->outer);
  SHA256_Update(&key->outer, pad, sizeof pad);
  memset(block, 0, sizeof block);
  memset(pad, 0, sizeof pad);
}

void rm_mac_tag(const rm_mac_key *key, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[RM_PEER_TAG]) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx = key->inner;
  if (alen) SHA256_Update(&ctx, a, alen);
  if (blen) SHA256_Update(&ctx, b, blen);
  SHA256_Final(digest, &ctx);
  ctx = key->outer;
  SHA256_Update(&ctx, digest, sizeof digest);
  SHA256_Final(digest, &ctx);
  memcpy(out, digest, RM_PEER_TAG);
}

int rm_window_check(const rm_window *w, uint64_t epoch, uint32_t sequence) {
  if (!w->used || epoch > w->epoch) return 1;
  if (epoch < w->epoch) return 0;
  if (sequence > w->top) return 1;
  uint32_t behind = w->top - sequence;
  if (behind >= 64) return 0;
  return ((w->bitmap >> behind) & 1) == 0;
}

void rm_window_update(rm_window *w, uint64_t epoch, uint32_t sequence) {
  if (!w->used || epoch != w->epoch) {
    w->used = 1;
    w->epoch = epoch;
    w->top = sequence;
    w->bitmap = 1;
    return;
  }
  if (sequence > w->top) {
    uint32_t shift = sequence - w->top;
    w->bitmap = shift >= 64 ? 1 : (w->bitmap << shift) | 1;
    w->top = sequence;
    return;
  }
  w->bitmap |= (uint64_t)1 << (w->top - sequence);
}

uint64_t rm_realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

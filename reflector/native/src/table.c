// The forwarding table as the packet threads read it: built on the JavaScript thread from the table the
// control side pushes, then never changed. Per port index it holds the list of clients that get copies
// and the peers, and an open-addressing hash from source address to client or peer, so classifying a
// datagram costs one hash probe and no allocation.
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mirror.h"

rm_table *rm_table_new(uint32_t nclients, uint32_t npeers) {
  rm_table *table = calloc(1, sizeof *table);
  if (!table) return NULL;
  atomic_init(&table->refs, 1);
  table->nclients = nclients;
  table->npeers = npeers;
  table->clients = calloc(nclients ? nclients : 1, sizeof(rm_client));
  table->peers = calloc(npeers ? npeers : 1, sizeof(rm_peer));
  if (!table->clients || !table->peers) {
    rm_table_release(table);
    return NULL;
  }
  return table;
}

void rm_table_release(rm_table *table) {
  if (!table) return;
  if (atomic_fetch_sub_explicit(&table->refs, 1, memory_order_acq_rel) != 1) return;
  for (int p = 0; p < RM_MAX_PORTS; p++) {
    free(table->receivers[p]);
    free(table->peer_destinations[p]);
    free(table->hash[p]);
  }
  free(table->clients);
  free(table->peers);
  free(table);
}

int rm_key_from_sockaddr(const struct sockaddr_storage *addr, rm_key *key) {
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    key->hi = 0;
    key->lo = ((uint64_t)0xffff << 32) | (uint64_t)ntohl(in->sin_addr.s_addr);
    key->port = ntohs(in->sin_port);
    return 0;
  }
  if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    const uint8_t *b = in6->sin6_addr.s6_addr;
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) hi = (hi << 8) | b[i];
    for (int i = 8; i < 16; i++) lo = (lo << 8) | b[i];
    key->hi = hi;
    key->lo = lo;
    key->port = ntohs(in6->sin6_port);
    return 0;
  }
  return -1;
}

static inline uint32_t key_hash(const rm_key *key) {
  uint64_t h = key->lo * 0x9e3779b97f4a7c15ULL;
  h ^= (key->hi + key->port) * 0xc2b2ae3d27d4eb4fULL;
  h ^= h >> 29;
  return (uint32_t)(h * 0x165667b19e3779f9ULL >> 32);
}

static inline int key_equal(const rm_key *a, const rm_key *b) {
  return a->lo == b->lo && a->hi == b->hi && a->port == b->port;
}

static int hash_insert(rm_table *table, int p, const struct sockaddr_storage *addr, int32_t index) {
  rm_key key;
  if (rm_key_from_sockaddr(addr, &key) != 0) return 0;
  uint32_t mask = table->hash_mask[p];
  for (uint32_t i = key_hash(&key) & mask;; i = (i + 1) & mask) {
    rm_hash_entry *e = &table->hash[p][i];
    if (!e->used) {
      e->used = 1;
      e->key = key;
      e->index = index;
      return 0;
    }
    // Two entries with one address: the first one wins (the control side never does this on purpose).
    if (key_equal(&e->key, &key)) return 0;
  }
}

int rm_table_finish(rm_table *table, int nports) {
  for (int p = 0; p < nports; p++) {
    uint32_t entries = table->nclients + table->npeers;
    uint32_t capacity = 16;
    while (capacity < entries * 2) capacity <<= 1;
    table->hash[p] = calloc(capacity, sizeof(rm_hash_entry));
    table->hash_mask[p] = capacity - 1;
    table->receivers[p] = calloc(table->nclients ? table->nclients : 1, sizeof(uint32_t));
    table->peer_destinations[p] = calloc(table->npeers ? table->npeers : 1, sizeof(uint32_t));
    if (!table->hash[p] || !table->receivers[p] || !table->peer_destinations[p]) return -1;
    for (uint32_t c = 0; c < table->nclients; c++) {
      rm_client *client = &table->clients[c];
      if (!client->has_endpoint[p]) continue;
      hash_insert(table, p, &client->endpoint[p], (int32_t)c);
      if (client->receives && client->deliver) table->receivers[p][table->nreceivers[p]++] = c;
    }
    for (uint32_t q = 0; q < table->npeers; q++) {
      rm_peer *peer = &table->peers[q];
      if (!peer->has_endpoint[p]) continue;
      hash_insert(table, p, &peer->endpoint[p], -(int32_t)q - 1);
      table->peer_destinations[p][table->npeer_destinations[p]++] = q;
    }
  }
  return 0;
}

int32_t rm_table_lookup(const rm_table *table, int p, const rm_key *key) {
  uint32_t mask = table->hash_mask[p];
  for (uint32_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
    const rm_hash_entry *e = &table->hash[p][i];
    if (!e->used) return INT32_MIN;
    if (key_equal(&e->key, key)) return e->index;
  }
}

// Peer data in the native engine (docs/protocol.md §2.3, §2.4): the peer header written on copies to
// peers, and peer data checked and stripped on the way in: well-formed, in an authenticated mesh tagged
// with one of the peer's keys and not a replay. The same rules as the TypeScript engine's fromPeer.
#define _GNU_SOURCE
#include <string.h>

#include "counters.h"
#include "mirror.h"

void rm_write_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence) {
  h[0] = 'R'; h[1] = 'P'; h[2] = 1; h[3] = 0;
  for (int i = 0; i < 6; i++) h[4 + i] = (uint8_t)(origin >> (8 * (5 - i)));
  h[10] = 0; h[11] = 0;
  h[12] = (uint8_t)(sequence >> 24); h[13] = (uint8_t)(sequence >> 16);
  h[14] = (uint8_t)(sequence >> 8); h[15] = (uint8_t)sequence;
}

// The tagged form (authenticated mesh): the flag, and the sender's epoch after the header.
void rm_write_tagged_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence, uint64_t epoch) {
  rm_write_peer_header(h, origin, sequence);
  h[3] = 1;
  for (int i = 0; i < 8; i++) h[RM_PEER_HEADER + i] = (uint8_t)(epoch >> (8 * (7 - i)));
}

static inline uint64_t read_epoch(const uint8_t *h) {
  uint64_t epoch = 0;
  for (int i = 0; i < 8; i++) epoch = (epoch << 8) | h[RM_PEER_HEADER + i];
  return epoch;
}

static inline uint64_t read_origin(const uint8_t *h) {
  uint64_t id = 0;
  for (int i = 0; i < 6; i++) id = (id << 8) | h[4 + i];
  return id;
}

static inline void accept_peer(rm_port *port, int i, int32_t peer_index, uint8_t *data, size_t header, size_t payload) {
  port->kind[i] = RM_KIND_PEER;
  port->sender[i] = peer_index;
  port->origin[i] = read_origin(data);
  port->payload[i] = data + header;
  port->payload_len[i] = payload;
}

// Untagged peer data (an open mesh, or the way out of one): the header checked and stripped.
static int classify_untagged_peer(rm_port *port, int i, int32_t peer_index, uint8_t *data, size_t len, int truncated) {
  rm_counter *stats = port->stats;
  if (len < RM_PEER_HEADER || data[0] != 'R' || data[1] != 'P' || data[2] != 1 || (data[3] & 1)) {
    rm_add(&stats[RM_DROP_MALFORMED], 1);
    return 1;
  }
  size_t payload = len - RM_PEER_HEADER;
  if (truncated || payload > port->engine->max_datagram) {
    rm_add(&stats[RM_DROP_OVERSIZED], 1);
    return 1;
  }
  accept_peer(port, i, peer_index, data, RM_PEER_HEADER, payload);
  return 1;
}

// 1 when the tag verifies with one of the peer's keys, tried in order: the current key first, so a
// rotation costs a second HMAC only for copies still tagged with another key. No allocation.
static int tag_verifies(const rm_table *table, const rm_peer *peer, int port_index, const uint8_t *data, size_t len) {
  uint8_t tag[RM_PEER_TAG];
  for (uint32_t k = 0; k < table->nkeys; k++) {
    rm_mac_tag(&peer->mac[k][port_index], data, len - RM_PEER_TAG, NULL, 0, tag);
    uint8_t diff = 0;
    for (int b = 0; b < RM_PEER_TAG; b++) diff |= tag[b] ^ data[len - RM_PEER_TAG + b];
    if (!diff) return 1;
  }
  return 0;
}

// Peer data in an authenticated mesh: well-formed and tagged, not a replay (checked first: cheap), the
// tag verified, then the window moves; only then is it queued for delivery.
static int classify_tagged_peer(rm_port *port, int i, int32_t peer_index, uint8_t *data, size_t len, int truncated) {
  const rm_table *table = port->table;
  rm_counter *stats = port->stats;
  if (table->accept_untagged && len >= RM_PEER_HEADER && data[0] == 'R' && data[1] == 'P' && data[2] == 1 && !(data[3] & 1)) {
    return classify_untagged_peer(port, i, peer_index, data, len, truncated);
  }
  if (len < RM_PEER_TAGGED_OVERHEAD || data[0] != 'R' || data[1] != 'P' || data[2] != 1) {
    rm_add(&stats[RM_DROP_MALFORMED], 1);
    return 1;
  }
  if (!(data[3] & 1)) {  // untagged data from a peer of an authenticated mesh
    rm_add(&stats[RM_DROP_BAD_PEER_TAG], 1);
    return 1;
  }
  size_t payload = len - RM_PEER_TAGGED_OVERHEAD;
  if (truncated || payload > port->engine->max_datagram) {
    rm_add(&stats[RM_DROP_OVERSIZED], 1);
    return 1;
  }
  const rm_peer *peer = &table->peers[peer_index];
  rm_window *window = &port->windows[peer->window_slot < RM_MAX_WINDOWS ? peer->window_slot : RM_MAX_WINDOWS - 1];
  if (window->generation != peer->window_generation) {
    memset(window, 0, sizeof *window);
    window->generation = peer->window_generation;
  }
  uint64_t epoch = read_epoch(data);
  uint32_t sequence = ((uint32_t)data[12] << 24) | ((uint32_t)data[13] << 16) | ((uint32_t)data[14] << 8) | data[15];
  if (!rm_window_check(window, epoch, sequence)) {
    rm_add(&stats[RM_DROP_REPLAY], 1);
    return 1;
  }
  if (!tag_verifies(table, peer, port->index, data, len)) {
    rm_add(&stats[RM_DROP_BAD_PEER_TAG], 1);
    return 1;
  }
  rm_window_update(window, epoch, sequence);
  accept_peer(port, i, peer_index, data, RM_PEER_TAGGED_HEADER, payload);
  return 1;
}

// Peer data: check the header, strip it; emit() delivers it to the local clients but the origin.
int rm_classify_peer(rm_port *port, int i, int32_t peer_index, uint8_t *data, size_t len, int truncated) {
  rm_add(&port->stats[RM_IN_PEER], 1);
  rm_add(&port->stats[RM_BYTES_IN_PEER], (double)len);
  if (port->table->nkeys) return classify_tagged_peer(port, i, peer_index, data, len, truncated);
  return classify_untagged_peer(port, i, peer_index, data, len, truncated);
}

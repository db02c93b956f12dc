// The packet loop of one data socket: recvmmsg a batch, classify each datagram by its source address,
// queue every copy in one sendmmsg array (runs of one sender's datagrams as one UDP GSO copy per
// destination where the kernel has it), flush. One thread per socket keeps each sender's order. The
// thread never waits on JavaScript: it picks up a new table by pointer at the start of a batch, writes
// its own counters, and hands control datagrams over through a callback that never blocks.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <time.h>

#include "mirror.h"

static const uint8_t CONTROL_MAGIC[4] = {'R', 'M', 'S', 'H'};

double rm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline double realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// How long datagram i waited in the socket (its SO_TIMESTAMPNS, CLOCK_REALTIME, to now); 0 without one.
static inline double waited_ms(const rm_port *port, int i, double now_real_ms) {
  const struct msghdr *h = &port->in[i].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return now_real_ms - ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
    }
  }
  return 0;
}

static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Publishes a new table (JavaScript thread). The lock is held for the swap only.
void rm_engine_publish(rm_engine *engine, rm_table *table) {
  pthread_mutex_lock(&engine->table_lock);
  rm_table *old = engine->table;
  engine->table = table;
  atomic_fetch_add_explicit(&engine->table_version, 1, memory_order_release);
  pthread_mutex_unlock(&engine->table_lock);
  rm_table_release(old);
}

static void refresh_table(rm_port *port) {
  rm_engine *engine = port->engine;
  uint64_t version = atomic_load_explicit(&engine->table_version, memory_order_acquire);
  if (version == port->table_version) return;
  pthread_mutex_lock(&engine->table_lock);
  rm_table *table = engine->table;
  if (table) atomic_fetch_add_explicit(&table->refs, 1, memory_order_relaxed);
  port->table_version = atomic_load_explicit(&engine->table_version, memory_order_relaxed);
  pthread_mutex_unlock(&engine->table_lock);
  rm_table_release(port->table);
  port->table = table;
}

static inline double *slot_line(rm_port *port, uint32_t slot) {
  uint32_t n = port->engine->nslots;
  return port->slots + (size_t)(slot < n ? slot : n) * RM_SLOT_DOUBLES;
}

static void undo_counts(rm_port *port, int o) {
  double segments = port->out_segments[o], bytes = port->out_bytes[o];
  int32_t slot = port->out_slot[o];
  if (slot >= 0) {
    double *line = slot_line(port, (uint32_t)slot);
    line[RM_SLOT_OUT] -= segments;
    line[RM_SLOT_BYTES_OUT] -= bytes;
    port->stats[RM_OUT_CLIENT] -= segments;
    port->stats[RM_BYTES_OUT_CLIENT] -= bytes;
  } else {
    port->stats[RM_OUT_PEER] -= segments;
    port->stats[RM_BYTES_OUT_PEER] -= bytes;
  }
  port->stats[RM_DROP_SEND_ERROR] += segments;
}

// A GSO copy the path refused (say a segment plus headers above the MTU): send its datagrams one by
// one, and stop using GSO for segments this large on this port.
static void send_segments(rm_port *port, int o) {
  struct msghdr *h = &port->out[o].msg_hdr;
  int segments = port->out_segments[o];
  size_t per = h->msg_iovlen / (size_t)segments;
  size_t payload = h->msg_iov[per == 1 ? 0 : 1].iov_len;  // a segment is [peer header,] payload [, tag]
  if (payload - 1 < port->gso_max_segment) port->gso_max_segment = payload - 1;
  int failed = 0;
  for (int s = 0; s < segments; s++) {
    struct msghdr one = {.msg_name = h->msg_name, .msg_namelen = h->msg_namelen, .msg_iov = h->msg_iov + (size_t)s * per, .msg_iovlen = per};
    if (sendmsg(port->fd, &one, 0) < 0) failed++;
  }
  if (failed) {
    // Rare enough to count approximately: the failed share of the copy's bytes.
    uint16_t all = port->out_segments[o];
    uint32_t bytes = port->out_bytes[o];
    port->out_segments[o] = (uint16_t)failed;
    port->out_bytes[o] = (uint32_t)((uint64_t)bytes * (uint64_t)failed / all);
    undo_counts(port, o);
  }
}

static void flush(rm_port *port) {
  int off = 0, n = port->nout;
  while (off < n) {
    int sent = sendmmsg(port->fd, &port->out[off], (unsigned)(n - off), 0);
    port->stats[RM_SEND_CALLS] += 1;
    if (sent > 0) {
      off += sent;
      continue;
    }
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && !atomic_load_explicit(&port->engine->stopping, memory_order_relaxed))
      continue;  // the send buffer is full: wait for room (the send timeout bounds each wait)
    if (port->out_segments[off] > 1 && errno != EAGAIN && errno != EWOULDBLOCK) send_segments(port, off);
    else undo_counts(port, off);  // this copy cannot be sent (or the engine stops): go on with the next
    off++;
  }
  port->nout = 0;
}

static inline void queue_copy(rm_port *port, const struct sockaddr_storage *to, socklen_t to_len, struct iovec *iov, size_t iovlen,
                              void *control, int32_t slot, int segments, size_t bytes) {
  if (port->nout == RM_OUT_MAX) flush(port);
  int o = port->nout++;
  struct msghdr *h = &port->out[o].msg_hdr;
  h->msg_name = (void *)to;
  h->msg_namelen = to_len;
  h->msg_iov = iov;
  h->msg_iovlen = iovlen;
  h->msg_control = control;
  h->msg_controllen = control ? CMSG_SPACE(sizeof(uint16_t)) : 0;
  port->out_slot[o] = slot;
  port->out_segments[o] = (uint16_t)segments;
  port->out_bytes[o] = (uint32_t)bytes;
  double *stats = port->stats;
  if (slot >= 0) {
    double *line = slot_line(port, (uint32_t)slot);
    line[RM_SLOT_OUT] += segments;
    line[RM_SLOT_BYTES_OUT] += (double)bytes;
    stats[RM_OUT_CLIENT] += segments;
    stats[RM_BYTES_OUT_CLIENT] += (double)bytes;
  } else {
    stats[RM_OUT_PEER] += segments;
    stats[RM_BYTES_OUT_PEER] += (double)bytes;
  }
  if (segments > 1) stats[RM_GSO_SENDS] += 1;
}

static void *gso_control(rm_port *port, size_t segment_size) {
  struct cmsghdr *cm = (struct cmsghdr *)port->cmsg_pool[port->cmsg_used++].buf;
  cm->cmsg_level = SOL_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t size = (uint16_t)segment_size;
  memcpy(CMSG_DATA(cm), &size, sizeof size);
  return cm;
}

static inline void write_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence) {
  h[0] = 'R'; h[1] = 'P'; h[2] = 1; h[3] = 0;
  for (int i = 0; i < 6; i++) h[4 + i] = (uint8_t)(origin >> (8 * (5 - i)));
  h[10] = 0; h[11] = 0;
  h[12] = (uint8_t)(sequence >> 24); h[13] = (uint8_t)(sequence >> 16);
  h[14] = (uint8_t)(sequence >> 8); h[15] = (uint8_t)sequence;
}

// The tagged form (authenticated mesh): the flag, and the sender's epoch after the header.
static inline void write_tagged_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence, uint64_t epoch) {
  write_peer_header(h, origin, sequence);
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

// The client's token buckets on this port (docs/security.md "Limits"; the same arithmetic as
// reflector/mirror/rate-limit.ts): refill for the time since the last datagram, then take one datagram
// of len bytes if both buckets hold enough. Returns 1 when the datagram may pass.
static inline int rate_admit(const rm_engine *engine, double *line, size_t len, double now_ms) {
  double packets, bytes, at = line[RM_SLOT_REFILL_AT];
  if (at == 0) {
    packets = engine->burst_packets;
    bytes = engine->burst_bytes;
  } else {
    double elapsed = now_ms > at ? now_ms - at : 0;
    packets = line[RM_SLOT_TOKENS_PACKETS] + elapsed * engine->packets_per_ms;
    bytes = line[RM_SLOT_TOKENS_BYTES] + elapsed * engine->bytes_per_ms;
    if (packets > engine->burst_packets) packets = engine->burst_packets;
    if (bytes > engine->burst_bytes) bytes = engine->burst_bytes;
  }
  line[RM_SLOT_REFILL_AT] = now_ms;
  int ok = (engine->packets_per_ms == 0 || packets >= 1) && (engine->bytes_per_ms == 0 || bytes >= (double)len);
  line[RM_SLOT_TOKENS_PACKETS] = ok ? packets - 1 : packets;
  line[RM_SLOT_TOKENS_BYTES] = ok ? bytes - (double)len : bytes;
  return ok;
}

// Untagged peer data (an open mesh, or the way out of one): the header checked and stripped.
static int classify_untagged_peer(rm_port *port, int i, int32_t peer_index, uint8_t *data, size_t len, int truncated) {
  double *stats = port->stats;
  if (len < RM_PEER_HEADER || data[0] != 'R' || data[1] != 'P' || data[2] != 1 || (data[3] & 1)) {
    stats[RM_DROP_MALFORMED] += 1;
    return 1;
  }
  size_t payload = len - RM_PEER_HEADER;
  if (truncated || payload > port->engine->max_datagram) {
    stats[RM_DROP_OVERSIZED] += 1;
    return 1;
  }
  port->kind[i] = RM_KIND_PEER;
  port->sender[i] = peer_index;
  port->origin[i] = read_origin(data);
  port->payload[i] = data + RM_PEER_HEADER;
  port->payload_len[i] = payload;
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
  rm_engine *engine = port->engine;
  const rm_table *table = port->table;
  double *stats = port->stats;
  if (table->accept_untagged && len >= RM_PEER_HEADER && data[0] == 'R' && data[1] == 'P' && data[2] == 1 && !(data[3] & 1)) {
    return classify_untagged_peer(port, i, peer_index, data, len, truncated);
  }
  if (len < RM_PEER_TAGGED_OVERHEAD || data[0] != 'R' || data[1] != 'P' || data[2] != 1) {
    stats[RM_DROP_MALFORMED] += 1;
    return 1;
  }
  if (!(data[3] & 1)) {  // untagged data from a peer of an authenticated mesh
    stats[RM_DROP_BAD_PEER_TAG] += 1;
    return 1;
  }
  size_t payload = len - RM_PEER_TAGGED_OVERHEAD;
  if (truncated || payload > engine->max_datagram) {
    stats[RM_DROP_OVERSIZED] += 1;
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
    stats[RM_DROP_REPLAY] += 1;
    return 1;
  }
  if (!tag_verifies(table, peer, port->index, data, len)) {
    stats[RM_DROP_BAD_PEER_TAG] += 1;
    return 1;
  }
  rm_window_update(window, epoch, sequence);
  port->kind[i] = RM_KIND_PEER;
  port->sender[i] = peer_index;
  port->origin[i] = read_origin(data);
  port->payload[i] = data + RM_PEER_TAGGED_HEADER;
  port->payload_len[i] = payload;
  return 1;
}

// Classifies one datagram and counts it; what is to be forwarded is left in kind/sender/payload for
// emit(). Returns 1 for client and peer data (what the latency histogram counts, as in the TypeScript
// engine), 0 for control datagrams and unknown sources.
static int classify(rm_port *port, int i, double now_ms, double now_real_ms) {
  rm_engine *engine = port->engine;
  const rm_table *table = port->table;
  uint8_t *data = port->in_iov[i].iov_base;
  size_t len = port->in[i].msg_len;
  int truncated = (port->in[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
  double *stats = port->stats;
  port->kind[i] = RM_KIND_NONE;
  port->grouped[i] = 0;

  rm_key key;
  int32_t index = INT32_MIN;
  if (table && rm_key_from_sockaddr(&port->from[i], &key) == 0) index = rm_table_lookup(table, port->index, &key);

  if (len >= 4 && memcmp(data, CONTROL_MAGIC, 4) == 0) {
    // Not a sign of life by itself: anyone can send "RMSH" from a client's address. The session's
    // lastControlMs moves only when the datagram's tag verified (registration.ts).
    engine->on_control(engine, port->index, data, len, &port->from[i]);
    return 0;
  }
  if (index == INT32_MIN) {
    stats[RM_DROP_UNKNOWN_SOURCE] += 1;
    return 0;
  }
  // Queued while the process was stopped or starved (a stall): delivering it now would hand clients
  // seconds-old media, and copies of their own datagrams through a session they have left.
  if (engine->max_age_ms > 0 && waited_ms(port, i, now_real_ms) > engine->max_age_ms) {
    stats[RM_DROP_STALE] += 1;
    return 0;
  }

  if (index >= 0) {
    // Counted in before the checks, as the TypeScript engine does: "in" is what arrived from clients.
    const rm_client *sender = &table->clients[index];
    double *line = slot_line(port, sender->slot);
    line[RM_SLOT_LAST_HEARD] = now_ms;
    line[RM_SLOT_IN] += 1;
    line[RM_SLOT_BYTES_IN] += (double)len;
    stats[RM_IN_CLIENT] += 1;
    stats[RM_BYTES_IN_CLIENT] += (double)len;
    if (truncated || len > engine->max_datagram) {
      stats[RM_DROP_OVERSIZED] += 1;
      return 1;
    }
    if (!sender->sends) {
      stats[RM_DROP_ROLE] += 1;
      return 1;
    }
    // Policed before any copy is queued: an abusive sender costs only this receive.
    if (engine->rate_limit && !rate_admit(engine, line, len, now_ms)) {
      stats[RM_DROP_RATE_LIMITED] += 1;
      line[RM_SLOT_RATE_LIMITED] += 1;
      return 1;
    }
    port->kind[i] = RM_KIND_CLIENT;
    port->sender[i] = index;
    port->payload[i] = data;
    port->payload_len[i] = len;
    return 1;
  }

  // Peer data: check the header, strip it, deliver to the local clients but the origin.
  stats[RM_IN_PEER] += 1;
  stats[RM_BYTES_IN_PEER] += (double)len;
  if (table->nkeys) return classify_tagged_peer(port, i, -index - 1, data, len, truncated);
  return classify_untagged_peer(port, i, -index - 1, data, len, truncated);
}

// Queues the copies of a group: datagrams of one sender (and origin), in order, all of the first one's
// size but the last, which may be shorter. One copy per destination; with more than one datagram the
// copy is a single GSO send, which the kernel (or the NIC) cuts into the datagrams again.
static void emit_group(rm_port *port, const int *members, int count) {
  const rm_table *table = port->table;
  int p = port->index, first = members[0];
  size_t segment = port->payload_len[first], bytes = 0;
  struct iovec *iov = &port->iov_pool[port->iov_used];
  port->iov_used += count;
  for (int s = 0; s < count; s++) {
    iov[s].iov_base = port->payload[members[s]];
    iov[s].iov_len = port->payload_len[members[s]];
    bytes += iov[s].iov_len;
  }
  void *control = count > 1 ? gso_control(port, segment) : NULL;
  const uint32_t *receivers = table->receivers[p];
  uint32_t nreceivers = table->nreceivers[p];
  if (port->kind[first] == RM_KIND_CLIENT) {
    uint32_t sender = (uint32_t)port->sender[first];
    uint64_t sender_origin = table->clients[sender].origin;
    for (uint32_t r = 0; r < nreceivers; r++) {
      const rm_client *c = &table->clients[receivers[r]];
      // Not back to the sender, nor to a session it left here before failing over and back.
      if (receivers[r] == sender || c->origin == sender_origin) continue;
      queue_copy(port, &c->endpoint[p], c->endpoint_len[p], iov, (size_t)count, control, (int32_t)c->slot, count, bytes);
    }
    uint32_t npeers = table->npeer_destinations[p];
    if (!npeers) return;
    // [header, payload] per datagram; tagged: [header and epoch, payload, tag], one tag per datagram
    // whatever the number of peers (every peer gets the same copy).
    int tagging = table->tagging;
    size_t per = tagging ? 3 : 2, overhead = tagging ? RM_PEER_TAGGED_OVERHEAD : RM_PEER_HEADER;
    struct iovec *framed = &port->iov_pool[port->iov_used];
    port->iov_used += (int)per * count;
    // Sequence numbers in the order the copies leave, so a peer sees them rise by one.
    uint64_t origin = table->clients[sender].origin;
    for (int s = 0; s < count; s++) {
      uint8_t *header = port->header[members[s]];
      struct iovec *seg = &framed[per * (size_t)s];
      seg[0].iov_base = header;
      seg[1] = iov[s];
      if (!tagging) {
        write_peer_header(header, origin, port->sequence++);
        seg[0].iov_len = RM_PEER_HEADER;
        continue;
      }
      write_tagged_peer_header(header, origin, port->sequence++, port->epoch);
      // The sequence wrapped: what follows goes in a new epoch, or peers would take it for replays.
      if (port->sequence == 0) {
        uint64_t now = rm_realtime_ms();
        port->epoch = now > port->epoch ? now : port->epoch + 1;
      }
      seg[0].iov_len = RM_PEER_TAGGED_HEADER;
      rm_mac_tag(&table->self_mac[p], header, RM_PEER_TAGGED_HEADER, iov[s].iov_base, iov[s].iov_len, port->tag[members[s]]);
      seg[2].iov_base = port->tag[members[s]];
      seg[2].iov_len = RM_PEER_TAG;
    }
    void *framed_control = count > 1 ? gso_control(port, segment + overhead) : NULL;
    size_t framed_bytes = bytes + (size_t)count * overhead;
    const uint32_t *peers = table->peer_destinations[p];
    for (uint32_t q = 0; q < npeers; q++) {
      const rm_peer *peer = &table->peers[peers[q]];
      queue_copy(port, &peer->endpoint[p], peer->endpoint_len[p], framed, per * (size_t)count, framed_control, -1, count, framed_bytes);
    }
  } else {
    uint64_t origin = port->origin[first];
    for (uint32_t r = 0; r < nreceivers; r++) {
      const rm_client *c = &table->clients[receivers[r]];
      if (c->origin == origin) continue;
      queue_copy(port, &c->endpoint[p], c->endpoint_len[p], iov, (size_t)count, control, (int32_t)c->slot, count, bytes);
    }
  }
}

// Forwards the classified batch. Without GSO every datagram is its own group, in arrival order. With
// GSO a group takes the following datagrams of the same sender while their size allows; other senders'
// datagrams in between go in their own groups, so each sender's order holds at every receiver.
static void emit(rm_port *port, int n) {
  int members[RM_GSO_MAX_SEGMENTS];
  port->iov_used = 0;
  port->cmsg_used = 0;
  for (int i = 0; i < n; i++) {
    if (port->kind[i] == RM_KIND_NONE || port->grouped[i]) continue;
    int count = 1;
    members[0] = i;
    size_t segment = port->payload_len[i];
    if (port->gso && segment <= port->gso_max_segment) {
      int limit = (int)(RM_GSO_MAX_BYTES / (segment + RM_PEER_TAGGED_OVERHEAD));
      if (limit > RM_GSO_MAX_SEGMENTS) limit = RM_GSO_MAX_SEGMENTS;
      for (int j = i + 1; j < n && count < limit; j++) {
        if (port->grouped[j] || port->kind[j] != port->kind[i] || port->sender[j] != port->sender[i]) continue;
        if (port->kind[i] == RM_KIND_PEER && port->origin[j] != port->origin[i]) continue;
        if (port->payload_len[j] > segment) break;  // it must follow this group, not join it
        port->grouped[j] = 1;
        members[count++] = j;
        if (port->payload_len[j] < segment) break;  // a shorter datagram can only be a group's last
      }
    }
    emit_group(port, members, count);
  }
}

static void record_latency(rm_port *port, double seconds, int forwarded) {
  rm_engine *engine = port->engine;
  double *stats = port->stats;
  int b = 0;
  while (b < engine->nbuckets && seconds > engine->bucket_bounds[b]) b++;
  stats[RM_LATENCY_BUCKETS + b] += forwarded;   // index nbuckets is the +Inf bucket
  stats[RM_LATENCY_COUNT] += forwarded;
  stats[RM_LATENCY_SUM] += seconds * forwarded;
}

void *rm_port_loop(void *arg) {
  rm_port *port = arg;
  rm_engine *engine = port->engine;
  for (int i = 0; i < RM_BATCH; i++) {
    port->in_iov[i].iov_base = port->buffers + (size_t)i * port->buffer_size;
    port->in_iov[i].iov_len = port->buffer_size;
    memset(&port->in[i], 0, sizeof port->in[i]);
    port->in[i].msg_hdr.msg_iov = &port->in_iov[i];
    port->in[i].msg_hdr.msg_iovlen = 1;
    port->in[i].msg_hdr.msg_name = &port->from[i];
    port->in[i].msg_hdr.msg_namelen = sizeof port->from[i];
    port->in[i].msg_hdr.msg_control = port->in_cmsg[i].buf;
    port->in[i].msg_hdr.msg_controllen = sizeof port->in_cmsg[i].buf;
  }
  memset(port->out, 0, sizeof port->out);
  while (!atomic_load_explicit(&engine->stopping, memory_order_acquire)) {
    // One system call per wake-up: block for the first datagram, take whatever else is queued. Stop
    // wakes it with shutdown(SHUT_RD); the receive timeout is the safety net.
    int n = recvmmsg(port->fd, port->in, RM_BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    double start = now_seconds();
    refresh_table(port);
    port->stats[RM_BATCHES] += 1;
    int forwarded = 0;
    double now_real = engine->max_age_ms > 0 ? realtime_ms() : 0;
    for (int i = 0; i < n; i++) forwarded += classify(port, i, start * 1e3, now_real);
    if (port->table) emit(port, n);
    if (port->nout) flush(port);
    if (forwarded) record_latency(port, now_seconds() - start, forwarded);
    for (int i = 0; i < n; i++) {
      port->in[i].msg_hdr.msg_namelen = sizeof port->from[i];
      port->in[i].msg_hdr.msg_controllen = sizeof port->in_cmsg[i].buf;  // the kernel shortened it
    }
  }
  rm_table_release(port->table);
  port->table = NULL;
  return NULL;
}

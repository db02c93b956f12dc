// The packet loop of one data socket: recvmmsg a batch, classify each datagram by its source address,
// queue every copy in one sendmmsg array, flush. One thread per socket keeps each sender's order. The
// thread never waits on JavaScript: it picks up a new table by pointer at the start of a batch, writes
// its own counters, and hands control datagrams over through a callback that never blocks.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "mirror.h"

static const uint8_t CONTROL_MAGIC[4] = {'R', 'M', 'S', 'H'};

double rm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
    // This copy cannot be sent (or the engine stops): undo its counts and go on with the next one.
    size_t bytes = port->out_iov[off][0].iov_len + (port->out[off].msg_hdr.msg_iovlen > 1 ? port->out_iov[off][1].iov_len : 0);
    int32_t slot = port->out_slot[off];
    if (slot >= 0) {
      double *line = slot_line(port, (uint32_t)slot);
      line[RM_SLOT_OUT] -= 1;
      line[RM_SLOT_BYTES_OUT] -= (double)bytes;
      port->stats[RM_OUT_CLIENT] -= 1;
      port->stats[RM_BYTES_OUT_CLIENT] -= (double)bytes;
    } else {
      port->stats[RM_OUT_PEER] -= 1;
      port->stats[RM_BYTES_OUT_PEER] -= (double)bytes;
    }
    port->stats[RM_DROP_SEND_ERROR] += 1;
    off++;
  }
  port->nout = 0;
}

static inline void queue_client(rm_port *port, const rm_client *client, uint8_t *data, size_t len) {
  if (port->nout == RM_OUT_MAX) flush(port);
  int o = port->nout++;
  struct msghdr *h = &port->out[o].msg_hdr;
  h->msg_name = (void *)&client->endpoint[port->index];
  h->msg_namelen = client->endpoint_len[port->index];
  port->out_iov[o][0].iov_base = data;
  port->out_iov[o][0].iov_len = len;
  h->msg_iovlen = 1;
  port->out_slot[o] = (int32_t)client->slot;
  double *line = slot_line(port, client->slot);
  line[RM_SLOT_OUT] += 1;
  line[RM_SLOT_BYTES_OUT] += (double)len;
  port->stats[RM_OUT_CLIENT] += 1;
  port->stats[RM_BYTES_OUT_CLIENT] += (double)len;
}

static inline void queue_peer(rm_port *port, const rm_peer *peer, uint8_t *header, uint8_t *data, size_t len) {
  if (port->nout == RM_OUT_MAX) flush(port);
  int o = port->nout++;
  struct msghdr *h = &port->out[o].msg_hdr;
  h->msg_name = (void *)&peer->endpoint[port->index];
  h->msg_namelen = peer->endpoint_len[port->index];
  port->out_iov[o][0].iov_base = header;
  port->out_iov[o][0].iov_len = RM_PEER_HEADER;
  port->out_iov[o][1].iov_base = data;
  port->out_iov[o][1].iov_len = len;
  h->msg_iovlen = 2;
  port->out_slot[o] = -1;
  port->stats[RM_OUT_PEER] += 1;
  port->stats[RM_BYTES_OUT_PEER] += (double)(len + RM_PEER_HEADER);
}

static inline void write_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence) {
  h[0] = 'R'; h[1] = 'P'; h[2] = 1; h[3] = 0;
  for (int i = 0; i < 6; i++) h[4 + i] = (uint8_t)(origin >> (8 * (5 - i)));
  h[10] = 0; h[11] = 0;
  h[12] = (uint8_t)(sequence >> 24); h[13] = (uint8_t)(sequence >> 16);
  h[14] = (uint8_t)(sequence >> 8); h[15] = (uint8_t)sequence;
}

static inline uint64_t read_origin(const uint8_t *h) {
  uint64_t id = 0;
  for (int i = 0; i < 6; i++) id = (id << 8) | h[4 + i];
  return id;
}

// Classifies one datagram and queues its copies; returns 1 for client and peer data (what the latency
// histogram counts, as in the TypeScript engine), 0 for control datagrams and unknown sources.
static int handle(rm_port *port, int i, double now_ms) {
  rm_engine *engine = port->engine;
  const rm_table *table = port->table;
  uint8_t *data = port->in_iov[i].iov_base;
  size_t len = port->in[i].msg_len;
  int truncated = (port->in[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
  double *stats = port->stats;

  rm_key key;
  int32_t index = INT32_MIN;
  if (table && rm_key_from_sockaddr(&port->from[i], &key) == 0) index = rm_table_lookup(table, port->index, &key);

  if (len >= 4 && memcmp(data, CONTROL_MAGIC, 4) == 0) {
    if (index >= 0) slot_line(port, table->clients[index].slot)[RM_SLOT_LAST_HEARD] = now_ms;
    engine->on_control(engine, port->index, data, len, &port->from[i]);
    return 0;
  }
  if (index == INT32_MIN) {
    stats[RM_DROP_UNKNOWN_SOURCE] += 1;
    return 0;
  }

  if (index >= 0) {
    const rm_client *sender = &table->clients[index];
    // Counted in before the checks, as the TypeScript engine does: "in" is what arrived from clients.
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
    const uint32_t *receivers = table->receivers[port->index];
    for (uint32_t r = 0, n = table->nreceivers[port->index]; r < n; r++) {
      if (receivers[r] == (uint32_t)index) continue;
      queue_client(port, &table->clients[receivers[r]], data, len);
    }
    uint32_t npeers = table->npeer_destinations[port->index];
    if (npeers) {
      uint8_t *header = port->header[i];
      write_peer_header(header, sender->id, port->sequence++);
      const uint32_t *peers = table->peer_destinations[port->index];
      for (uint32_t q = 0; q < npeers; q++) queue_peer(port, &table->peers[peers[q]], header, data, len);
    }
    return 1;
  }

  // Peer data: check the header, strip it, deliver to the local clients but the origin.
  stats[RM_IN_PEER] += 1;
  stats[RM_BYTES_IN_PEER] += (double)len;
  if (len < RM_PEER_HEADER || data[0] != 'R' || data[1] != 'P' || data[2] != 1 || (data[3] & 1)) {
    stats[RM_DROP_MALFORMED] += 1;
    return 1;
  }
  size_t payload = len - RM_PEER_HEADER;
  if (truncated || payload > engine->max_datagram) {
    stats[RM_DROP_OVERSIZED] += 1;
    return 1;
  }
  uint64_t origin = read_origin(data);
  const uint32_t *receivers = table->receivers[port->index];
  for (uint32_t r = 0, n = table->nreceivers[port->index]; r < n; r++) {
    const rm_client *client = &table->clients[receivers[r]];
    if (client->id == origin) continue;
    queue_client(port, client, data + RM_PEER_HEADER, payload);
  }
  return 1;
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
  }
  for (int o = 0; o < RM_OUT_MAX; o++) {
    memset(&port->out[o], 0, sizeof port->out[o]);
    port->out[o].msg_hdr.msg_iov = port->out_iov[o];
  }
  while (!atomic_load_explicit(&engine->stopping, memory_order_acquire)) {
    // One system call per wake-up: block for the first datagram, take whatever else is queued. Stop
    // wakes it with shutdown(SHUT_RD); the receive timeout is the safety net.
    int n = recvmmsg(port->fd, port->in, RM_BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    double start = now_seconds();
    refresh_table(port);
    port->stats[RM_BATCHES] += 1;
    int forwarded = 0;
    for (int i = 0; i < n; i++) forwarded += handle(port, i, start * 1e3);
    if (port->nout) flush(port);
    if (forwarded) record_latency(port, now_seconds() - start, forwarded);
    for (int i = 0; i < n; i++) port->in[i].msg_hdr.msg_namelen = sizeof port->from[i];
  }
  rm_table_release(port->table);
  port->table = NULL;
  return NULL;
}

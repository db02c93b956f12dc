// The packet loop of one data socket: recvmmsg a batch, classify each datagram by its source address,
// hand the batch to send.c, which queues every copy in one sendmmsg array and flushes. One thread per
// socket keeps each sender's order. The thread never waits on JavaScript: it picks up a new table by
// pointer at the start of a batch (resetting the activity lines the table hands to new clients), writes
// its own counters, and hands control datagrams over through a callback that never blocks.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "counters.h"
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

// The kernel's drops of this socket (a full receive buffer: the main loss under overload). Each datagram
// carries the socket's drop count when it was queued (SO_RXQ_OVFL, only once it is not 0), so the last
// of a batch has the newest; drops show once a datagram after them arrives.
static void count_kernel_drops(rm_port *port, int n) {
  const struct msghdr *h = &port->in[n - 1].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
    uint32_t total;
    memcpy(&total, CMSG_DATA(c), sizeof total);
    uint32_t fresh = total - port->rx_dropped;  // modulo 2^32: the kernel's count wraps
    if (fresh && fresh < 0x80000000u) {
      rm_add(&port->stats[RM_DROP_RECEIVE_BUFFER], fresh);
      port->rx_dropped = total;
    }
  }
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

// The lines this table hands to new clients start from zero. This thread is their only writer, and it
// has finished every batch of the old table, so nothing written for the line's previous client can land
// after the reset. The generation goes last: JavaScript reads a line only once it is the client's.
static void adopt_lines(rm_port *port) {
  const rm_table *table = port->table;
  if (!table) return;
  for (uint32_t c = 0; c < table->nclients; c++) {
    const rm_client *client = &table->clients[c];
    if (client->slot >= port->engine->nslots) continue;  // the shared overflow line is never handed over
    rm_counter *line = rm_slot_line(port, client->slot);
    if (rm_read(&line[RM_SLOT_GENERATION]) == client->generation) continue;
    for (int f = 0; f < RM_SLOT_DOUBLES; f++) rm_write(&line[f], 0);
    atomic_store_explicit(&line[RM_SLOT_GENERATION], client->generation, memory_order_release);
  }
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
  adopt_lines(port);
}

// The client's token buckets on this port (docs/security.md "Limits"; the same arithmetic as
// protocol/token-bucket.ts): refill for the time since the last datagram, then take one datagram
// of len bytes if both buckets hold enough. Returns 1 when the datagram may pass.
static inline int rate_admit(const rm_engine *engine, rm_counter *line, size_t len, double now_ms) {
  double packets, bytes, at = rm_read(&line[RM_SLOT_REFILL_AT]);
  if (at == 0) {
    packets = engine->burst_packets;
    bytes = engine->burst_bytes;
  } else {
    double elapsed = now_ms > at ? now_ms - at : 0;
    packets = rm_read(&line[RM_SLOT_TOKENS_PACKETS]) + elapsed * engine->packets_per_ms;
    bytes = rm_read(&line[RM_SLOT_TOKENS_BYTES]) + elapsed * engine->bytes_per_ms;
    if (packets > engine->burst_packets) packets = engine->burst_packets;
    if (bytes > engine->burst_bytes) bytes = engine->burst_bytes;
  }
  rm_write(&line[RM_SLOT_REFILL_AT], now_ms);
  int ok = (engine->packets_per_ms == 0 || packets >= 1) && (engine->bytes_per_ms == 0 || bytes >= (double)len);
  rm_write(&line[RM_SLOT_TOKENS_PACKETS], ok ? packets - 1 : packets);
  rm_write(&line[RM_SLOT_TOKENS_BYTES], ok ? bytes - (double)len : bytes);
  return ok;
}

// Client data: counted in before the checks, as the TypeScript engine does ("in" is what arrived from
// clients), then size, role and rate limit. Returns 1 (data).
static int classify_client(rm_port *port, int i, int32_t index, uint8_t *data, size_t len, int truncated, double now_ms) {
  rm_engine *engine = port->engine;
  rm_counter *stats = port->stats;
  const rm_client *sender = &port->table->clients[index];
  rm_counter *line = rm_slot_line(port, sender->slot);
  rm_write(&line[RM_SLOT_LAST_HEARD], now_ms);
  rm_add(&line[RM_SLOT_IN], 1);
  rm_add(&line[RM_SLOT_BYTES_IN], (double)len);
  rm_add(&stats[RM_IN_CLIENT], 1);
  rm_add(&stats[RM_BYTES_IN_CLIENT], (double)len);
  if (truncated || len > engine->max_datagram) {
    rm_add(&stats[RM_DROP_OVERSIZED], 1);
    return 1;
  }
  if (!sender->sends) {
    rm_add(&stats[RM_DROP_ROLE], 1);
    return 1;
  }
  // Policed before any copy is queued: an abusive sender costs only this receive.
  if (engine->rate_limit && !rate_admit(engine, line, len, now_ms)) {
    rm_add(&stats[RM_DROP_RATE_LIMITED], 1);
    rm_add(&line[RM_SLOT_RATE_LIMITED], 1);
    return 1;
  }
  port->kind[i] = RM_KIND_CLIENT;
  port->sender[i] = index;
  port->payload[i] = data;
  port->payload_len[i] = len;
  return 1;
}

// Classifies one datagram and counts it; what is to be forwarded is left in kind/sender/payload for
// rm_emit(). Returns 1 for client and peer data (what the latency histogram counts, as in the TypeScript
// engine), 0 for control datagrams and unknown sources.
static int classify(rm_port *port, int i, double now_ms, double now_real_ms) {
  rm_engine *engine = port->engine;
  const rm_table *table = port->table;
  uint8_t *data = port->in_iov[i].iov_base;
  size_t len = port->in[i].msg_len;
  int truncated = (port->in[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
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
    rm_add(&port->stats[RM_DROP_UNKNOWN_SOURCE], 1);
    return 0;
  }
  // Queued while the process was stopped or starved (a stall): delivering it now would hand clients
  // seconds-old media, and copies of their own datagrams through a session they have left.
  if (engine->max_age_ms > 0 && waited_ms(port, i, now_real_ms) > engine->max_age_ms) {
    rm_add(&port->stats[RM_DROP_STALE], 1);
    return 0;
  }
  if (index >= 0) return classify_client(port, i, index, data, len, truncated, now_ms);
  return rm_classify_peer(port, i, -index - 1, data, len, truncated);
}

static void record_latency(rm_port *port, double seconds, int forwarded) {
  rm_engine *engine = port->engine;
  rm_counter *stats = port->stats;
  int b = 0;
  while (b < engine->nbuckets && seconds > engine->bucket_bounds[b]) b++;
  rm_add(&stats[RM_LATENCY_BUCKETS + b], forwarded);   // index nbuckets is the +Inf bucket
  rm_add(&stats[RM_LATENCY_COUNT], forwarded);
  rm_add(&stats[RM_LATENCY_SUM], seconds * forwarded);
}

static void prepare_receive(rm_port *port) {
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
}

void *rm_port_loop(void *arg) {
  rm_port *port = arg;
  rm_engine *engine = port->engine;
  prepare_receive(port);
  while (!atomic_load_explicit(&engine->stopping, memory_order_acquire)) {
    // One system call per wake-up: block for the first datagram, take whatever else is queued. Stop
    // wakes it with shutdown(SHUT_RD); the receive timeout is the safety net.
    int n = recvmmsg(port->fd, port->in, RM_BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    double start = now_seconds();
    refresh_table(port);
    rm_add(&port->stats[RM_BATCHES], 1);
    count_kernel_drops(port, n);
    int forwarded = 0;
    double now_real = engine->max_age_ms > 0 ? realtime_ms() : 0;
    for (int i = 0; i < n; i++) forwarded += classify(port, i, start * 1e3, now_real);
    if (port->table) rm_emit(port, n);
    if (port->nout) rm_flush(port);
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

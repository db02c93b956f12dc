// The copies of a classified batch, out: every copy queued in one sendmmsg array (runs of one sender's
// datagrams as one UDP GSO copy per destination where the kernel has it), then flushed. A copy is
// counted out once the kernel took it; one it refused counts as send_error, and copies still waiting
// when the send buffer stays full for RM_SEND_WAIT_MS are dropped as send_buffer, so a full buffer never
// stalls the port thread and no counter is ever taken back.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>

#include "counters.h"
#include "mirror.h"

// Counts `segments` datagrams of copy o, `bytes` of it, as sent.
static inline void count_sent(rm_port *port, int o, int segments, double bytes) {
  rm_counter *stats = port->stats;
  int32_t slot = port->out_slot[o];
  if (slot >= 0) {
    rm_counter *line = rm_slot_line(port, (uint32_t)slot);
    rm_add(&line[RM_SLOT_OUT], segments);
    rm_add(&line[RM_SLOT_BYTES_OUT], bytes);
    rm_add(&stats[RM_OUT_CLIENT], segments);
    rm_add(&stats[RM_BYTES_OUT_CLIENT], bytes);
  } else {
    rm_add(&stats[RM_OUT_PEER], segments);
    rm_add(&stats[RM_BYTES_OUT_PEER], bytes);
  }
  if (segments > 1) rm_add(&stats[RM_GSO_SENDS], 1);
}

// A GSO copy the path refused (say a segment plus headers above the MTU): send its datagrams one by
// one, and stop using GSO for segments this large on this port.
static void send_segments(rm_port *port, int o) {
  struct msghdr *h = &port->out[o].msg_hdr;
  int segments = port->out_segments[o];
  size_t per = h->msg_iovlen / (size_t)segments;
  size_t payload = h->msg_iov[per == 1 ? 0 : 1].iov_len;  // a segment is [peer header,] payload [, tag]
  if (payload - 1 < port->gso_max_segment) port->gso_max_segment = payload - 1;
  int sent = 0;
  for (int s = 0; s < segments; s++) {
    struct msghdr one = {.msg_name = h->msg_name, .msg_namelen = h->msg_namelen, .msg_iov = h->msg_iov + (size_t)s * per, .msg_iovlen = per};
    if (sendmsg(port->fd, &one, MSG_DONTWAIT) >= 0) sent++;
  }
  // Rare enough to count approximately: the sent share of the copy's bytes.
  if (sent) count_sent(port, o, sent, (double)port->out_bytes[o] * sent / segments);
  rm_add(&port->stats[RM_DROP_SEND_ERROR], segments - sent);
}

// Waits for room in the send buffer until `deadline` (monotonic ms); 1 when there is some.
static int wait_writable(rm_port *port, double deadline) {
  for (;;) {
    double left = deadline - rm_now_ms();
    if (left <= 0 || atomic_load_explicit(&port->engine->stopping, memory_order_relaxed)) return 0;
    struct pollfd p = {.fd = port->fd, .events = POLLOUT};
    int r = poll(&p, 1, (int)left + 1);
    if (r > 0) return 1;
    if (r == 0 || errno != EINTR) return 0;
  }
}

void rm_flush(rm_port *port) {
  rm_counter *stats = port->stats;
  int off = 0, n = port->nout;
  double deadline = 0;
  while (off < n) {
    int sent = sendmmsg(port->fd, &port->out[off], (unsigned)(n - off), MSG_DONTWAIT);
    rm_add(&stats[RM_SEND_CALLS], 1);
    if (sent > 0) {
      for (int o = off; o < off + sent; o++) count_sent(port, o, port->out_segments[o], port->out_bytes[o]);
      off += sent;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The send buffer is full: wait for room, but not past the deadline (the port thread must get
      // back to its receive queue), then drop what is left of the batch.
      if (deadline == 0) deadline = rm_now_ms() + RM_SEND_WAIT_MS;
      if (wait_writable(port, deadline)) continue;
      for (; off < n; off++) rm_add(&stats[RM_DROP_SEND_BUFFER], port->out_segments[off]);
      break;
    }
    // This copy cannot be sent: count it and go on with the next.
    if (port->out_segments[off] > 1) send_segments(port, off);
    else rm_add(&stats[RM_DROP_SEND_ERROR], 1);
    off++;
  }
  port->nout = 0;
}

static inline void queue_copy(rm_port *port, const struct sockaddr_storage *to, socklen_t to_len, struct iovec *iov, size_t iovlen,
                              void *control, int32_t slot, int segments, size_t bytes) {
  if (port->nout == RM_OUT_MAX) rm_flush(port);
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

// The peer framing of a group's datagrams, [header, payload] each; tagged: [header and epoch, payload,
// tag], one tag per datagram whatever the number of peers (every peer gets the same copy). Sequence
// numbers in the order the copies leave, so a peer sees them rise by one.
static struct iovec *frame_for_peers(rm_port *port, const int *members, int count, const struct iovec *iov, uint64_t origin, size_t per) {
  const rm_table *table = port->table;
  struct iovec *framed = &port->iov_pool[port->iov_used];
  port->iov_used += (int)per * count;
  for (int s = 0; s < count; s++) {
    uint8_t *header = port->header[members[s]];
    struct iovec *seg = &framed[per * (size_t)s];
    seg[0].iov_base = header;
    seg[1] = iov[s];
    if (!table->tagging) {
      rm_write_peer_header(header, origin, port->sequence++);
      seg[0].iov_len = RM_PEER_HEADER;
      continue;
    }
    rm_write_tagged_peer_header(header, origin, port->sequence++, port->epoch);
    // The sequence wrapped: what follows goes in a new epoch, or peers would take it for replays.
    if (port->sequence == 0) {
      uint64_t now = rm_realtime_ms();
      port->epoch = now > port->epoch ? now : port->epoch + 1;
    }
    seg[0].iov_len = RM_PEER_TAGGED_HEADER;
    rm_mac_tag(&table->self_mac[port->index], header, RM_PEER_TAGGED_HEADER, iov[s].iov_base, iov[s].iov_len, port->tag[members[s]]);
    seg[2].iov_base = port->tag[members[s]];
    seg[2].iov_len = RM_PEER_TAG;
  }
  return framed;
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
  if (port->kind[first] != RM_KIND_CLIENT) {
    uint64_t origin = port->origin[first];
    for (uint32_t r = 0; r < nreceivers; r++) {
      const rm_client *c = &table->clients[receivers[r]];
      if (c->origin == origin) continue;
      queue_copy(port, &c->endpoint[p], c->endpoint_len[p], iov, (size_t)count, control, (int32_t)c->slot, count, bytes);
    }
    return;
  }
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
  size_t per = table->tagging ? 3 : 2, overhead = table->tagging ? RM_PEER_TAGGED_OVERHEAD : RM_PEER_HEADER;
  struct iovec *framed = frame_for_peers(port, members, count, iov, sender_origin, per);
  void *framed_control = count > 1 ? gso_control(port, segment + overhead) : NULL;
  size_t framed_bytes = bytes + (size_t)count * overhead;
  const uint32_t *peers = table->peer_destinations[p];
  for (uint32_t q = 0; q < npeers; q++) {
    const rm_peer *peer = &table->peers[peers[q]];
    queue_copy(port, &peer->endpoint[p], peer->endpoint_len[p], framed, per * (size_t)count, framed_control, -1, count, framed_bytes);
  }
}

// Forwards the classified batch. Without GSO every datagram is its own group, in arrival order. With
// GSO a group takes the following datagrams of the same sender while their size allows; other senders'
// datagrams in between go in their own groups, so each sender's order holds at every receiver. A
// zero-byte datagram is never grouped: a segment size of 0 tells the kernel not to segment at all (the
// group would leave as one empty datagram), and an empty last segment would vanish.
void rm_emit(rm_port *port, int n) {
  int members[RM_GSO_MAX_SEGMENTS];
  port->iov_used = 0;
  port->cmsg_used = 0;
  for (int i = 0; i < n; i++) {
    if (port->kind[i] == RM_KIND_NONE || port->grouped[i]) continue;
    int count = 1;
    members[0] = i;
    size_t segment = port->payload_len[i];
    if (port->gso && segment > 0 && segment <= port->gso_max_segment) {
      int limit = (int)(RM_GSO_MAX_BYTES / (segment + RM_PEER_TAGGED_OVERHEAD));
      if (limit > RM_GSO_MAX_SEGMENTS) limit = RM_GSO_MAX_SEGMENTS;
      for (int j = i + 1; j < n && count < limit; j++) {
        if (port->grouped[j] || port->kind[j] != port->kind[i] || port->sender[j] != port->sender[i]) continue;
        if (port->kind[i] == RM_KIND_PEER && port->origin[j] != port->origin[i]) continue;
        // It must follow this group, not join it.
        if (port->payload_len[j] > segment || port->payload_len[j] == 0) break;
        port->grouped[j] = 1;
        members[count++] = j;
        if (port->payload_len[j] < segment) break;  // a shorter datagram can only be a group's last
      }
    }
    emit_group(port, members, count);
  }
}

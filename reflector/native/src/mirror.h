// The native mirror: shared types of the packet loop (loop.c), the forwarding table (table.c) and the
// N-API glue (addon.c). One thread per data socket moves datagrams with recvmmsg/sendmmsg by the rules
// of docs/protocol.md §2; the table is built on the JavaScript thread and swapped in by pointer, and
// every counter lives in a Float64Array that JavaScript reads without a call into C (counters.h).
#ifndef RMESH_MIRROR_H
#define RMESH_MIRROR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // recvmmsg, sendmmsg
#endif

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

// SHA-256 from the OpenSSL that Node itself exports to addons (its headers ship in include/node): the
// tag of an authenticated peer datagram is HMAC-SHA256, the same as node:crypto's in the TypeScript
// engine, computed from precomputed inner/outer states so the hot path allocates nothing.
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init & co. are deprecated in 3.0 but exported and fast
#endif
#include <openssl/sha.h>

#define RM_MAX_PORTS 2
#define RM_BATCH 64            // datagrams per recvmmsg
#define RM_OUT_MAX 1024        // copies per sendmmsg flush
#define RM_PEER_HEADER 16
// Authenticated peers (docs/protocol.md §2.4): header | epoch (8) | payload | tag (16).
#define RM_PEER_EPOCH 8
#define RM_PEER_TAGGED_HEADER (RM_PEER_HEADER + RM_PEER_EPOCH)
#define RM_PEER_TAG 16
#define RM_PEER_TAGGED_OVERHEAD (RM_PEER_TAGGED_HEADER + RM_PEER_TAG)
#define RM_MAX_WINDOWS 1024     // replay windows per port: one per peer (the wrapper assigns them)
#define RM_MAX_KEYS 4           // mesh keys that verify at one time (a rotation's overlap; mesh-key-set.ts)
#define RM_MAX_BUCKETS 32
#define RM_GSO_MAX_SEGMENTS 64  // UDP_MAX_SEGMENTS of older kernels
#define RM_GSO_MAX_BYTES 65000
#define RM_HAS_LINE_GENERATIONS 1   // rm_client.generation (the sanitizer harness builds against older trees too)

enum rm_kind { RM_KIND_NONE, RM_KIND_CLIENT, RM_KIND_PEER };

// Layout of the stats Float64Array. Each port thread owns one region (no cache line is written by two
// threads): a block of global counters, then one 8-double line per client slot. JavaScript sums them.
enum rm_stat {
  RM_IN_CLIENT, RM_IN_PEER, RM_BYTES_IN_CLIENT, RM_BYTES_IN_PEER,
  RM_OUT_CLIENT, RM_OUT_PEER, RM_BYTES_OUT_CLIENT, RM_BYTES_OUT_PEER,
  RM_DROP_UNKNOWN_SOURCE, RM_DROP_MALFORMED, RM_DROP_OVERSIZED, RM_DROP_ROLE, RM_DROP_SEND_ERROR,
  RM_CONTROL_TO_JS, RM_CONTROL_DROPPED, RM_BATCHES, RM_SEND_CALLS, RM_GSO_SENDS,
  RM_DROP_RATE_LIMITED,                    // client data over its rate limit (dropped before fan-out)
  RM_DROP_BAD_PEER_TAG,                    // peer data untagged or whose tag failed (authenticated mesh)
  RM_DROP_REPLAY,                          // peer data seen before, or of an older epoch
  RM_DROP_STALE,                           // data that waited in the socket longer than max_age_ms (a stall)
  RM_DROP_RECEIVE_BUFFER,                  // dropped by the kernel: the socket's receive buffer was full (SO_RXQ_OVFL)
  RM_DROP_SEND_BUFFER,                     // copies dropped after the send buffer stayed full for RM_SEND_WAIT_MS
  RM_LATENCY_COUNT, RM_LATENCY_SUM,
  RM_LATENCY_BUCKETS,                      // RM_MAX_BUCKETS non-cumulative counts start here
  RM_GLOBAL_DOUBLES = 64                   // RM_LATENCY_BUCKETS + RM_MAX_BUCKETS, rounded to lines
};
// A slot line also holds the client's rate-limit buckets on this port (tokens, and the monotonic ms of
// the last refill, 0 = full) and its datagrams dropped by them. Only this port's thread writes a line,
// resetting it too: a line handed to a new client carries a new generation in the table, and the thread
// zeroes the line when it takes up that table (JavaScript reads a line only while its generation is the
// client's). Two cache lines per slot.
enum rm_slot_stat {
  RM_SLOT_IN, RM_SLOT_OUT, RM_SLOT_BYTES_IN, RM_SLOT_BYTES_OUT, RM_SLOT_LAST_HEARD,
  RM_SLOT_TOKENS_PACKETS, RM_SLOT_TOKENS_BYTES, RM_SLOT_REFILL_AT, RM_SLOT_RATE_LIMITED,
  RM_SLOT_GENERATION,
  RM_SLOT_DOUBLES = 16
};

// A counter: written by one packet thread only, read at any time by JavaScript (and the sanitizer
// harness's scraper thread). Atomic so those reads are not data races; relaxed load + store (counters.h)
// compile to plain moves, as only one thread ever writes.
typedef _Atomic double rm_counter;
_Static_assert(sizeof(rm_counter) == sizeof(double), "counters are shared with JavaScript as a Float64Array");

// An address as a hash key: IPv4 as its v4-mapped IPv6 form, so one table serves either socket family.
typedef struct {
  uint64_t hi, lo;
  uint32_t port;
} rm_key;

typedef struct {
  uint64_t id;                                   // 48-bit client id
  uint64_t origin;                               // origin id of its peer copies (its first session's after a failover)
  uint32_t slot;                                 // stats line; the wrapper keeps it stable per id
  uint32_t generation;                           // of the line's hand-over to this client (enum rm_slot_stat)
  uint8_t sends, receives, deliver;
  uint8_t has_endpoint[RM_MAX_PORTS];
  struct sockaddr_storage endpoint[RM_MAX_PORTS];
  socklen_t endpoint_len[RM_MAX_PORTS];
} rm_client;

// An HMAC-SHA256 key as the SHA-256 states after the inner and outer padded key blocks.
typedef struct {
  SHA256_CTX inner, outer;
} rm_mac_key;

typedef struct {
  uint8_t has_endpoint[RM_MAX_PORTS];
  struct sockaddr_storage endpoint[RM_MAX_PORTS];
  socklen_t endpoint_len[RM_MAX_PORTS];
  // Authenticated mesh: the tag keys of each of the peer's data sockets, one per mesh key that verifies
  // (table->nkeys, the current key first), and its replay window (a slot of each port's windows, kept
  // by the wrapper while the peer stays; a new generation resets it).
  rm_mac_key mac[RM_MAX_KEYS][RM_MAX_PORTS];
  uint32_t window_slot, window_generation;
} rm_peer;

// The anti-replay window of one peer on one port (RFC 4303 §3.4.3, with the sender's epoch above it).
typedef struct {
  uint32_t generation;   // of the peer slot it belongs to; another one = a new peer, start afresh
  uint8_t used;          // an authenticated datagram was accepted
  uint64_t epoch;
  uint32_t top;          // highest sequence accepted in the epoch
  uint64_t bitmap;       // bit i = top - i was accepted
} rm_window;

typedef struct {
  rm_key key;
  int32_t index;   // >= 0: client index; < 0: peer -(index + 1)
  uint8_t used;
} rm_hash_entry;

// Immutable once published; freed when the last holder lets go.
typedef struct rm_table {
  atomic_int refs;
  // Authenticated mesh: with tagging, peer copies are tagged with this reflector's key of the sending
  // socket; with nkeys > 0, peer data must carry a tag that verifies with one of the peer's nkeys keys,
  // unless accept_untagged lets untagged peer data through (an open mesh, or the way out of one). Part
  // of the table so keys and peers change together (a rotation step publishes a new table).
  int tagging;
  rm_mac_key self_mac[RM_MAX_PORTS];
  uint32_t nkeys;
  int accept_untagged;
  uint32_t nclients, npeers;
  rm_client *clients;
  rm_peer *peers;
  uint32_t *receivers[RM_MAX_PORTS];   // clients that receive, are delivered to, and have an endpoint
  uint32_t nreceivers[RM_MAX_PORTS];
  uint32_t *peer_destinations[RM_MAX_PORTS];
  uint32_t npeer_destinations[RM_MAX_PORTS];
  rm_hash_entry *hash[RM_MAX_PORTS];
  uint32_t hash_mask[RM_MAX_PORTS];
} rm_table;

struct rm_engine;

typedef struct rm_port {
  struct rm_engine *engine;
  int index;
  int fd;
  pthread_t thread;
  int thread_started;
  rm_counter *stats;   // this port's global block
  rm_counter *slots;   // this port's per-client lines
  uint32_t rx_dropped; // the socket's drop count last seen in SO_RXQ_OVFL
  uint32_t sequence;
  uint64_t epoch;          // of the peer copies (authenticated mesh): start time in ms, next on a wrap
  rm_window *windows;      // RM_MAX_WINDOWS
  rm_table *table;
  uint64_t table_version;
  // UDP GSO: on when the kernel has it; segments above gso_max_segment bytes go one by one (lowered
  // when a path refuses a size, e.g. a segment plus headers above its MTU).
  int gso;
  size_t gso_max_segment;
  // receive batch
  uint8_t *buffers;
  size_t buffer_size;
  struct mmsghdr in[RM_BATCH];
  struct iovec in_iov[RM_BATCH];
  struct sockaddr_storage from[RM_BATCH];
  // the kernel's receive time of each datagram (SO_TIMESTAMPNS), to drop what waited too long, and the
  // socket's count of datagrams dropped for a full receive buffer (SO_RXQ_OVFL)
  union {
    char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t))];
    struct cmsghdr align;
  } in_cmsg[RM_BATCH];
  uint8_t header[RM_BATCH][RM_PEER_TAGGED_HEADER];
  uint8_t tag[RM_BATCH][RM_PEER_TAG];
  // the batch classified: what each datagram is and what of it goes out
  uint8_t kind[RM_BATCH];          // RM_KIND_*
  uint8_t grouped[RM_BATCH];
  int32_t sender[RM_BATCH];        // client index, or peer index
  uint64_t origin[RM_BATCH];       // origin client id of peer data
  uint8_t *payload[RM_BATCH];
  size_t payload_len[RM_BATCH];
  // iovecs and GSO control messages of the batch's groups, shared by all the copies of a group
  struct iovec iov_pool[4 * RM_BATCH];   // per datagram: its payload, and [header, payload, tag] to peers
  int iov_used;
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } cmsg_pool[2 * RM_BATCH];
  int cmsg_used;
  // send batch: one entry per copy (a GSO entry carries several datagrams to one destination)
  int nout;
  struct mmsghdr out[RM_OUT_MAX];
  int32_t out_slot[RM_OUT_MAX];      // client slot, or -1 for a peer (counted once the kernel took the copy)
  uint16_t out_segments[RM_OUT_MAX];
  uint32_t out_bytes[RM_OUT_MAX];
} rm_port;

typedef void (*rm_control_fn)(struct rm_engine *engine, int port_index, const uint8_t *data, size_t len,
                              const struct sockaddr_storage *from);

typedef struct rm_engine {
  int nports;
  int family;
  size_t max_datagram;
  // Per-client rate limit (0 = that limit is off; both off = rate_limit 0 and no bucket is touched).
  int rate_limit;
  // Data that waited in the socket longer than this (kernel receive time to now) is dropped; 0 = off.
  double max_age_ms;
  double packets_per_ms, bytes_per_ms, burst_packets, burst_bytes;
  uint32_t nslots;          // usable slots; slot nslots is a shared overflow line
  rm_counter *stats;        // whole Float64Array backing store
  size_t port_stride;       // doubles per port region
  double bucket_bounds[RM_MAX_BUCKETS];
  int nbuckets;
  atomic_int stopping;
  pthread_mutex_t table_lock;
  rm_table *table;
  atomic_uint_fast64_t table_version;
  rm_control_fn on_control;
  void *control_ctx;
  rm_port ports[RM_MAX_PORTS];
} rm_engine;

// table.c
rm_table *rm_table_new(uint32_t nclients, uint32_t npeers);
int rm_table_finish(rm_table *table, int nports);   // builds receiver lists and hashes; 0 on success
void rm_table_release(rm_table *table);
int rm_key_from_sockaddr(const struct sockaddr_storage *addr, rm_key *key);
int32_t rm_table_lookup(const rm_table *table, int port_index, const rm_key *key);  // INT32_MIN if none

// mac.c
void rm_mac_key_init(rm_mac_key *key, const uint8_t *secret, size_t len);
// HMAC-SHA256 of a | b | c (each may be empty), truncated to RM_PEER_TAG bytes.
void rm_mac_tag(const rm_mac_key *key, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[RM_PEER_TAG]);
// 1 when the window would accept (epoch, sequence); 0 for a replay. rm_window_update after the tag verified.
int rm_window_check(const rm_window *w, uint64_t epoch, uint32_t sequence);
void rm_window_update(rm_window *w, uint64_t epoch, uint32_t sequence);
uint64_t rm_realtime_ms(void);

// loop.c
void *rm_port_loop(void *arg);
double rm_now_ms(void);
void rm_engine_publish(rm_engine *engine, rm_table *table);

// peer.c: the peer header (docs/protocol.md §2.3, §2.4) and classifying peer data. Returns 1 (data).
void rm_write_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence);
void rm_write_tagged_peer_header(uint8_t *h, uint64_t origin, uint32_t sequence, uint64_t epoch);
int rm_classify_peer(rm_port *port, int i, int32_t peer_index, uint8_t *data, size_t len, int truncated);

// send.c: the batch's copies out, with GSO where it pays
#define RM_SEND_WAIT_MS 20.0   // longest a flush waits for room in a full send buffer before dropping
void rm_emit(rm_port *port, int n);
void rm_flush(rm_port *port);

#endif

// N-API glue of the native mirror: opens and binds the data sockets, starts one packet thread per socket,
// converts the forwarding table pushed by JavaScript into the C table, sends control datagrams for
// JavaScript, and hands received control datagrams back through a thread-safe function. Counters are
// not read through here: JavaScript holds the Float64Array the threads write into.
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/time.h>
#include <unistd.h>

#include "mirror.h"

#define CONTROL_QUEUE 4096

typedef struct {
  rm_engine engine;
  napi_threadsafe_function tsfn;
  napi_ref stats_ref;
  int running;
  int closed;
} rm_handle;

typedef struct {
  int port_index;
  size_t len;
  struct sockaddr_storage from;
  uint8_t data[];
} rm_control_item;

#define CHECK(env, call)                                                  \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      const napi_extended_error_info *info_;                              \
      napi_get_last_error_info((env), &info_);                            \
      napi_throw_error((env), "RMESH_NATIVE", info_ && info_->error_message ? info_->error_message : #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value msg, code, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  const char *name = err == EADDRINUSE ? "EADDRINUSE" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EACCES ? "EACCES" : "ENATIVE";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "RMESH_NATIVE_ARGUMENT", message);
  return NULL;
}

// ---- reading JavaScript values ----

static int get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return 0;
  napi_valuetype type;
  napi_typeof(env, *out, &type);
  return type != napi_undefined && type != napi_null;
}

static double get_number(napi_env env, napi_value obj, const char *name, double fallback) {
  napi_value v;
  double d;
  if (!get_prop(env, obj, name, &v) || napi_get_value_double(env, v, &d) != napi_ok) return fallback;
  return d;
}

static int get_bool(napi_env env, napi_value obj, const char *name, int fallback) {
  napi_value v;
  bool b;
  if (!get_prop(env, obj, name, &v) || napi_get_value_bool(env, v, &b) != napi_ok) return fallback;
  return b;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok && len < size - 1;
}

// Parses an address for a socket of `family` (IPv4 on an IPv6 socket becomes v4-mapped).
static int make_sockaddr(int family, const char *address, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton(AF_INET, address, &v4) == 1) {
    if (family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)out;
      in->sin_family = AF_INET;
      in->sin_addr = v4;
      in->sin_port = htons((uint16_t)port);
      *len = sizeof *in;
      return 0;
    }
    memset(&v6, 0, sizeof v6);
    v6.s6_addr[10] = 0xff;
    v6.s6_addr[11] = 0xff;
    memcpy(&v6.s6_addr[12], &v4, 4);
  } else if (inet_pton(AF_INET6, address, &v6) != 1) {
    return -1;
  }
  if (family == AF_INET) {
    if (!IN6_IS_ADDR_V4MAPPED(&v6)) return -2;
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, &v6.s6_addr[12], 4);
    in->sin_port = htons((uint16_t)port);
    *len = sizeof *in;
    return 0;
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  in6->sin6_family = AF_INET6;
  in6->sin6_addr = v6;
  in6->sin6_port = htons((uint16_t)port);
  *len = sizeof *in6;
  return 0;
}

static const char *endpoint_error(int code) {
  return code == -2 ? "an IPv6 endpoint cannot be reached from the IPv4 data socket; bind the reflector to an IPv6 address"
                    : "an endpoint address is not a valid IPv4 or IPv6 address";
}

// ---- control datagrams: packet thread -> JavaScript ----

static void control_from_thread(rm_engine *engine, int port_index, const uint8_t *data, size_t len,
                                const struct sockaddr_storage *from) {
  rm_handle *handle = (rm_handle *)engine;
  double *stats = engine->stats + (size_t)port_index * engine->port_stride;
  rm_control_item *item = malloc(sizeof *item + len);
  if (!item) {
    stats[RM_CONTROL_DROPPED] += 1;
    return;
  }
  item->port_index = port_index;
  item->len = len;
  item->from = *from;
  memcpy(item->data, data, len);
  if (napi_call_threadsafe_function(handle->tsfn, item, napi_tsfn_nonblocking) != napi_ok) {
    free(item);
    stats[RM_CONTROL_DROPPED] += 1;  // the queue is full: a flood of control datagrams, not a client
    return;
  }
  stats[RM_CONTROL_TO_JS] += 1;
}

static void control_to_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  rm_control_item *item = data;
  if (env && callback) {
    char address[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (item->from.ss_family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)&item->from;
      inet_ntop(AF_INET, &in->sin_addr, address, sizeof address);
      port = ntohs(in->sin_port);
    } else {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&item->from;
      inet_ntop(AF_INET6, &in6->sin6_addr, address, sizeof address);
      port = ntohs(in6->sin6_port);
    }
    napi_value argv[4], undefined;
    napi_create_buffer_copy(env, item->len, item->data, NULL, &argv[0]);
    napi_create_int32(env, item->port_index, &argv[1]);
    napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &argv[2]);
    napi_create_int32(env, port, &argv[3]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 4, argv, NULL);
  }
  free(item);
}

// ---- lifecycle ----

static void stop_engine(rm_handle *handle) {
  rm_engine *engine = &handle->engine;
  if (handle->closed) return;
  handle->closed = 1;
  atomic_store_explicit(&engine->stopping, 1, memory_order_release);
  // Wakes a thread blocked in recvmmsg at once (Linux wakes readers of an unconnected UDP socket on
  // shutdown, though it answers ENOTCONN); the receive timeout covers any kernel that would not.
  for (int p = 0; p < engine->nports; p++)
    if (engine->ports[p].fd >= 0) shutdown(engine->ports[p].fd, SHUT_RD);
  for (int p = 0; p < engine->nports; p++) {
    rm_port *port = &engine->ports[p];
    if (port->thread_started) pthread_join(port->thread, NULL);
    port->thread_started = 0;
    if (port->fd >= 0) close(port->fd);
    port->fd = -1;
    free(port->buffers);
    port->buffers = NULL;
    free(port->windows);
    port->windows = NULL;
  }
  rm_engine_publish(engine, NULL);
  if (handle->tsfn) napi_release_threadsafe_function(handle->tsfn, napi_tsfn_release);
  handle->tsfn = NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)hint;
  rm_handle *handle = data;
  stop_engine(handle);
  if (handle->stats_ref) napi_delete_reference(env, handle->stats_ref);
  pthread_mutex_destroy(&handle->engine.table_lock);
  free(handle);
}

static rm_handle *unwrap(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || !data) {
    throw_type(env, "expected a native engine handle");
    return NULL;
  }
  return data;
}

static int bind_port(rm_engine *engine, int p, const char *address, int port_number, int buffer_bytes, int gso, char *what, size_t what_size) {
  struct sockaddr_storage addr;
  socklen_t len;
  snprintf(what, what_size, "cannot bind UDP %s:%d", address, port_number);
  if (make_sockaddr(engine->family, address, port_number, &addr, &len) != 0) return EINVAL;
  int fd = socket(engine->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  struct timeval timeout = {0, 200000};  // bounds a blocked send or receive, so stopping never hangs
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  // The kernel's receive time of every datagram: what waited out a stall of the process is dropped.
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  if (bind(fd, (struct sockaddr *)&addr, len) != 0) {
    int err = errno;
    close(fd);
    return err;
  }
  engine->ports[p].fd = fd;
  // UDP GSO (Linux 4.18+): probed here, so an older kernel just sends datagram by datagram.
  int zero = 0;
  engine->ports[p].gso = gso && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
  engine->ports[p].gso_max_segment = 65535;
  return 0;
}

static int bound_port(int fd) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
  return addr.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&addr)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}

// open(options, onControl) -> { handle, stats: ArrayBuffer, ports: number[] }
static napi_value open_engine(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "open(options, onControl) needs two arguments");
  napi_value options = argv[0];

  napi_value v;
  char address[INET6_ADDRSTRLEN + 1];
  if (!get_prop(env, options, "address", &v) || !get_string(env, v, address, sizeof address))
    return throw_type(env, "options.address must be an IP address string");
  int data_port = (int)get_number(env, options, "dataPort", -1);
  int rtp = get_bool(env, options, "rtp", 0);
  double max_datagram = get_number(env, options, "maxDatagramSize", 1472);
  double slots = get_number(env, options, "slots", 4096);
  int buffer_bytes = (int)get_number(env, options, "socketBufferBytes", 4 << 20);
  int gso = get_bool(env, options, "gso", 1);
  // Per-client rate limit: 0 turns a limit off.
  double rate_pps = get_number(env, options, "clientPacketsPerSecond", 0);
  double rate_bps = get_number(env, options, "clientBitsPerSecond", 0);
  double rate_burst_ms = get_number(env, options, "clientBurstMs", 0);
  double max_age_ms = get_number(env, options, "maxDatagramAgeMs", 0);
  if (data_port < 0 || data_port > 65535 || (rtp && (data_port == 0 || data_port == 65535)))
    return throw_type(env, "options.dataPort must be 0-65535 (1-65534 in RTP mode)");
  if (max_datagram < 1 || max_datagram > 65507) return throw_type(env, "options.maxDatagramSize must be 1-65507");
  if (slots < 1 || slots > (1 << 22)) return throw_type(env, "options.slots must be 1-4194304");
  if (!(rate_pps >= 0) || !(rate_bps >= 0) || !(rate_burst_ms >= 0))
    return throw_type(env, "options.clientPacketsPerSecond, clientBitsPerSecond and clientBurstMs must be 0 or more");
  if (!(max_age_ms >= 0)) return throw_type(env, "options.maxDatagramAgeMs must be 0 (off) or more");

  rm_handle *handle = calloc(1, sizeof *handle);
  if (!handle) return throw_errno(env, "cannot allocate the native engine", ENOMEM);
  rm_engine *engine = &handle->engine;
  struct in_addr probe;
  engine->family = inet_pton(AF_INET, address, &probe) == 1 ? AF_INET : AF_INET6;
  engine->nports = rtp ? 2 : 1;
  engine->max_datagram = (size_t)max_datagram;
  engine->rate_limit = rate_pps > 0 || rate_bps > 0;
  engine->max_age_ms = max_age_ms;
  engine->packets_per_ms = rate_pps / 1000;
  engine->bytes_per_ms = rate_bps / 8 / 1000;
  // A bucket always holds at least one datagram of the largest size, or nothing could ever pass.
  engine->burst_packets = rate_pps * rate_burst_ms / 1000 > 1 ? rate_pps * rate_burst_ms / 1000 : 1;
  engine->burst_bytes = rate_bps / 8 * rate_burst_ms / 1000 > max_datagram ? rate_bps / 8 * rate_burst_ms / 1000 : max_datagram;
  engine->nslots = (uint32_t)slots;
  engine->on_control = control_from_thread;
  atomic_init(&engine->stopping, 0);
  atomic_init(&engine->table_version, 0);
  pthread_mutex_init(&engine->table_lock, NULL);
  for (int p = 0; p < RM_MAX_PORTS; p++) engine->ports[p].fd = -1;

  napi_value buckets;
  if (get_prop(env, options, "latencyBucketsSeconds", &buckets)) {
    uint32_t n = 0;
    napi_get_array_length(env, buckets, &n);
    if (n > RM_MAX_BUCKETS - 1) n = RM_MAX_BUCKETS - 1;
    for (uint32_t b = 0; b < n; b++) {
      napi_value e;
      napi_get_element(env, buckets, b, &e);
      napi_get_value_double(env, e, &engine->bucket_bounds[b]);
    }
    engine->nbuckets = (int)n;
  }

  char what[128];
  for (int p = 0; p < engine->nports; p++) {
    int err = bind_port(engine, p, address, data_port + p, buffer_bytes, gso, what, sizeof what);
    if (err) {
      for (int q = 0; q < p; q++) close(engine->ports[q].fd);
      pthread_mutex_destroy(&engine->table_lock);
      free(handle);
      if (err == EINVAL) return throw_type(env, "options.address is not a valid IPv4 or IPv6 address");
      return throw_errno(env, what, err);
    }
  }

  // Counters: one region per port, shared with JavaScript.
  engine->port_stride = RM_GLOBAL_DOUBLES + ((size_t)engine->nslots + 1) * RM_SLOT_DOUBLES;
  size_t bytes = engine->port_stride * (size_t)engine->nports * sizeof(double);
  napi_value stats;
  void *stats_data = NULL;
  napi_value handle_value, result, ports;
  if (napi_create_arraybuffer(env, bytes, &stats_data, &stats) != napi_ok ||
      napi_create_reference(env, stats, 1, &handle->stats_ref) != napi_ok) {
    handle->closed = 0;
    stop_engine(handle);
    free(handle);
    return throw_errno(env, "cannot allocate the counters", ENOMEM);
  }
  memset(stats_data, 0, bytes);
  engine->stats = stats_data;

  napi_value resource_name;
  napi_create_string_utf8(env, "rmesh-native-control", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, resource_name, CONTROL_QUEUE, 1, NULL, NULL, NULL,
                                      control_to_js, &handle->tsfn) != napi_ok) {
    stop_engine(handle);
    napi_delete_reference(env, handle->stats_ref);
    free(handle);
    return throw_type(env, "onControl must be a function");
  }

  for (int p = 0; p < engine->nports; p++) {
    rm_port *port = &engine->ports[p];
    port->engine = engine;
    port->index = p;
    port->stats = engine->stats + (size_t)p * engine->port_stride;
    port->slots = port->stats + RM_GLOBAL_DOUBLES;
    port->buffer_size = (engine->max_datagram + RM_PEER_TAGGED_OVERHEAD + 1 + 63) & ~(size_t)63;
    port->buffers = malloc(port->buffer_size * RM_BATCH);
    port->windows = calloc(RM_MAX_WINDOWS, sizeof(rm_window));
    port->epoch = rm_realtime_ms();  // a restarted reflector starts above its old epoch (clocks permitting)
  }
  for (int p = 0; p < engine->nports; p++) {
    rm_port *port = &engine->ports[p];
    if (!port->buffers || !port->windows || pthread_create(&port->thread, NULL, rm_port_loop, port) != 0) {
      stop_engine(handle);
      napi_delete_reference(env, handle->stats_ref);
      free(handle);
      return throw_errno(env, "cannot start the packet thread", errno ? errno : ENOMEM);
    }
    port->thread_started = 1;
  }
  handle->running = 1;

  CHECK(env, napi_create_external(env, handle, finalize_handle, NULL, &handle_value));
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_array_with_length(env, (size_t)engine->nports, &ports));
  for (int p = 0; p < engine->nports; p++) {
    napi_value n;
    napi_create_int32(env, bound_port(engine->ports[p].fd), &n);
    napi_set_element(env, ports, (uint32_t)p, n);
  }
  napi_value stride, gso_on;
  napi_create_double(env, (double)engine->port_stride, &stride);
  napi_get_boolean(env, engine->ports[0].gso, &gso_on);
  napi_set_named_property(env, result, "gso", gso_on);
  napi_set_named_property(env, result, "handle", handle_value);
  napi_set_named_property(env, result, "stats", stats);
  napi_set_named_property(env, result, "ports", ports);
  napi_set_named_property(env, result, "portStride", stride);
  return result;
}

// A 32-byte tag key from element p of an array of Buffers; 0 on success.
static int mac_key_at(napi_env env, napi_value keys, uint32_t p, rm_mac_key *out) {
  napi_value key;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_element(env, keys, p, &key) != napi_ok || napi_get_buffer_info(env, key, &data, &len) != napi_ok || len != 32) return -1;
  rm_mac_key_init(out, data, len);
  return 0;
}

// setTable(handle, clients, slots: Uint32Array, peers[, auth])
// auth (authenticated mesh): { selfKeys?: Buffer[] (one 32-byte tag key per port index; absent = peer
// copies untagged), keyCount (keys that verify, 0..4), acceptUnsigned }; with keyCount > 0 each peer
// has tagKeys (per key, current first: a Buffer per port index), windowSlot (< 1024), windowGeneration.
static napi_value set_table(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "setTable(handle, clients, slots, peers) needs four arguments");
  rm_handle *handle = unwrap(env, argv[0]);
  if (!handle) return NULL;
  if (handle->closed) return throw_type(env, "the native engine is closed");
  rm_engine *engine = &handle->engine;

  uint32_t nclients = 0, npeers = 0;
  CHECK(env, napi_get_array_length(env, argv[1], &nclients));
  CHECK(env, napi_get_array_length(env, argv[3], &npeers));
  uint32_t *slots = NULL;
  size_t nslots = 0;
  napi_typedarray_type ta_type;
  CHECK(env, napi_get_typedarray_info(env, argv[2], &ta_type, &nslots, (void **)&slots, NULL, NULL));
  if (ta_type != napi_uint32_array || nslots < nclients) return throw_type(env, "slots must be a Uint32Array with one slot per client");

  rm_table *table = rm_table_new(nclients, npeers);
  if (!table) return throw_errno(env, "cannot allocate the forwarding table", ENOMEM);
  napi_valuetype auth_type = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &auth_type);
  table->accept_untagged = 1;
  if (auth_type == napi_object) {
    napi_value self_keys;
    napi_valuetype self_type = napi_undefined;
    if (get_prop(env, argv[4], "selfKeys", &self_keys)) napi_typeof(env, self_keys, &self_type);
    table->tagging = self_type == napi_object;
    for (int p = 0; table->tagging && p < engine->nports; p++) {
      if (mac_key_at(env, self_keys, (uint32_t)p, &table->self_mac[p]) != 0) {
        rm_table_release(table);
        return throw_type(env, "auth.selfKeys must hold a 32-byte Buffer per port");
      }
    }
    double nkeys = get_number(env, argv[4], "keyCount", -1);
    if (!(nkeys >= 0 && nkeys <= RM_MAX_KEYS)) {
      rm_table_release(table);
      return throw_type(env, "auth.keyCount must be 0-4 (the mesh keys that verify at one time)");
    }
    table->nkeys = (uint32_t)nkeys;
    table->accept_untagged = get_bool(env, argv[4], "acceptUnsigned", 0);
  }
  char address[INET6_ADDRSTRLEN + 1];
  for (uint32_t c = 0; c < nclients; c++) {
    napi_value client, endpoints;
    CHECK(env, napi_get_element(env, argv[1], c, &client));
    rm_client *out = &table->clients[c];
    out->id = (uint64_t)get_number(env, client, "id", 0);
    out->origin = (uint64_t)get_number(env, client, "origin", (double)out->id);
    out->slot = slots[c];
    out->sends = (uint8_t)get_bool(env, client, "sends", 0);
    out->receives = (uint8_t)get_bool(env, client, "receives", 0);
    out->deliver = (uint8_t)get_bool(env, client, "deliver", 1);
    if (!get_prop(env, client, "endpoints", &endpoints)) continue;
    for (int p = 0; p < engine->nports; p++) {
      napi_value endpoint, addr;
      bool has = false;
      napi_has_element(env, endpoints, (uint32_t)p, &has);
      if (!has || napi_get_element(env, endpoints, (uint32_t)p, &endpoint) != napi_ok) continue;
      napi_valuetype type;
      napi_typeof(env, endpoint, &type);
      if (type != napi_object) continue;
      if (!get_prop(env, endpoint, "address", &addr) || !get_string(env, addr, address, sizeof address)) {
        rm_table_release(table);
        return throw_type(env, "a client endpoint has no address string");
      }
      int port = (int)get_number(env, endpoint, "port", -1);
      int r = port < 1 || port > 65535 ? -1 : make_sockaddr(engine->family, address, port, &out->endpoint[p], &out->endpoint_len[p]);
      if (r != 0) {
        rm_table_release(table);
        return throw_type(env, port < 1 || port > 65535 ? "a client endpoint port must be 1-65535" : endpoint_error(r));
      }
      out->has_endpoint[p] = 1;
    }
  }
  for (uint32_t q = 0; q < npeers; q++) {
    napi_value peer, addr;
    CHECK(env, napi_get_element(env, argv[3], q, &peer));
    rm_peer *out = &table->peers[q];
    if (!get_prop(env, peer, "address", &addr) || !get_string(env, addr, address, sizeof address)) {
      rm_table_release(table);
      return throw_type(env, "a peer has no address string");
    }
    int data_port = (int)get_number(env, peer, "dataPort", -1);
    for (int p = 0; p < engine->nports; p++) {
      int port = data_port + p;
      int r = port < 1 || port > 65535 ? -1 : make_sockaddr(engine->family, address, port, &out->endpoint[p], &out->endpoint_len[p]);
      if (r != 0) {
        rm_table_release(table);
        return throw_type(env, port < 1 || port > 65535 ? "a peer dataPort must be 1-65535" : endpoint_error(r));
      }
      out->has_endpoint[p] = 1;
    }
    if (table->nkeys) {
      napi_value keys, per_key;
      double slot = get_number(env, peer, "windowSlot", -1);
      out->window_slot = (uint32_t)slot;
      out->window_generation = (uint32_t)get_number(env, peer, "windowGeneration", 0);
      int bad = !(slot >= 0 && slot < RM_MAX_WINDOWS) || !get_prop(env, peer, "tagKeys", &keys);
      for (uint32_t k = 0; !bad && k < table->nkeys; k++) {
        bad = napi_get_element(env, keys, k, &per_key) != napi_ok;
        for (int p = 0; !bad && p < engine->nports; p++) bad = mac_key_at(env, per_key, (uint32_t)p, &out->mac[k][p]) != 0;
      }
      if (bad) {
        rm_table_release(table);
        return throw_type(env, "a peer of an authenticated mesh needs tagKeys (per key, a 32-byte Buffer per port) and a windowSlot below 1024");
      }
    }
  }
  if (rm_table_finish(table, engine->nports) != 0) {
    rm_table_release(table);
    return throw_errno(env, "cannot allocate the forwarding table", ENOMEM);
  }
  rm_engine_publish(engine, table);
  return NULL;
}

// send(handle, portIndex, buffer, address, port) -> boolean (false when the socket buffer is full)
static napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "send(handle, portIndex, buffer, address, port) needs five arguments");
  rm_handle *handle = unwrap(env, argv[0]);
  if (!handle) return NULL;
  if (handle->closed) return throw_type(env, "the native engine is closed");
  rm_engine *engine = &handle->engine;
  int32_t port_index = 0, port = 0;
  napi_get_value_int32(env, argv[1], &port_index);
  napi_get_value_int32(env, argv[4], &port);
  if (port_index < 0 || port_index >= engine->nports) return throw_type(env, "portIndex is not a port of this engine");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) return throw_type(env, "datagram must be a Buffer");
  char address[INET6_ADDRSTRLEN + 1];
  if (!get_string(env, argv[3], address, sizeof address)) return throw_type(env, "address must be a string");
  struct sockaddr_storage to;
  socklen_t to_len;
  int r = port < 1 || port > 65535 ? -1 : make_sockaddr(engine->family, address, port, &to, &to_len);
  if (r != 0) return throw_type(env, port < 1 || port > 65535 ? "port must be 1-65535" : endpoint_error(r));
  ssize_t sent = sendto(engine->ports[port_index].fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, to_len);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, "cannot send a control datagram", errno);
  napi_value result;
  napi_get_boolean(env, sent >= 0, &result);
  return result;
}

static napi_value close_engine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  rm_handle *handle = unwrap(env, argv[0]);
  if (!handle) return NULL;
  stop_engine(handle);
  return NULL;
}

static napi_value now_ms(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_double(env, rm_now_ms(), &result);
  return result;
}

static napi_value layout(napi_env env) {
  napi_value obj;
  napi_create_object(env, &obj);
  const struct { const char *name; int value; } fields[] = {
      {"inClient", RM_IN_CLIENT}, {"inPeer", RM_IN_PEER}, {"bytesInClient", RM_BYTES_IN_CLIENT},
      {"bytesInPeer", RM_BYTES_IN_PEER}, {"outClient", RM_OUT_CLIENT}, {"outPeer", RM_OUT_PEER},
      {"bytesOutClient", RM_BYTES_OUT_CLIENT}, {"bytesOutPeer", RM_BYTES_OUT_PEER},
      {"dropUnknownSource", RM_DROP_UNKNOWN_SOURCE}, {"dropMalformed", RM_DROP_MALFORMED},
      {"dropOversized", RM_DROP_OVERSIZED}, {"dropRole", RM_DROP_ROLE}, {"dropSendError", RM_DROP_SEND_ERROR},
      {"dropRateLimited", RM_DROP_RATE_LIMITED}, {"dropBadPeerTag", RM_DROP_BAD_PEER_TAG}, {"dropReplay", RM_DROP_REPLAY},
      {"dropStale", RM_DROP_STALE},
      {"controlToJs", RM_CONTROL_TO_JS}, {"controlDropped", RM_CONTROL_DROPPED}, {"batches", RM_BATCHES},
      {"sendCalls", RM_SEND_CALLS}, {"gsoSends", RM_GSO_SENDS}, {"latencyCount", RM_LATENCY_COUNT}, {"latencySum", RM_LATENCY_SUM},
      {"latencyBuckets", RM_LATENCY_BUCKETS}, {"maxBuckets", RM_MAX_BUCKETS - 1}, {"globalDoubles", RM_GLOBAL_DOUBLES},
      {"slotIn", RM_SLOT_IN}, {"slotOut", RM_SLOT_OUT}, {"slotBytesIn", RM_SLOT_BYTES_IN},
      {"slotBytesOut", RM_SLOT_BYTES_OUT}, {"slotLastHeard", RM_SLOT_LAST_HEARD}, {"slotRateLimited", RM_SLOT_RATE_LIMITED},
      {"slotDoubles", RM_SLOT_DOUBLES},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    napi_value n;
    napi_create_int32(env, fields[i].value, &n);
    napi_set_named_property(env, obj, fields[i].name, n);
  }
  return obj;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, open_engine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTable", NULL, set_table, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, send_datagram, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_engine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nowMs", NULL, now_ms, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layout", NULL, NULL, NULL, NULL, layout(env), napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

// N-API entry of the native mirror: open (bind the data sockets, start one packet thread per socket),
// close, and the counter layout JavaScript reads. The table (js-table.c), control datagrams (control.c)
// and sockets (sockets.c) have their own files. Counters are not read through here: JavaScript holds
// the Float64Array the threads write into (counters.h).
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glue.h"

#define CONTROL_QUEUE 4096

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

// Undoes a handle that open() could not finish: threads, sockets, counters reference and the handle.
static void discard(napi_env env, rm_handle *handle) {
  stop_engine(handle);
  if (handle->stats_ref) napi_delete_reference(env, handle->stats_ref);
  pthread_mutex_destroy(&handle->engine.table_lock);
  free(handle);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)hint;
  discard(env, data);
}

// ---- open ----

typedef struct {
  char address[INET6_ADDRSTRLEN + 1];
  int data_port, rtp, buffer_bytes, gso;
  double max_datagram, slots, rate_pps, rate_bps, rate_burst_ms, max_age_ms;
} rm_open_options;

// The options of open(), checked; an error message, or NULL.
static const char *read_options(napi_env env, napi_value options, rm_open_options *o) {
  napi_value v;
  if (!rm_get_prop(env, options, "address", &v) || !rm_get_string(env, v, o->address, sizeof o->address))
    return "options.address must be an IP address string";
  o->data_port = (int)rm_get_number(env, options, "dataPort", -1);
  o->rtp = rm_get_bool(env, options, "rtp", 0);
  o->max_datagram = rm_get_number(env, options, "maxDatagramSize", 1472);
  o->slots = rm_get_number(env, options, "slots", 4096);
  o->buffer_bytes = (int)rm_get_number(env, options, "socketBufferBytes", 4 << 20);
  o->gso = rm_get_bool(env, options, "gso", 1);
  // Per-client rate limit: 0 turns a limit off.
  o->rate_pps = rm_get_number(env, options, "clientPacketsPerSecond", 0);
  o->rate_bps = rm_get_number(env, options, "clientBitsPerSecond", 0);
  o->rate_burst_ms = rm_get_number(env, options, "clientBurstMs", 0);
  o->max_age_ms = rm_get_number(env, options, "maxDatagramAgeMs", 0);
  if (o->data_port < 0 || o->data_port > 65535 || (o->rtp && (o->data_port == 0 || o->data_port == 65535)))
    return "options.dataPort must be 0-65535 (1-65534 in RTP mode)";
  if (o->max_datagram < 1 || o->max_datagram > 65507) return "options.maxDatagramSize must be 1-65507";
  if (o->slots < 1 || o->slots > (1 << 22)) return "options.slots must be 1-4194304";
  if (!(o->rate_pps >= 0) || !(o->rate_bps >= 0) || !(o->rate_burst_ms >= 0))
    return "options.clientPacketsPerSecond, clientBitsPerSecond and clientBurstMs must be 0 or more";
  if (!(o->max_age_ms >= 0)) return "options.maxDatagramAgeMs must be 0 (off) or more";
  return NULL;
}

static void configure(napi_env env, napi_value options, const rm_open_options *o, rm_engine *engine) {
  struct in_addr probe;
  engine->family = inet_pton(AF_INET, o->address, &probe) == 1 ? AF_INET : AF_INET6;
  engine->nports = o->rtp ? 2 : 1;
  engine->max_datagram = (size_t)o->max_datagram;
  engine->rate_limit = o->rate_pps > 0 || o->rate_bps > 0;
  engine->max_age_ms = o->max_age_ms;
  engine->packets_per_ms = o->rate_pps / 1000;
  engine->bytes_per_ms = o->rate_bps / 8 / 1000;
  // A bucket always holds at least one datagram of the largest size, or nothing could ever pass.
  double burst_packets = o->rate_pps * o->rate_burst_ms / 1000, burst_bytes = o->rate_bps / 8 * o->rate_burst_ms / 1000;
  engine->burst_packets = burst_packets > 1 ? burst_packets : 1;
  engine->burst_bytes = burst_bytes > o->max_datagram ? burst_bytes : o->max_datagram;
  engine->nslots = (uint32_t)o->slots;
  engine->on_control = rm_control_from_thread;
  atomic_init(&engine->stopping, 0);
  atomic_init(&engine->table_version, 0);
  pthread_mutex_init(&engine->table_lock, NULL);
  for (int p = 0; p < RM_MAX_PORTS; p++) engine->ports[p].fd = -1;
  napi_value buckets;
  if (!rm_get_prop(env, options, "latencyBucketsSeconds", &buckets)) return;
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

// Counters: one region per port, shared with JavaScript. 0 on success.
static int make_counters(napi_env env, rm_handle *handle, napi_value *stats) {
  rm_engine *engine = &handle->engine;
  engine->port_stride = RM_GLOBAL_DOUBLES + ((size_t)engine->nslots + 1) * RM_SLOT_DOUBLES;
  size_t bytes = engine->port_stride * (size_t)engine->nports * sizeof(double);
  void *data = NULL;
  if (napi_create_arraybuffer(env, bytes, &data, stats) != napi_ok || napi_create_reference(env, *stats, 1, &handle->stats_ref) != napi_ok) return -1;
  memset(data, 0, bytes);
  engine->stats = data;
  return 0;
}

// Allocates each port's buffers and starts its thread; 0, or the errno of what failed.
static int start_threads(rm_engine *engine) {
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
    if (!port->buffers || !port->windows) return ENOMEM;
  }
  for (int p = 0; p < engine->nports; p++) {
    rm_port *port = &engine->ports[p];
    int err = pthread_create(&port->thread, NULL, rm_port_loop, port);
    if (err) return err;
    port->thread_started = 1;
  }
  return 0;
}

// { handle, stats, ports, portStride, gso }
static napi_value opened(napi_env env, rm_handle *handle, napi_value handle_value, napi_value stats) {
  rm_engine *engine = &handle->engine;
  napi_value result, ports, stride, gso_on;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_array_with_length(env, (size_t)engine->nports, &ports));
  for (int p = 0; p < engine->nports; p++) {
    napi_value n;
    napi_create_int32(env, rm_bound_port(engine->ports[p].fd), &n);
    napi_set_element(env, ports, (uint32_t)p, n);
  }
  napi_create_double(env, (double)engine->port_stride, &stride);
  napi_get_boolean(env, engine->ports[0].gso, &gso_on);
  napi_set_named_property(env, result, "gso", gso_on);
  napi_set_named_property(env, result, "handle", handle_value);
  napi_set_named_property(env, result, "stats", stats);
  napi_set_named_property(env, result, "ports", ports);
  napi_set_named_property(env, result, "portStride", stride);
  return result;
}

// open(options, onControl) -> { handle, stats: ArrayBuffer, ports: number[], portStride, gso }. Every
// failure after the handle exists goes through discard(): nothing is left behind.
static napi_value open_engine(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return rm_throw_type(env, "open(options, onControl) needs two arguments");
  rm_open_options o;
  const char *error = read_options(env, argv[0], &o);
  if (error) return rm_throw_type(env, error);
  rm_handle *handle = calloc(1, sizeof *handle);
  if (!handle) return rm_throw_errno(env, "cannot allocate the native engine", ENOMEM);
  rm_engine *engine = &handle->engine;
  configure(env, argv[0], &o, engine);

  char what[128];
  for (int p = 0; p < engine->nports; p++) {
    int err = rm_bind_port(engine, p, o.address, o.data_port + p, o.buffer_bytes, o.gso, what, sizeof what);
    if (err) {
      discard(env, handle);
      if (err == EINVAL) return rm_throw_type(env, "options.address is not a valid IPv4 or IPv6 address");
      return rm_throw_errno(env, what, err);
    }
  }
  napi_value stats, resource_name, handle_value;
  if (make_counters(env, handle, &stats) != 0) {
    discard(env, handle);
    return rm_throw_errno(env, "cannot allocate the counters", ENOMEM);
  }
  napi_create_string_utf8(env, "rmesh-native-control", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, resource_name, CONTROL_QUEUE, 1, NULL, NULL, NULL, rm_control_to_js,
                                      &handle->tsfn) != napi_ok) {
    discard(env, handle);
    return rm_throw_type(env, "onControl must be a function");
  }
  int err = start_threads(engine);
  if (err) {
    discard(env, handle);
    return rm_throw_errno(env, "cannot start the packet thread", err);
  }
  handle->running = 1;
  // From here the handle belongs to the external: its finalizer stops and frees it.
  if (napi_create_external(env, handle, finalize_handle, NULL, &handle_value) != napi_ok) {
    discard(env, handle);
    return rm_throw_errno(env, "cannot create the engine handle", ENOMEM);
  }
  return opened(env, handle, handle_value, stats);
}

// ---- the rest of the API ----

static napi_value close_engine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  rm_handle *handle = rm_unwrap(env, argv[0]);
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
      {"dropStale", RM_DROP_STALE}, {"dropReceiveBuffer", RM_DROP_RECEIVE_BUFFER}, {"dropSendBuffer", RM_DROP_SEND_BUFFER},
      {"controlToJs", RM_CONTROL_TO_JS}, {"controlDropped", RM_CONTROL_DROPPED}, {"batches", RM_BATCHES},
      {"sendCalls", RM_SEND_CALLS}, {"gsoSends", RM_GSO_SENDS}, {"latencyCount", RM_LATENCY_COUNT}, {"latencySum", RM_LATENCY_SUM},
      {"latencyBuckets", RM_LATENCY_BUCKETS}, {"maxBuckets", RM_MAX_BUCKETS - 1}, {"globalDoubles", RM_GLOBAL_DOUBLES},
      {"slotIn", RM_SLOT_IN}, {"slotOut", RM_SLOT_OUT}, {"slotBytesIn", RM_SLOT_BYTES_IN},
      {"slotBytesOut", RM_SLOT_BYTES_OUT}, {"slotLastHeard", RM_SLOT_LAST_HEARD}, {"slotRateLimited", RM_SLOT_RATE_LIMITED},
      {"slotGeneration", RM_SLOT_GENERATION}, {"slotDoubles", RM_SLOT_DOUBLES},
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
      {"setTable", NULL, rm_set_table, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, rm_send_datagram, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_engine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nowMs", NULL, now_ms, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layout", NULL, NULL, NULL, NULL, layout(env), napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

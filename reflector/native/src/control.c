// Control datagrams (docs/protocol.md §3): those a packet thread receives go to JavaScript through a
// thread-safe function that never blocks the thread (a full queue drops and counts); those JavaScript
// sends leave from the data socket of their port index.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "glue.h"

typedef struct {
  int port_index;
  size_t len;
  struct sockaddr_storage from;
  uint8_t data[];
} rm_control_item;

void rm_control_from_thread(rm_engine *engine, int port_index, const uint8_t *data, size_t len,
                                const struct sockaddr_storage *from) {
  rm_handle *handle = (rm_handle *)engine;
  rm_counter *stats = engine->stats + (size_t)port_index * engine->port_stride;  // called on the port thread: its own region
  rm_control_item *item = malloc(sizeof *item + len);
  if (!item) {
    rm_add(&stats[RM_CONTROL_DROPPED], 1);
    return;
  }
  item->port_index = port_index;
  item->len = len;
  item->from = *from;
  memcpy(item->data, data, len);
  if (napi_call_threadsafe_function(handle->tsfn, item, napi_tsfn_nonblocking) != napi_ok) {
    free(item);
    rm_add(&stats[RM_CONTROL_DROPPED], 1);  // the queue is full: a flood of control datagrams, not a client
    return;
  }
  rm_add(&stats[RM_CONTROL_TO_JS], 1);
}

void rm_control_to_js(napi_env env, napi_value callback, void *context, void *data) {
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
// send(handle, portIndex, buffer, address, port) -> boolean (false when the socket buffer is full)
napi_value rm_send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return rm_throw_type(env, "send(handle, portIndex, buffer, address, port) needs five arguments");
  rm_handle *handle = rm_unwrap(env, argv[0]);
  if (!handle) return NULL;
  if (handle->closed) return rm_throw_type(env, "the native engine is closed");
  rm_engine *engine = &handle->engine;
  int32_t port_index = 0, port = 0;
  napi_get_value_int32(env, argv[1], &port_index);
  napi_get_value_int32(env, argv[4], &port);
  if (port_index < 0 || port_index >= engine->nports) return rm_throw_type(env, "portIndex is not a port of this engine");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) return rm_throw_type(env, "datagram must be a Buffer");
  char address[INET6_ADDRSTRLEN + 1];
  if (!rm_get_string(env, argv[3], address, sizeof address)) return rm_throw_type(env, "address must be a string");
  struct sockaddr_storage to;
  socklen_t to_len;
  int r = port < 1 || port > 65535 ? -1 : rm_make_sockaddr(engine->family, address, port, &to, &to_len);
  if (r != 0) return rm_throw_type(env, port < 1 || port > 65535 ? "port must be 1-65535" : rm_endpoint_error(r));
  ssize_t sent = sendto(engine->ports[port_index].fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, to_len);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return rm_throw_errno(env, "cannot send a control datagram", errno);
  napi_value result;
  napi_get_boolean(env, sent >= 0, &result);
  return result;
}

// Shared by the N-API glue of the native mirror (addon.c, control.c, js-table.c, js-values.c, sockets.c):
// the handle JavaScript holds, and the helpers that read JavaScript values and throw clear errors.
#ifndef RMESH_GLUE_H
#define RMESH_GLUE_H

#include <node_api.h>

#include "mirror.h"

typedef struct {
  rm_engine engine;
  napi_threadsafe_function tsfn;
  napi_ref stats_ref;
  int running;
  int closed;
} rm_handle;

#define CHECK(env, call)                                                  \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      const napi_extended_error_info *info_;                              \
      napi_get_last_error_info((env), &info_);                            \
      napi_throw_error((env), "RMESH_NATIVE", info_ && info_->error_message ? info_->error_message : #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

// js-values.c
napi_value rm_throw_errno(napi_env env, const char *what, int err);
napi_value rm_throw_type(napi_env env, const char *message);
int rm_get_prop(napi_env env, napi_value obj, const char *name, napi_value *out);
double rm_get_number(napi_env env, napi_value obj, const char *name, double fallback);
int rm_get_bool(napi_env env, napi_value obj, const char *name, int fallback);
int rm_get_string(napi_env env, napi_value v, char *buf, size_t size);
rm_handle *rm_unwrap(napi_env env, napi_value value);

// sockets.c
int rm_make_sockaddr(int family, const char *address, int port, struct sockaddr_storage *out, socklen_t *len);
const char *rm_endpoint_error(int code);
int rm_bind_port(rm_engine *engine, int p, const char *address, int port_number, int buffer_bytes, int gso, char *what, size_t what_size);
int rm_bound_port(int fd);

// control.c
void rm_control_from_thread(rm_engine *engine, int port_index, const uint8_t *data, size_t len, const struct sockaddr_storage *from);
void rm_control_to_js(napi_env env, napi_value callback, void *context, void *data);
napi_value rm_send_datagram(napi_env env, napi_callback_info info);

// js-table.c
napi_value rm_set_table(napi_env env, napi_callback_info info);

#endif

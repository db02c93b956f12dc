// Reading JavaScript values in the N-API glue, and the errors thrown back: a bad argument is a
// TypeError with code RMESH_NATIVE_ARGUMENT, a system failure an Error whose code names the errno.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "glue.h"

napi_value rm_throw_errno(napi_env env, const char *what, int err) {
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

napi_value rm_throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "RMESH_NATIVE_ARGUMENT", message);
  return NULL;
}



int rm_get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return 0;
  napi_valuetype type;
  napi_typeof(env, *out, &type);
  return type != napi_undefined && type != napi_null;
}

double rm_get_number(napi_env env, napi_value obj, const char *name, double fallback) {
  napi_value v;
  double d;
  if (!rm_get_prop(env, obj, name, &v) || napi_get_value_double(env, v, &d) != napi_ok) return fallback;
  return d;
}

int rm_get_bool(napi_env env, napi_value obj, const char *name, int fallback) {
  napi_value v;
  bool b;
  if (!rm_get_prop(env, obj, name, &v) || napi_get_value_bool(env, v, &b) != napi_ok) return fallback;
  return b;
}

int rm_get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok && len < size - 1;
}


rm_handle *rm_unwrap(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || !data) {
    rm_throw_type(env, "expected a native engine handle");
    return NULL;
  }
  return data;
}

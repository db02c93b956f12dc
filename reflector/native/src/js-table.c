// The forwarding table JavaScript pushes (setTable), converted into the C table (table.c) and published
// to the packet threads. Every reader returns an error message or NULL, so a bad table (or a getter
// that throws) releases the half-built table in one place and throws; nothing is leaked on the way out.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "glue.h"

// Set when a call into JavaScript threw: the pending exception is the error, nothing more is thrown.
static const char PENDING[] = "";

// A 32-byte tag key from element p of an array of Buffers; 0 on success.
static int mac_key_at(napi_env env, napi_value keys, uint32_t p, rm_mac_key *out) {
  napi_value key;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_element(env, keys, p, &key) != napi_ok || napi_get_buffer_info(env, key, &data, &len) != napi_ok || len != 32) return -1;
  rm_mac_key_init(out, data, len);
  return 0;
}

// auth (authenticated mesh): { selfKeys?: Buffer[] (one 32-byte tag key per port index; absent = peer
// copies untagged), keyCount (keys that verify, 0..4), acceptUnsigned }.
static const char *read_auth(napi_env env, napi_value auth, const rm_engine *engine, rm_table *table) {
  napi_value self_keys;
  napi_valuetype self_type = napi_undefined;
  if (rm_get_prop(env, auth, "selfKeys", &self_keys)) napi_typeof(env, self_keys, &self_type);
  table->tagging = self_type == napi_object;
  for (int p = 0; table->tagging && p < engine->nports; p++)
    if (mac_key_at(env, self_keys, (uint32_t)p, &table->self_mac[p]) != 0) return "auth.selfKeys must hold a 32-byte Buffer per port";
  double nkeys = rm_get_number(env, auth, "keyCount", -1);
  if (!(nkeys >= 0 && nkeys <= RM_MAX_KEYS)) return "auth.keyCount must be 0-4 (the mesh keys that verify at one time)";
  table->nkeys = (uint32_t)nkeys;
  table->accept_untagged = rm_get_bool(env, auth, "acceptUnsigned", 0);
  return NULL;
}

static const char *read_client(napi_env env, napi_value clients, uint32_t c, const rm_engine *engine, rm_client *out) {
  napi_value client, endpoints;
  char address[INET6_ADDRSTRLEN + 1];
  if (napi_get_element(env, clients, c, &client) != napi_ok) return PENDING;
  out->id = (uint64_t)rm_get_number(env, client, "id", 0);
  out->origin = (uint64_t)rm_get_number(env, client, "origin", (double)out->id);
  out->sends = (uint8_t)rm_get_bool(env, client, "sends", 0);
  out->receives = (uint8_t)rm_get_bool(env, client, "receives", 0);
  out->deliver = (uint8_t)rm_get_bool(env, client, "deliver", 1);
  if (!rm_get_prop(env, client, "endpoints", &endpoints)) return NULL;
  for (int p = 0; p < engine->nports; p++) {
    napi_value endpoint, addr;
    bool has = false;
    napi_has_element(env, endpoints, (uint32_t)p, &has);
    if (!has || napi_get_element(env, endpoints, (uint32_t)p, &endpoint) != napi_ok) continue;
    napi_valuetype type;
    napi_typeof(env, endpoint, &type);
    if (type != napi_object) continue;
    if (!rm_get_prop(env, endpoint, "address", &addr) || !rm_get_string(env, addr, address, sizeof address))
      return "a client endpoint has no address string";
    int port = (int)rm_get_number(env, endpoint, "port", -1);
    if (port < 1 || port > 65535) return "a client endpoint port must be 1-65535";
    int r = rm_make_sockaddr(engine->family, address, port, &out->endpoint[p], &out->endpoint_len[p]);
    if (r != 0) return rm_endpoint_error(r);
    out->has_endpoint[p] = 1;
  }
  return NULL;
}

// A peer: its address and data port; in an authenticated mesh (nkeys > 0) also tagKeys (per key,
// current first: a Buffer per port index), windowSlot (< 1024) and windowGeneration.
static const char *read_peer(napi_env env, napi_value peers, uint32_t q, const rm_engine *engine, const rm_table *table, rm_peer *out) {
  napi_value peer, addr;
  char address[INET6_ADDRSTRLEN + 1];
  if (napi_get_element(env, peers, q, &peer) != napi_ok) return PENDING;
  if (!rm_get_prop(env, peer, "address", &addr) || !rm_get_string(env, addr, address, sizeof address)) return "a peer has no address string";
  int data_port = (int)rm_get_number(env, peer, "dataPort", -1);
  for (int p = 0; p < engine->nports; p++) {
    int port = data_port + p;
    if (port < 1 || port > 65535) return "a peer dataPort must be 1-65535";
    int r = rm_make_sockaddr(engine->family, address, port, &out->endpoint[p], &out->endpoint_len[p]);
    if (r != 0) return rm_endpoint_error(r);
    out->has_endpoint[p] = 1;
  }
  if (!table->nkeys) return NULL;
  napi_value keys, per_key;
  double slot = rm_get_number(env, peer, "windowSlot", -1);
  out->window_slot = (uint32_t)slot;
  out->window_generation = (uint32_t)rm_get_number(env, peer, "windowGeneration", 0);
  int bad = !(slot >= 0 && slot < RM_MAX_WINDOWS) || !rm_get_prop(env, peer, "tagKeys", &keys);
  for (uint32_t k = 0; !bad && k < table->nkeys; k++) {
    bad = napi_get_element(env, keys, k, &per_key) != napi_ok;
    for (int p = 0; !bad && p < engine->nports; p++) bad = mac_key_at(env, per_key, (uint32_t)p, &out->mac[k][p]) != 0;
  }
  return bad ? "a peer of an authenticated mesh needs tagKeys (per key, a 32-byte Buffer per port) and a windowSlot below 1024" : NULL;
}

// Fills a new table from the arguments; an error message, PENDING, or NULL when the table is whole.
static const char *read_table(napi_env env, napi_value *argv, size_t argc, const rm_engine *engine, const uint32_t *slots,
                              const uint32_t *generations, rm_table *table) {
  napi_valuetype auth_type = napi_undefined;
  if (argc >= 6) napi_typeof(env, argv[5], &auth_type);
  table->accept_untagged = 1;
  const char *error = auth_type == napi_object ? read_auth(env, argv[5], engine, table) : NULL;
  for (uint32_t c = 0; !error && c < table->nclients; c++) {
    error = read_client(env, argv[1], c, engine, &table->clients[c]);
    table->clients[c].slot = slots[c];
    table->clients[c].generation = generations[c];
  }
  for (uint32_t q = 0; !error && q < table->npeers; q++) error = read_peer(env, argv[4], q, engine, table, &table->peers[q]);
  return error;
}

// A Uint32Array with at least n elements; NULL otherwise. An empty array may have no data pointer
// (N-API gives NULL for a zero-length buffer), which is still a valid array of 0 elements: a table with
// no clients (the last one left, or a peer said hello before any joined) must not be refused.
static uint32_t *uint32_array(napi_env env, napi_value value, uint32_t n) {
  static uint32_t none[1];
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  if (type != napi_uint32_array || length < n) return NULL;
  return data != NULL ? data : none;
}

// setTable(handle, clients, slots: Uint32Array, generations: Uint32Array, peers[, auth]): slots[i] is
// the activity line of clients[i], generations[i] the line's hand-over to it (a new one = start at 0).
napi_value rm_set_table(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return rm_throw_type(env, "setTable(handle, clients, slots, generations, peers) needs five arguments");
  rm_handle *handle = rm_unwrap(env, argv[0]);
  if (!handle) return NULL;
  if (handle->closed) return rm_throw_type(env, "the native engine is closed");
  rm_engine *engine = &handle->engine;

  uint32_t nclients = 0, npeers = 0;
  if (napi_get_array_length(env, argv[1], &nclients) != napi_ok || napi_get_array_length(env, argv[4], &npeers) != napi_ok)
    return rm_throw_type(env, "clients and peers must be arrays");
  const uint32_t *slots = uint32_array(env, argv[2], nclients), *generations = uint32_array(env, argv[3], nclients);
  if (!slots || !generations) return rm_throw_type(env, "slots and generations must be Uint32Arrays with one element per client");

  rm_table *table = rm_table_new(nclients, npeers);
  if (!table) return rm_throw_errno(env, "cannot allocate the forwarding table", ENOMEM);
  const char *error = read_table(env, argv, argc, engine, slots, generations, table);
  if (error) {
    rm_table_release(table);
    return error == PENDING ? NULL : rm_throw_type(env, error);
  }
  if (rm_table_finish(table, engine->nports) != 0) {
    rm_table_release(table);
    return rm_throw_errno(env, "cannot allocate the forwarding table", ENOMEM);
  }
  rm_engine_publish(engine, table);
  return NULL;
}

// The counters the packet threads share with JavaScript (a Float64Array, laid out by enum rm_stat and
// enum rm_slot_stat in mirror.h). Each one has a single writer, its port's thread: an increment is a
// relaxed load and a relaxed store (plain moves on x86-64 and arm64, no locked instruction), which keeps
// the hot path as cheap as before while a concurrent reader sees whole values, never a torn or raced one.
// Counters only ever rise; what fails is counted under its own drop reason, never undone.
#ifndef RMESH_COUNTERS_H
#define RMESH_COUNTERS_H

#include "mirror.h"

static inline double rm_read(const rm_counter *c) {
  return atomic_load_explicit((rm_counter *)c, memory_order_relaxed);
}

static inline void rm_write(rm_counter *c, double value) {
  atomic_store_explicit(c, value, memory_order_relaxed);
}

static inline void rm_add(rm_counter *c, double value) {
  rm_write(c, rm_read(c) + value);
}

// The activity line of a client slot on this port; slots beyond the capacity share the overflow line.
static inline rm_counter *rm_slot_line(rm_port *port, uint32_t slot) {
  uint32_t n = port->engine->nslots;
  return port->slots + (size_t)(slot < n ? slot : n) * RM_SLOT_DOUBLES;
}

#endif

// The packet loop (loop.c and the files it calls; no N-API) under ThreadSanitizer with every thread
// instrumented, built by tsan.test.ts: two port threads under traffic from two senders, a thread that
// publishes a new table every millisecond (activity lines handed to new clients), and a scraper thread
// that reads every counter the way JavaScript reads the shared Float64Array. V8's reads are invisible
// to ThreadSanitizer, so the scraper stands in for them: a counter written as a plain double while it
// reads is a data race. Usage: tsan-harness DATAGRAMS; prints "done <in> <out>".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mirror.h"

#define NSLOTS 8
#define RECEIVERS 3

static rm_engine engine;
static atomic_int done;
static struct sockaddr_in senders[2], receivers[RECEIVERS];

static void on_control(rm_engine *e, int port_index, const uint8_t *data, size_t len, const struct sockaddr_storage *from) {
  (void)e, (void)port_index, (void)data, (void)len, (void)from;
}

static int udp_socket(struct sockaddr_in *bound) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval timeout = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("bind");
    exit(2);
  }
  socklen_t len = sizeof *bound;
  getsockname(fd, (struct sockaddr *)bound, &len);
  return fd;
}

static void set_endpoint(rm_client *c, const struct sockaddr_in *addr) {
  for (int p = 0; p < 2; p++) {
    memcpy(&c->endpoint[p], addr, sizeof *addr);
    c->endpoint_len[p] = sizeof *addr;
    c->has_endpoint[p] = 1;
  }
}

// Round r: both senders, and the receivers under ids (and, past the first, lines) that change.
static void publish(uint32_t r) {
  rm_table *table = rm_table_new(2 + RECEIVERS, 0);
  for (int s = 0; s < 2; s++) {
    rm_client *c = &table->clients[s];
    c->id = c->origin = 1 + (uint64_t)s;
    c->slot = (uint32_t)s;
    c->sends = 1;
    set_endpoint(c, &senders[s]);
  }
  for (int i = 0; i < RECEIVERS; i++) {
    rm_client *c = &table->clients[2 + i];
    c->id = c->origin = 100 + r * RECEIVERS + (uint64_t)i;
    c->slot = 2 + (uint32_t)((i + r) % (NSLOTS - 2));
#ifdef RM_HAS_LINE_GENERATIONS
    c->generation = r + 1;
#endif
    c->receives = c->deliver = 1;
    set_endpoint(c, &receivers[i]);
  }
  if (rm_table_finish(table, 2) != 0) exit(3);
  rm_engine_publish(&engine, table);
}

static void *publisher(void *arg) {
  (void)arg;
  for (uint32_t r = 1; !atomic_load(&done); r++) {
    publish(r);
    usleep(1000);
  }
  return NULL;
}

static volatile double scraped;

static void *scraper(void *arg) {
  (void)arg;
  size_t n = engine.port_stride * (size_t)engine.nports;
  while (!atomic_load(&done)) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += engine.stats[i];
    scraped = sum;
  }
  return NULL;
}

int main(int argc, char **argv) {
  int datagrams = argc > 1 ? atoi(argv[1]) : 20000;
  engine.nports = 2;
  engine.family = AF_INET;
  engine.max_datagram = 1472;
  engine.nslots = NSLOTS;
  engine.on_control = on_control;
  engine.port_stride = RM_GLOBAL_DOUBLES + (NSLOTS + 1) * RM_SLOT_DOUBLES;
  engine.stats = calloc(engine.port_stride * 2, sizeof(double));
  pthread_mutex_init(&engine.table_lock, NULL);
  struct sockaddr_in bound[2];
  for (int p = 0; p < 2; p++) {
    rm_port *port = &engine.ports[p];
    port->engine = &engine;
    port->index = p;
    port->fd = udp_socket(&bound[p]);
    port->stats = engine.stats + (size_t)p * engine.port_stride;
    port->slots = port->stats + RM_GLOBAL_DOUBLES;
    port->buffer_size = 2048;
    port->buffers = malloc(port->buffer_size * RM_BATCH);
    port->windows = calloc(RM_MAX_WINDOWS, sizeof(rm_window));
    port->gso_max_segment = 65535;
  }
  int sender_fd[2], receiver_fd[RECEIVERS];
  for (int s = 0; s < 2; s++) sender_fd[s] = udp_socket(&senders[s]);
  for (int i = 0; i < RECEIVERS; i++) receiver_fd[i] = udp_socket(&receivers[i]);
  publish(0);
  pthread_t threads[4];
  for (int p = 0; p < 2; p++) pthread_create(&threads[p], NULL, rm_port_loop, &engine.ports[p]);
  pthread_create(&threads[2], NULL, publisher, NULL);
  pthread_create(&threads[3], NULL, scraper, NULL);
  char payload[200] = {0};
  for (int n = 0; n < datagrams; n++) {
    sendto(sender_fd[n % 2], payload, sizeof payload, 0, (struct sockaddr *)&bound[(n / 2) % 2], sizeof bound[0]);
    if (n % 64 == 63) usleep(200);
  }
  usleep(200000);
  atomic_store(&done, 1);
  atomic_store(&engine.stopping, 1);
  for (int p = 0; p < 2; p++) shutdown(engine.ports[p].fd, SHUT_RD);
  for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
  double in = 0, out = 0;
  for (int p = 0; p < 2; p++) {
    in += engine.ports[p].stats[RM_IN_CLIENT];
    out += engine.ports[p].stats[RM_OUT_CLIENT];
  }
  printf("done %.0f %.0f\n", in, out);
  rm_engine_publish(&engine, NULL);
  for (int i = 0; i < RECEIVERS; i++) close(receiver_fd[i]);
  return 0;
}

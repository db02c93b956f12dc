// The data sockets: addresses parsed for the socket's family, and each socket opened, tuned and bound
// (buffers, timeouts, receive timestamps, the kernel's drop count, UDP GSO where the kernel has it).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "glue.h"

// Parses an address for a socket of `family` (IPv4 on an IPv6 socket becomes v4-mapped).
int rm_make_sockaddr(int family, const char *address, int port, struct sockaddr_storage *out, socklen_t *len) {
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

const char *rm_endpoint_error(int code) {
  return code == -2 ? "an IPv6 endpoint cannot be reached from the IPv4 data socket; bind the reflector to an IPv6 address"
                    : "an endpoint address is not a valid IPv4 or IPv6 address";
}

// ---- control datagrams: packet thread -> JavaScript ----
int rm_bind_port(rm_engine *engine, int p, const char *address, int port_number, int buffer_bytes, int gso, char *what, size_t what_size) {
  struct sockaddr_storage addr;
  socklen_t len;
  snprintf(what, what_size, "cannot bind UDP %s:%d", address, port_number);
  if (rm_make_sockaddr(engine->family, address, port_number, &addr, &len) != 0) return EINVAL;
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
  // Every datagram carries the socket's count of drops for a full receive buffer (loop.c counts them).
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
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

int rm_bound_port(int fd) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
  return addr.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&addr)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}


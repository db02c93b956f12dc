// LD_PRELOAD shim for send-buffer.test.ts: the socket bound to port $RMESH_FULL_SNDBUF_PORT behaves as if
// its send buffer never had room: sendmmsg fails with EAGAIN, while poll() still reports it writable (as
// it may when a copy has just left). The kernel gives this under overload; loopback never does (it
// frees a datagram's buffer space as it delivers it), and there is no netem here to hold datagrams back.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

static int full(int fd) {
  const char *wanted = getenv("RMESH_FULL_SNDBUF_PORT");
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (!wanted || getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return 0;
  int port = addr.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&addr)->sin_port) : ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  return port == atoi(wanted);
}

int sendmmsg(int fd, struct mmsghdr *messages, unsigned int count, int flags) {
  int (*real)(int, struct mmsghdr *, unsigned int, int) = (int (*)(int, struct mmsghdr *, unsigned int, int))dlsym(RTLD_NEXT, "sendmmsg");
  if (full(fd)) {
    errno = EAGAIN;
    return -1;
  }
  return real(fd, messages, count, flags);
}

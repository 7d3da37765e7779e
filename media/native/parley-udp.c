// Batched UDP I/O for Parley's media threads (an N-API addon, plain C).
//
// Node's dgram wakes JavaScript once per datagram: libuv's callback, a new
// Buffer, a new address object, then per send a request object and a callback.
// For RTP (one small packet per leg every 20 ms) that is most of the cost of
// forwarding it. Here one epoll set per media thread holds the legs' RTP sockets
// (bound and closed by Node as before: only reading moves here). When any of
// them is readable, one callback reads what every ready socket holds
// (recvmmsg) into a shared buffer and calls JavaScript once for the batch.
// Sends are queued by JavaScript into another shared buffer and written out
// with one call per batch (sendto per packet: each leg has its own socket).
//
// Nothing here allocates per packet; the buffers are JavaScript's ArrayBuffers
// (kept alive by references) so both sides read them without copies.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

// Receive: packets per batch, bytes per packet slot (a slot's size means "truncated").
#define RX_MAX 256
#define SLOT 2048
#define EVENTS 128
#define PER_SOCKET 8
// Receive metadata per packet (int32): id, length, source port, source changed, family.
#define RX_STRIDE 5
// Text of a changed source address, per packet.
#define ADDR_TEXT 48
// Send metadata per packet (int32): id, offset, length.
#define TX_STRIDE 3

typedef struct {
  int fd;
  int family;
  socklen_t dest_len;
  struct sockaddr_storage dest;
  // The last packet's source address (to tell JavaScript only when it changes).
  int last_family;
  uint8_t last_ip[16];
} sock_t;

typedef struct {
  napi_env env;
  int epfd;
  uv_poll_t poll;
  int closing;
  napi_ref callback;
  napi_async_cleanup_hook_handle cleanup;
  napi_async_cleanup_hook_handle hook;
  napi_async_context async;
  napi_ref refs[5];
  uint8_t *rx;       // RX_MAX * SLOT
  int32_t *rx_meta;  // RX_MAX * RX_STRIDE
  char *rx_text;     // RX_MAX * ADDR_TEXT
  uint8_t *tx;
  size_t tx_size;
  int32_t *tx_meta;
  size_t tx_max;
  sock_t *socks;
  uint32_t nsocks;
  // Counters JavaScript reads (int32 view): 0 batches, 1 packets in, 2 packets out, 3 send errors.
  double stats[4];
  struct mmsghdr msgs[PER_SOCKET];
  struct iovec iov[PER_SOCKET];
  struct sockaddr_storage from[PER_SOCKET];
} poller_t;

#define CHECK(call)                                                 \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error(env, NULL, "parley-udp: " #call " failed"); \
      return NULL;                                                  \
    }                                                               \
  } while (0)

static poller_t *get_poller(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "parley-udp: not a poller");
    return NULL;
  }
  poller_t *pl = p;
  if (pl->closing) {
    napi_throw_error(env, NULL, "parley-udp: poller closed");
    return NULL;
  }
  return pl;
}

static int ensure_sock(poller_t *p, uint32_t id) {
  if (id < p->nsocks) return 0;
  uint32_t n = p->nsocks ? p->nsocks : 64;
  while (n <= id) n *= 2;
  sock_t *s = realloc(p->socks, n * sizeof(sock_t));
  if (!s) return -1;
  memset(s + p->nsocks, 0, (n - p->nsocks) * sizeof(sock_t));
  for (uint32_t i = p->nsocks; i < n; i++) s[i].fd = -1;
  p->socks = s;
  p->nsocks = n;
  return 0;
}

// Reads what the ready sockets hold; returns the number of packets in the batch.
static int read_batch(poller_t *p, int *more) {
  struct epoll_event ev[EVENTS];
  int n = epoll_wait(p->epfd, ev, EVENTS, 0);
  *more = n == EVENTS;
  int count = 0;
  for (int e = 0; e < n && count < RX_MAX; e++) {
    uint32_t id = (uint32_t)(ev[e].data.u64 >> 32);
    int fd = (int)(ev[e].data.u64 & 0xffffffffu);
    if (id >= p->nsocks || p->socks[id].fd != fd) continue;
    int want = RX_MAX - count < PER_SOCKET ? RX_MAX - count : PER_SOCKET;
    for (int i = 0; i < want; i++) {
      p->iov[i].iov_base = p->rx + (size_t)(count + i) * SLOT;
      p->iov[i].iov_len = SLOT;
      memset(&p->msgs[i].msg_hdr, 0, sizeof(struct msghdr));
      p->msgs[i].msg_hdr.msg_iov = &p->iov[i];
      p->msgs[i].msg_hdr.msg_iovlen = 1;
      p->msgs[i].msg_hdr.msg_name = &p->from[i];
      p->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int got = recvmmsg(fd, p->msgs, want, MSG_DONTWAIT, NULL);
    if (got <= 0) continue;
    if (got == want) *more = 1;
    sock_t *s = &p->socks[id];
    for (int i = 0; i < got; i++) {
      int32_t *m = p->rx_meta + (size_t)count * RX_STRIDE;
      unsigned int len = p->msgs[i].msg_len;
      if (p->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) len = SLOT;
      m[0] = (int32_t)id;
      m[1] = (int32_t)len;
      const void *ip;
      int fam, iplen, port;
      if (p->from[i].ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&p->from[i];
        ip = &a->sin6_addr;
        fam = 6;
        iplen = 16;
        port = ntohs(a->sin6_port);
      } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&p->from[i];
        ip = &a->sin_addr;
        fam = 4;
        iplen = 4;
        port = ntohs(a->sin_port);
      }
      m[2] = port;
      m[4] = fam;
      if (fam != s->last_family || memcmp(ip, s->last_ip, iplen) != 0) {
        s->last_family = fam;
        memcpy(s->last_ip, ip, iplen);
        char *t = p->rx_text + (size_t)count * ADDR_TEXT;
        inet_ntop(fam == 6 ? AF_INET6 : AF_INET, ip, t, ADDR_TEXT);
        m[3] = 1;
      } else {
        m[3] = 0;
      }
      count++;
    }
  }
  return count;
}

static void flush_tx(poller_t *p, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    const int32_t *m = p->tx_meta + (size_t)i * TX_STRIDE;
    uint32_t id = (uint32_t)m[0];
    size_t off = (size_t)(uint32_t)m[1], len = (size_t)(uint32_t)m[2];
    if (id >= p->nsocks || off + len > p->tx_size) continue;
    sock_t *s = &p->socks[id];
    if (s->fd < 0 || s->dest_len == 0) continue;
    ssize_t r = sendto(s->fd, p->tx + off, len, MSG_DONTWAIT, (struct sockaddr *)&s->dest, s->dest_len);
    if (r < 0) p->stats[3]++;
    else p->stats[2]++;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  poller_t *p = h->data;
  if (p->closing || status < 0) return;
  napi_env env = p->env;
  int rounds = 0, more = 1;
  while (more && rounds++ < 8 && !p->closing) {
    int count = read_batch(p, &more);
    if (count == 0) break;
    p->stats[0]++;
    p->stats[1] += count;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value cb, recv, arg, result;
    napi_get_reference_value(env, p->callback, &cb);
    napi_get_global(env, &recv);
    napi_create_int32(env, count, &arg);
    napi_status st = napi_make_callback(env, p->async, recv, cb, 1, &arg, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
  }
}

static void on_closed(uv_handle_t *h) {
  poller_t *p = h->data;
  // At the environment's teardown: Node waits for this before it closes the loop.
  if (p->cleanup) napi_remove_async_cleanup_hook(p->cleanup);
  free(p->socks);
  free(p);
}

// Stops polling and closes the epoll set (the sockets stay Node's); the struct is
// freed once libuv has closed the poll handle.
static void shutdown_poller(poller_t *p, int teardown) {
  if (p->closing) return;
  p->closing = 1;
  if (!teardown) {
    // References and the async context go with the environment at teardown.
    napi_env env = p->env;
    for (int i = 0; i < 5; i++)
      if (p->refs[i]) napi_delete_reference(env, p->refs[i]);
    if (p->callback) napi_delete_reference(env, p->callback);
    if (p->async) napi_async_destroy(env, p->async);
  }
  uv_poll_stop(&p->poll);
  close(p->epfd);
  uv_close((uv_handle_t *)&p->poll, on_closed);
}

static void cleanup_hook(napi_async_cleanup_hook_handle handle, void *arg) {
  poller_t *p = arg;
  if (p->closing) {
    // Closed by JavaScript already, its handle still closing: nothing to wait for here.
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  p->cleanup = handle;
  shutdown_poller(p, 1);
}

static int buffer_of(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ab = false;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab) return -1;
  return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

// create(rx, rxMeta, rxText, tx, txMeta, onPackets) -> poller
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "parley-udp: create(rx, rxMeta, rxText, tx, txMeta, onPackets)");
    return NULL;
  }
  poller_t *p = calloc(1, sizeof(poller_t));
  if (!p) {
    napi_throw_error(env, NULL, "parley-udp: out of memory");
    return NULL;
  }
  p->env = env;
  void *d[5];
  size_t l[5];
  for (int i = 0; i < 5; i++) {
    if (buffer_of(env, argv[i], &d[i], &l[i]) != 0) {
      free(p);
      napi_throw_type_error(env, NULL, "parley-udp: buffers must be ArrayBuffers");
      return NULL;
    }
  }
  if (l[0] < RX_MAX * SLOT || l[1] < RX_MAX * RX_STRIDE * 4 || l[2] < RX_MAX * ADDR_TEXT || l[4] < TX_STRIDE * 4) {
    free(p);
    napi_throw_range_error(env, NULL, "parley-udp: buffers too small");
    return NULL;
  }
  p->rx = d[0];
  p->rx_meta = d[1];
  p->rx_text = d[2];
  p->tx = d[3];
  p->tx_size = l[3];
  p->tx_meta = d[4];
  p->tx_max = l[4] / (TX_STRIDE * 4);
  for (int i = 0; i < 5; i++) napi_create_reference(env, argv[i], 1, &p->refs[i]);
  napi_create_reference(env, argv[5], 1, &p->callback);
  napi_value name;
  napi_create_string_utf8(env, "parley-udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &p->async);
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  uv_loop_t *loop = NULL;
  if (p->epfd < 0 || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &p->poll, p->epfd) != 0) {
    if (p->epfd >= 0) close(p->epfd);
    free(p);
    napi_throw_error(env, NULL, "parley-udp: epoll/uv_poll setup failed");
    return NULL;
  }
  p->poll.data = p;
  uv_poll_start(&p->poll, UV_READABLE, on_readable);
  // The poll handle does not keep the thread's loop alive (the sockets' own handles do).
  uv_unref((uv_handle_t *)&p->poll);
  napi_add_async_cleanup_hook(env, cleanup_hook, p, &p->hook);
  napi_value out;
  CHECK(napi_create_external(env, p, NULL, NULL, &out));
  return out;
}

static int args_int(napi_env env, napi_callback_info info, size_t want, napi_value *argv, poller_t **p) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "parley-udp: missing arguments");
    return -1;
  }
  *p = get_poller(env, argv[0]);
  return *p ? 0 : -1;
}

// add(poller, fd, id) -> 0 or -errno
static napi_value add(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  poller_t *p;
  if (args_int(env, info, 3, argv, &p)) return NULL;
  int32_t fd, id;
  CHECK(napi_get_value_int32(env, argv[1], &fd));
  CHECK(napi_get_value_int32(env, argv[2], &id));
  int rc = 0;
  if (fd < 0 || id < 0 || ensure_sock(p, (uint32_t)id) != 0) rc = -EINVAL;
  else {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = ((uint64_t)(uint32_t)id << 32) | (uint32_t)fd;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) rc = -errno;
    else {
      sock_t *s = &p->socks[id];
      memset(s, 0, sizeof *s);
      s->fd = fd;
    }
  }
  napi_value out;
  napi_create_int32(env, rc, &out);
  return out;
}

// remove(poller, id): stops reading the socket (before Node closes it).
static napi_value remove_sock(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  poller_t *p;
  if (args_int(env, info, 2, argv, &p)) return NULL;
  int32_t id;
  CHECK(napi_get_value_int32(env, argv[1], &id));
  if (id >= 0 && (uint32_t)id < p->nsocks && p->socks[id].fd >= 0) {
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->socks[id].fd, NULL);
    p->socks[id].fd = -1;
    p->socks[id].dest_len = 0;
  }
  return NULL;
}

// setDest(poller, id, ip, port) -> 0, or -EINVAL for an address that is no IP literal.
static napi_value set_dest(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  poller_t *p;
  if (args_int(env, info, 4, argv, &p)) return NULL;
  int32_t id, port;
  char ip[64];
  size_t n;
  CHECK(napi_get_value_int32(env, argv[1], &id));
  CHECK(napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &n));
  CHECK(napi_get_value_int32(env, argv[3], &port));
  int rc = -EINVAL;
  if (id >= 0 && (uint32_t)id < p->nsocks && p->socks[id].fd >= 0 && port > 0 && port < 65536) {
    sock_t *s = &p->socks[id];
    struct sockaddr_in *a4 = (struct sockaddr_in *)&s->dest;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->dest;
    memset(&s->dest, 0, sizeof s->dest);
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
      a4->sin_family = AF_INET;
      a4->sin_port = htons((uint16_t)port);
      s->dest_len = sizeof *a4;
      rc = 0;
    } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons((uint16_t)port);
      s->dest_len = sizeof *a6;
      rc = 0;
    } else {
      s->dest_len = 0;
    }
  }
  napi_value out;
  napi_create_int32(env, rc, &out);
  return out;
}

// flush(poller, count): sends the queued packets.
static napi_value flush(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  poller_t *p;
  if (args_int(env, info, 2, argv, &p)) return NULL;
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[1], &count));
  if (count > p->tx_max) count = (uint32_t)p->tx_max;
  flush_tx(p, count);
  return NULL;
}

// stats(poller) -> [batches, packetsIn, packetsOut, sendErrors]
static napi_value stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  poller_t *p;
  if (args_int(env, info, 1, argv, &p)) return NULL;
  napi_value arr;
  CHECK(napi_create_array_with_length(env, 4, &arr));
  for (uint32_t i = 0; i < 4; i++) {
    napi_value v;
    napi_create_double(env, p->stats[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

// close(poller): stops polling; the sockets stay Node's.
static napi_value close_poller(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  poller_t *p;
  if (args_int(env, info, 1, argv, &p)) return NULL;
  napi_async_cleanup_hook_handle hook = p->hook;
  p->hook = NULL;
  shutdown_poller(p, 0);
  if (hook) napi_remove_async_cleanup_hook(hook);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"add", NULL, add, NULL, NULL, NULL, napi_default, NULL},
      {"remove", NULL, remove_sock, NULL, NULL, NULL, napi_default, NULL},
      {"setDest", NULL, set_dest, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, flush, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_poller, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constants;
  napi_create_object(env, &constants);
  const struct { const char *k; int v; } c[] = {{"RX_MAX", RX_MAX}, {"SLOT", SLOT}, {"RX_STRIDE", RX_STRIDE}, {"ADDR_TEXT", ADDR_TEXT}, {"TX_STRIDE", TX_STRIDE}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    napi_value v;
    napi_create_int32(env, c[i].v, &v);
    napi_set_named_property(env, constants, c[i].k, v);
  }
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_set_named_property(env, exports, "constants", constants);
  return exports;
}

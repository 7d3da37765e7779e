// libopus for Parley's codecs (an N-API addon, plain C, against Debian's libopus).
//
// opusscript's wasm build cannot do two things a media server wants of libopus: decode
// a packet's in-band FEC (the redundant copy of the frame before it, RFC 6716 §2.1.7),
// and conceal a loss of a given length. Here both are libopus's own calls, and the
// PCM goes straight into the caller's Int16Array (no copies, no allocation per call).
// A handle is an external holding the state; it is freed by destroy() or, failing
// that, when the handle is collected.
#define NAPI_VERSION 8
#include <node_api.h>
#include <opus/opus.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
  int encoder;  // 1: OpusEncoder, 0: OpusDecoder
  int channels;
  void *st;
} handle_t;

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, NULL, "parley-opus: " #call " failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static void release(handle_t *h) {
  if (h->st == NULL) return;
  if (h->encoder) opus_encoder_destroy(h->st);
  else opus_decoder_destroy(h->st);
  h->st = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle_t *h = data;
  release(h);
  free(h);
}

static handle_t *get_handle(napi_env env, napi_value v, int encoder) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "parley-opus: not a handle");
    return NULL;
  }
  handle_t *h = p;
  if (h->encoder != encoder) {
    napi_throw_type_error(env, NULL, encoder ? "parley-opus: not an encoder" : "parley-opus: not a decoder");
    return NULL;
  }
  if (h->st == NULL) {
    napi_throw_error(env, NULL, "parley-opus: destroyed");
    return NULL;
  }
  return h;
}

static napi_value int_value(napi_env env, int32_t n) {
  napi_value v;
  CHECK(napi_create_int32(env, n, &v));
  return v;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "parley-opus: expected a number");
    return -1;
  }
  return 0;
}

// A typed array's bytes and element count, of the expected type.
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok || type != want) {
    napi_throw_type_error(env, NULL, want == napi_int16_array ? "parley-opus: expected an Int16Array" : "parley-opus: expected a Uint8Array");
    return -1;
  }
  return 0;
}

// A handle for a state libopus made (`err` its result); the state is freed if that fails.
static napi_value wrap(napi_env env, int encoder, int channels, void *st, int err) {
  if (err != OPUS_OK || st == NULL) {
    napi_throw_range_error(env, NULL, opus_strerror(err));
    return NULL;
  }
  handle_t *h = malloc(sizeof(handle_t));
  napi_value v;
  if (h) {
    h->encoder = encoder;
    h->channels = channels;
    h->st = st;
    if (napi_create_external(env, h, finalize, NULL, &v) == napi_ok) return v;
    free(h);
  }
  if (encoder) opus_encoder_destroy(st);
  else opus_decoder_destroy(st);
  napi_throw_error(env, NULL, "parley-opus: out of memory");
  return NULL;
}

// decoder(rate, channels): a decoder's handle; throws libopus's error.
static napi_value create_decoder(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t rate, channels;
  if (argc < 2 || get_int(env, argv[0], &rate) || get_int(env, argv[1], &channels)) return NULL;
  int err = OPUS_OK;
  OpusDecoder *st = opus_decoder_create(rate, channels, &err);
  return wrap(env, 0, channels, st, err);
}

// encoder(rate, channels, application): an encoder's handle.
static napi_value create_encoder(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t rate, channels, application;
  if (argc < 3 || get_int(env, argv[0], &rate) || get_int(env, argv[1], &channels) || get_int(env, argv[2], &application)) return NULL;
  int err = OPUS_OK;
  OpusEncoder *st = opus_encoder_create(rate, channels, application, &err);
  return wrap(env, 1, channels, st, err);
}

// decode(dec, packet | null, out, samples, fec): samples per channel written to out, or a
// negative libopus error. A null packet conceals `samples` (a loss of that length); with
// fec 1 the packet's in-band FEC gives the `samples` before it (the packet itself is not
// decoded). Otherwise `samples` bounds what the packet may decode to.
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "parley-opus: decode(dec, packet, out, samples, fec)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0], 0);
  if (!h) return NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[1], &t));
  void *packet = NULL;
  size_t packet_len = 0;
  if (t != napi_null && t != napi_undefined && get_typed(env, argv[1], napi_uint8_array, &packet, &packet_len)) return NULL;
  void *out;
  size_t out_len;
  if (get_typed(env, argv[2], napi_int16_array, &out, &out_len)) return NULL;
  int32_t samples, fec;
  if (get_int(env, argv[3], &samples) || get_int(env, argv[4], &fec)) return NULL;
  if (samples <= 0 || (size_t)samples * (size_t)h->channels > out_len) {
    napi_throw_range_error(env, NULL, "parley-opus: samples out of range for the output");
    return NULL;
  }
  int n = opus_decode(h->st, packet_len ? packet : NULL, (opus_int32)packet_len, out, samples, fec ? 1 : 0);
  return int_value(env, n);
}

// encode(enc, pcm, samples, out): the packet's length in out, or a negative libopus error.
static napi_value encode(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "parley-opus: encode(enc, pcm, samples, out)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0], 1);
  if (!h) return NULL;
  void *pcm, *out;
  size_t pcm_len, out_len;
  int32_t samples;
  if (get_typed(env, argv[1], napi_int16_array, &pcm, &pcm_len) || get_int(env, argv[2], &samples) ||
      get_typed(env, argv[3], napi_uint8_array, &out, &out_len))
    return NULL;
  if (samples <= 0 || (size_t)samples * (size_t)h->channels > pcm_len) {
    napi_throw_range_error(env, NULL, "parley-opus: samples out of range for the input");
    return NULL;
  }
  int n = opus_encode(h->st, pcm, samples, out, (opus_int32)out_len);
  return int_value(env, n);
}

// ctl(handle, request, value): a setter CTL (OPUS_SET_*) on an encoder or decoder; libopus's result.
static napi_value ctl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  int32_t request, value;
  if (argc < 3 || napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "parley-opus: ctl(handle, request, value)");
    return NULL;
  }
  if (get_int(env, argv[1], &request) || get_int(env, argv[2], &value)) return NULL;
  handle_t *h = p;
  if (h->st == NULL) {
    napi_throw_error(env, NULL, "parley-opus: destroyed");
    return NULL;
  }
  // Setters only: even request numbers take an opus_int32 (the getters, odd, take a pointer).
  if (request % 2 != 0) {
    napi_throw_range_error(env, NULL, "parley-opus: only setter CTLs");
    return NULL;
  }
  int r = h->encoder ? opus_encoder_ctl((OpusEncoder *)h->st, request, value) : opus_decoder_ctl((OpusDecoder *)h->st, request, value);
  return int_value(env, r);
}

// packetSamples(packet, rate): samples per channel the packet holds at that rate, or a negative error.
static napi_value packet_samples(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *packet;
  size_t len;
  int32_t rate;
  if (argc < 2 || get_typed(env, argv[0], napi_uint8_array, &packet, &len) || get_int(env, argv[1], &rate)) return NULL;
  return int_value(env, opus_packet_get_nb_samples(packet, (opus_int32)len, rate));
}

// destroy(handle): frees its state now. Idempotent.
static napi_value destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "parley-opus: not a handle");
    return NULL;
  }
  release(p);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"decoder", NULL, create_decoder, NULL, NULL, NULL, napi_default, NULL},
      {"encoder", NULL, create_encoder, NULL, NULL, NULL, napi_default, NULL},
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"encode", NULL, encode, NULL, NULL, NULL, napi_default, NULL},
      {"ctl", NULL, ctl, NULL, NULL, NULL, napi_default, NULL},
      {"packetSamples", NULL, packet_samples, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, destroy, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  napi_value version;
  CHECK(napi_create_string_utf8(env, opus_get_version_string(), NAPI_AUTO_LENGTH, &version));
  CHECK(napi_set_named_property(env, exports, "version", version));
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }

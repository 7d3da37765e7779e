#!/usr/bin/env bash
# Builds the mediasoup worker offline and caches it; prints the binary's path.
#
# Why: mediasoup's postinstall downloads a prebuilt worker (GitHub) or builds one
# with a pinned meson that fetches every subproject. Neither works on a machine
# that reaches only the npm registry and Debian. Here each meson subproject is
# replaced by a small shim backed by a Debian -dev package, and meson runs with
# --wrap-mode=nodownload.
#
#   bash media/build-worker.sh            -> /root/.cache/parley/mediasoup-worker-3.27.1-<hash>
#   export MEDIASOUP_WORKER_BIN=$(bash media/build-worker.sh)
#
# The binary is cached under $PARLEY_CACHE (default ~/.cache/parley), keyed on the
# mediasoup version pinned in package.json and on this script's content; a second
# run returns at once. FORCE=1 rebuilds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
version=${MEDIASOUP_VERSION:-$(node -p "require('$root/package.json').dependencies.mediasoup")}
cache=${PARLEY_CACHE:-$HOME/.cache/parley}
key=$(sha256sum "$0" | cut -c1-12)
bin="$cache/mediasoup-worker-$version-$key"
jobs=${JOBS:-$(nproc)}

log() { echo "build-worker: $*" >&2; }

if [ -x "$bin" ] && [ -z "${FORCE:-}" ]; then
  # Reused only while its shared libraries (Debian's libuv, libssl, libsrtp2, absl) resolve.
  if ! ldd "$bin" | grep -q "not found"; then echo "$bin"; exit 0; fi
  log "cached worker has unresolved libraries; rebuilding"
fi
mkdir -p "$cache"

bash "$here/../scripts/apt-ensure.sh" g++ pkg-config ninja-build python3-venv libssl-dev \
  libuv1-dev libsrtp2-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler

# meson >= 1.1 is needed; bookworm has 1.0.1. The machine's pip mirror serves a newer one.
venv="$cache/meson-venv"
if [ ! -x "$venv/bin/meson" ]; then
  log "installing meson into $venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --retries 0 'meson>=1.1' >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/parley-worker.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "fetching mediasoup@$version sources from the npm registry"
( cd "$work" && npm pack --silent "mediasoup@$version" >/dev/null 2>&1 && tar xzf mediasoup-*.tgz )
w="$work/package/worker"

# --- shims: one folder per subproject, named as the .wrap's `directory =` -------------
s="$work/shims"
shim() { mkdir -p "$s/$1/${2:-.}"; cat > "$s/$1/${2:-.}/${3:-meson.build}"; }
placeholder() { echo 'typedef int parley_shim_placeholder_t;' > "$s/$1/placeholder.c"; }

shim openssl <<'EOF'
project('openssl', 'c')
openssl_dep = dependency('openssl')
libcrypto_dep = dependency('libcrypto')
libssl_dep = dependency('libssl')
libcrypto_lib = static_library('shim_libcrypto', 'placeholder.c')
libssl_lib = static_library('shim_libssl', 'placeholder.c')
EOF
placeholder openssl

shim libuv <<'EOF'
project('libuv', 'c')
libuv_dep = dependency('libuv')
libuv = static_library('shim_libuv', 'placeholder.c')
EOF
shim libuv . meson_options.txt <<'EOF'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
EOF
placeholder libuv

shim abseil-cpp <<'EOF'
project('abseil-cpp', 'c', 'cpp')
deps = []
foreach m : ['absl_base', 'absl_flat_hash_map', 'absl_flat_hash_set', 'absl_node_hash_map',
             'absl_node_hash_set', 'absl_btree', 'absl_inlined_vector', 'absl_optional',
             'absl_variant', 'absl_memory', 'absl_strings', 'absl_str_format', 'absl_hash',
             'absl_synchronization', 'absl_time', 'absl_numeric']
  deps += dependency(m)
endforeach
all = declare_dependency(dependencies: deps)
none = static_library('shim_absl', 'placeholder.c')
foreach n : ['base', 'container', 'debugging', 'flags', 'hash', 'numeric', 'random',
             'status', 'strings', 'synchronization', 'time', 'types']
  set_variable('absl_' + n + '_dep', all)
  set_variable('absl_' + n + '_lib', none)
endforeach
EOF
placeholder abseil-cpp

shim catch2 <<'EOF'
project('catch2', 'cpp')
catch2_dep = dependency('catch2', required: false)  # only the worker's own unit tests use it
EOF

shim flatbuffers <<'EOF'
project('flatbuffers', 'c', 'cpp')
# Debian's flatbuffers 2.0.8 compiles mediasoup's schemas; the output is wire-compatible
# with the flatbuffers JS runtime of mediasoup's Node side.
flatbuffers_dep = dependency('flatbuffers')
flatbuffers_lib = static_library('shim_flatbuffers', 'placeholder.c')
flatc = find_program('flatc')
EOF
placeholder flatbuffers

shim unordered_dense <<'EOF'
project('unordered_dense', 'cpp')
ankerl_unordered_dense_dep = declare_dependency(include_directories: include_directories('include'))
EOF
shim unordered_dense include/ankerl unordered_dense.h <<'EOF'
// ankerl::unordered_dense map/set/hash expressed with the standard containers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
namespace ankerl { namespace unordered_dense {
template<class T, class Enable = void> struct hash {
	using is_avalanching = void;
	std::size_t operator()(const T& v) const {
		if constexpr (std::is_integral_v<T> || std::is_enum_v<T> || std::is_pointer_v<T>) {
			// Mix the bits: std::hash of an integer is the identity.
			std::uint64_t x = static_cast<std::uint64_t>(std::hash<T>{}(v));
			x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL; x ^= x >> 27; x *= 0x94d049bb133111ebULL; x ^= x >> 31;
			return static_cast<std::size_t>(x);
		} else {
			return std::hash<T>{}(v);
		}
	}
};
template<class K, class V, class H = hash<K>, class E = std::equal_to<K>,
         class A = std::allocator<std::pair<const K, V>>>
using map = std::unordered_map<K, V, H, E, A>;
template<class K, class H = hash<K>, class E = std::equal_to<K>, class A = std::allocator<K>>
using set = std::unordered_set<K, H, E, A>;
}} // namespace ankerl::unordered_dense
EOF

# libsrtp3: Debian has libsrtp 2.5; a header maps the libsrtp 3 calls mediasoup makes.
shim libsrtp3 <<'EOF'
project('libsrtp3', 'c', 'cpp')
libsrtp3_dep = declare_dependency(dependencies: dependency('libsrtp2'),
  include_directories: include_directories('include'), compile_args: ['-DPARLEY_SRTP_OPAQUE_POLICY'])
libsrtp3 = static_library('shim_libsrtp3', 'placeholder.c')
EOF
shim libsrtp3 . meson_options.txt <<'EOF'
option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'feature', value: 'disabled')
option('tests', type: 'feature', value: 'disabled')
EOF
placeholder libsrtp3
shim libsrtp3 include srtp.h <<'EOF'
// The libsrtp 3 API subset mediasoup uses, on Debian's libsrtp 2.5 (C++ only).
#pragma once
#define srtp_policy_t parley_srtp2_policy_t  // libsrtp 3 makes srtp_policy_t an opaque pointer
#include <srtp2/srtp.h>
#undef srtp_policy_t
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

namespace parley_srtp {
using v2fn = srtp_err_status_t (*)(srtp_t, void*, int*);
inline srtp_err_status_t in_place(v2fn fn, srtp_t ctx, void* buf, size_t* len) {
	if (*len > INT_MAX) return srtp_err_status_bad_param;
	int n = static_cast<int>(*len);
	const srtp_err_status_t err = fn(ctx, buf, &n);
	if (err == srtp_err_status_ok) *len = static_cast<size_t>(n);
	return err;
}
// libsrtp 3 takes separate in/out buffers, out_len being the capacity on input.
inline srtp_err_status_t to_buffer(v2fn fn, srtp_t ctx, const uint8_t* in, size_t in_len, uint8_t* out,
                                   size_t* out_len, size_t trailer) {
	if (*out_len < in_len + trailer) return srtp_err_status_buffer_small;
	if (out != in) std::memmove(out, in, in_len);
	size_t n = in_len;
	const srtp_err_status_t err = in_place(fn, ctx, out, &n);
	if (err == srtp_err_status_ok) *out_len = n;
	return err;
}
} // namespace parley_srtp

inline srtp_err_status_t srtp_stream_remove(srtp_t s, unsigned int ssrc) { return ::srtp_remove_stream(s, ssrc); }
inline srtp_err_status_t srtp_protect(srtp_t c, const uint8_t* in, size_t n, uint8_t* out, size_t* on, size_t mki) {
	return mki ? srtp_err_status_bad_mki : parley_srtp::to_buffer(::srtp_protect, c, in, n, out, on, SRTP_MAX_TRAILER_LEN);
}
inline srtp_err_status_t srtp_unprotect(srtp_t c, const uint8_t* in, size_t n, uint8_t* out, size_t* on) {
	return parley_srtp::to_buffer(::srtp_unprotect, c, in, n, out, on, 0);
}
inline srtp_err_status_t srtp_protect_rtcp(srtp_t c, const uint8_t* in, size_t n, uint8_t* out, size_t* on, size_t mki) {
	return mki ? srtp_err_status_bad_mki : parley_srtp::to_buffer(::srtp_protect_rtcp, c, in, n, out, on, SRTP_MAX_TRAILER_LEN + 4);
}
inline srtp_err_status_t srtp_unprotect_rtcp(srtp_t c, const uint8_t* in, size_t n, uint8_t* out, size_t* on) {
	return parley_srtp::to_buffer(::srtp_unprotect_rtcp, c, in, n, out, on, 0);
}

struct parley_srtp_policy { parley_srtp2_policy_t p; unsigned char key[SRTP_MAX_KEY_LEN]; };
typedef parley_srtp_policy* srtp_policy_t;
inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy) {
	auto* cp = static_cast<parley_srtp_policy*>(std::calloc(1, sizeof(parley_srtp_policy)));
	if (!cp) return srtp_err_status_alloc_fail;
	cp->p.key = cp->key;
	*policy = cp;
	return srtp_err_status_ok;
}
inline void srtp_policy_destroy(srtp_policy_t policy) {
	if (policy) { std::memset(policy->key, 0, sizeof(policy->key)); std::free(policy); }
}
inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t p, srtp_ssrc_t ssrc) { p->p.ssrc = ssrc; return srtp_err_status_ok; }
inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t p, srtp_profile_t profile) {
	srtp_err_status_t err = srtp_crypto_policy_set_from_profile_for_rtp(&p->p.rtp, profile);
	return err != srtp_err_status_ok ? err : srtp_crypto_policy_set_from_profile_for_rtcp(&p->p.rtcp, profile);
}
inline srtp_err_status_t srtp_policy_add_key(srtp_policy_t p, const uint8_t* key, size_t key_len,
                                             const uint8_t* salt, size_t salt_len, const uint8_t* mki, size_t mki_len) {
	if (mki || mki_len || key_len + salt_len > sizeof(p->key)) return srtp_err_status_bad_param;
	std::memcpy(p->key, key, key_len);
	std::memcpy(p->key + key_len, salt, salt_len);
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t p, bool v) { p->p.allow_repeat_tx = v ? 1 : 0; return srtp_err_status_ok; }
inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t p, size_t w) { p->p.window_size = w; return srtp_err_status_ok; }
inline srtp_err_status_t srtp_create(srtp_t* s, srtp_policy_t p) { return ::srtp_create(s, p ? &p->p : nullptr); }
EOF

for wrap in "$w"/subprojects/*.wrap; do
  name=$(basename "$wrap" .wrap)
  case "$name" in abseil-cpp) dirname=abseil-cpp ;; *) dirname=$(echo "$name" | tr - _) ;; esac
  [ -d "$s/$dirname" ] || { log "no shim for subproject $name (not needed on Linux)"; continue; }
  dir=$(sed -n 's/^directory *= *//p' "$wrap" | head -1)
  rm -rf "${w:?}/subprojects/$dir"
  cp -r "$s/$dirname" "$w/subprojects/$dir"
done

# --- source fixes ----------------------------------------------------------------------
# DtlsTransport's BIO callback answers the "return" calls (oper | BIO_CB_RETURN) with 1
# instead of OpenSSL's result, so every BIO_ctrl on the outgoing memory BIO returns 1.
# Bundled OpenSSL 3.0.8 survives that; Debian's 3.0.19 crashes (SIGSEGV in SSL_read) on
# the first DTLS ClientHello, i.e. every browser. Checked with a C replica of the setup.
dtls="$w/src/RTC/DtlsTransport.cpp"
grep -q '(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1' "$dtls" || { log "DtlsTransport.cpp changed: review the BIO callback fix"; exit 1; }
sed -i 's/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1/(operationType \& BIO_CB_RETURN) ? static_cast<long>(ret) : 1/' "$dtls"

# --- configure and build, with mediasoup's own release flags ------------------------
extra=()
grep -q ms_disable_liburing "$w/meson_options.txt" 2>/dev/null && extra+=(-Dms_disable_liburing=true)
cd "$w"
log "configuring (meson)"
"$venv/bin/meson" setup --wrap-mode=nodownload --buildtype release -Db_ndebug=true \
  -Db_pie=true -Db_staticpic=true "${extra[@]}" out/build >&2
# The generated flatbuffers headers must exist before libwebrtc compiles.
"$venv/bin/meson" compile -C out/build flatbuffers-generator >&2
log "compiling with $jobs jobs (about 3 minutes on 2 cores)"
ninja -C out/build -j "$jobs" mediasoup-worker >&2
strip -o "$bin.tmp" out/build/mediasoup-worker
mv "$bin.tmp" "$bin"
log "built $bin"
echo "$bin"

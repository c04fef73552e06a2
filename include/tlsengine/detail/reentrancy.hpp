// tlsengine — which connection a user callback runs for. OpenSSL calls the engine back
// from inside SSL_do_handshake / SSL_read_ex; the engine then calls the application's
// callback (ALPN, identity check, PSK, trace). The callback finds its connection through
// tlsengine::current_connection(), as Node's callbacks find the socket as `this`.
#pragma once

namespace tlsengine::detail {

/// The owner (a tlsengine::connection*) of the callback running on this thread; null
/// outside callbacks.
inline void*& current_callback_owner() noexcept {
  static thread_local void* owner = nullptr;
  return owner;
}

/// Sets the current owner for the duration of one user callback; nests (a callback of
/// one connection may drive another).
class callback_owner_scope {
public:
  explicit callback_owner_scope(void* owner) noexcept : saved_(current_callback_owner()) {
    current_callback_owner() = owner;
  }
  ~callback_owner_scope() { current_callback_owner() = saved_; }
  callback_owner_scope(const callback_owner_scope&) = delete;
  callback_owner_scope& operator=(const callback_owner_scope&) = delete;

private:
  void* saved_;
};

} // namespace tlsengine::detail

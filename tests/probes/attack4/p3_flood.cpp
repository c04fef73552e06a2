// [attack4] area 2: a raw OpenSSL TLS 1.3 server floods an engine client with thousands of
// NewSessionTickets and KeyUpdates (1 byte of data between KeyUpdates), fed in one go and in
// small pieces, drained one event at a time. Every KeyUpdate must come out as one key_update
// event, in order with the data, and the queue stay bounded.
#include "common.hpp"
#include <openssl/err.h>
using namespace a4;

struct raw_server {
  SSL_CTX* ctx;
  SSL* ssl;
  BIO *in, *out;
  raw_server() {
    ctx = SSL_CTX_new(TLS_server_method());
    std::string cert = load("server-rsa-chain.pem"), key = load("server-rsa.key");
    BIO* b = BIO_new_mem_buf(cert.data(), (int)cert.size());
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, x);
    X509_free(x);
    while (X509* extra = PEM_read_bio_X509(b, nullptr, nullptr, nullptr))
      SSL_CTX_add_extra_chain_cert(ctx, extra);
    BIO_free(b);
    b = BIO_new_mem_buf(key.data(), (int)key.size());
    EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    SSL_CTX_use_PrivateKey(ctx, k);
    EVP_PKEY_free(k);
    BIO_free(b);
    SSL_CTX_set_num_tickets(ctx, 0);
    ssl = SSL_new(ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
  }
  std::string take() {
    char* p;
    long n = BIO_get_mem_data(out, &p);
    std::string s(p, n);
    (void)BIO_reset(out);
    return s;
  }
};

static void handshake(raw_server& rs, connection& c) {
  for (int i = 0; i < 20 && !c.is_secure(); ++i) {
    bytes_view o = c.pending_output();
    BIO_write(rs.in, o.data(), (int)o.size());
    c.consume_output(o.size());
    SSL_do_handshake(rs.ssl);
    std::string s = rs.take();
    c.feed(bytes_view(s.data(), s.size()));
    while (auto e = c.next_event()) {
    }
  }
  bytes_view o = c.pending_output(); // the client's Finished
  BIO_write(rs.in, o.data(), (int)o.size());
  c.consume_output(o.size());
  A4_CHECK(SSL_do_handshake(rs.ssl) == 1, "raw server handshake");
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (int variant = 0; variant < 4; ++variant) {
    const int chunked = variant & 1;
    const bool reentrant = variant >= 2; // the trace sink pops events too
    raw_server rs;
    client_options co = client_opts();
    co.max_version = "TLSv1.3";
    auto cr = connection::client(co);
    connection c = std::move(*cr);
    handshake(rs, c);
    int key_updates = 0, sessions = 0, other = 0;
    std::vector<char> order;
    auto count = [&](const event& ev) {
      if (std::holds_alternative<events::key_update>(ev)) {
        ++key_updates;
        order.push_back('K');
      } else if (std::holds_alternative<events::session>(ev))
        ++sessions;
      else {
        ++other;
        if (auto* er = std::get_if<events::error>(&ev))
          std::printf("error event: %s\n", er->message.c_str());
      }
    };
    int inner_pops = 0;
    if (reentrant)
      c.enable_trace([&](std::string_view) {
        // pops at most one event per trace line: the outer next_event() may be under way
        if (auto e = current_connection()->next_event()) {
          ++inner_pops;
          count(*e);
        }
      });
    A4_CHECK(c.is_secure(), "handshake: %s", c.error_message().c_str());
    const int rounds = 3000;
    // The flood: per round a ticket, a KeyUpdate, one byte 'a'+round%26, a second ticket.
    for (int i = 0; i < rounds; ++i) {
      SSL_new_session_ticket(rs.ssl);
      SSL_do_handshake(rs.ssl);
      if (SSL_key_update(rs.ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
        std::printf("raw key_update refused\n");
        return 3;
      }
      SSL_do_handshake(rs.ssl);
      char ch = char('a' + i % 26);
      std::size_t w;
      SSL_write_ex(rs.ssl, &ch, 1, &w);
      SSL_new_session_ticket(rs.ssl);
      SSL_do_handshake(rs.ssl);
    }
    std::string flood = rs.take();
    std::printf("flood: %zu bytes, chunked=%d\n", flood.size(), chunked);
    std::size_t off = 0;
    int max_pending_events = 0;
    std::string data;
    std::size_t guard = 0;
    while ((off < flood.size() || true) && ++guard < 10000000) {
      if (off < flood.size()) {
        std::size_t n =
            chunked ? std::min<std::size_t>(flood.size() - off, 37) : flood.size() - off;
        off += c.feed(bytes_view(flood.data() + off, n));
      }
      // partial draining: one event, then one byte of cleartext
      int pulled = 0;
      if (auto e = c.next_event()) {
        ++pulled;
        count(*e);
      }
      std::uint8_t b[1];
      if (std::size_t n = c.read(bytes_view(b, 1).size() ? mutable_bytes_view(b, 1)
                                                         : mutable_bytes_view(b, 1))) {
        ++pulled;
        data.push_back(char(b[0]));
        order.push_back('D');
        (void)n;
      }
      if (!pulled && off >= flood.size()) break;
      if (c.error()) break;
      (void)max_pending_events;
    }
    // the server's answers (none expected: no KeyUpdate was requested)
    std::string expect_data;
    for (int i = 0; i < rounds; ++i)
      expect_data.push_back(char('a' + i % 26));
    std::printf(
        "  reentrant=%d inner_pops=%d key_update=%d sessions=%d other=%d data=%zu/%d error=%s\n",
        (int)reentrant, inner_pops, key_updates, sessions, other, data.size(), rounds,
        c.error_message().c_str());
    A4_CHECK(!c.error(), "flood failed the connection: %s", c.error_message().c_str());
    A4_CHECK(key_updates == rounds, "key_update events %d of %d", key_updates, rounds);
    A4_CHECK(data == expect_data, "data lost or reordered");
    A4_CHECK(sessions >= 1, "no session event");
    // A session from the flood still resumes? (the last one)
    SSL_free(rs.ssl);
    SSL_CTX_free(rs.ctx);
  }
  return finish("p3_flood");
}

// [attack4] area 2: calls between events. With several events queued (keylog lines,
// secure, sessions), move the connection after each popped event (move-construct and
// move-assign), and interleave write()/read()/end()/key_update(); the sequence popped must
// equal the plain run's. Then destroy() between events: later next_event() calls end cleanly.
#include "common.hpp"
using namespace a4;

static std::vector<int> run(int mode) {
  server_options so = server_opts();
  so.enable_keylog = true;
  server srv = make_server(so);
  client_options co = client_opts();
  co.enable_keylog = true;
  auto cr = connection::client(co);
  connection c = std::move(*cr);
  connection s = srv.accept();
  std::vector<int> seq;
  // Move all handshake bytes without draining the client's events.
  for (int i = 0; i < 10; ++i) {
    transfer(c, s);
    while (auto e = s.next_event()) {
    }
    transfer(s, c);
  }
  int n = 0;
  for (;;) {
    std::optional<event> e = c.next_event();
    if (!e) break;
    seq.push_back(int(e->index()));
    ++n;
    if (mode == 1) {
      connection moved(std::move(c));
      c = std::move(moved);
    }
    if (mode == 2) {
      c.write(bytes_view("abc", 3));
      std::uint8_t b[8];
      c.read(b);
      (void)c.key_update(true);
    }
    if (mode == 3 && n == 3) {
      c.destroy();
    }
    if (mode == 4 && n == 2) {
      c.end();
    }
  }
  if (mode == 3) {
    c.feed(bytes_view("xx", 2));
    c.write(bytes_view("x", 1));
    while (auto e = c.next_event())
      seq.push_back(100 + int(e->index()));
  }
  return seq;
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto ref = run(0);
  for (int mode = 1; mode < 5; ++mode) {
    auto got = run(mode);
    std::printf("mode %d: ", mode);
    for (int x : got)
      std::printf("%d ", x);
    std::printf(" (ref: ");
    for (int x : ref)
      std::printf("%d ", x);
    std::printf(")\n");
    if (mode == 1 || mode == 2 || mode == 4) {
      // the handshake's events (all but extra key_update/session events from mode 2) in order
      std::vector<int> head(got.begin(), got.begin() + std::min(got.size(), ref.size()));
      A4_CHECK(head == ref, "mode %d: the queued events changed", mode);
    }
    if (mode == 3) A4_CHECK(got.size() <= ref.size() + 1, "destroy: events after destroy");
  }
  return finish("p10_between_events");
}

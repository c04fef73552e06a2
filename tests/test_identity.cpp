// Tests for check_server_identity (Node's tls.checkServerIdentity).
//
// The table below was produced by running each case through Node 20's own
// tls.checkServerIdentity(host, {subject: {CN}, subjectaltname}); it extends the cases of
// Node's test/parallel/test-tls-check-server-identity.js. The one case where Node throws
// ERR_TLS_CERT_ALTNAME_FORMAT (an unterminated quoted name) returns cert_altname_invalid
// here with that error's message as the reason.
#include <tlsengine/certificate.hpp>
#include <tlsengine/identity.hpp>

#include "catch_compat.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#ifndef TLSENGINE_TEST_CERT_DIR
#error "TLSENGINE_TEST_CERT_DIR must name the directory made by tools/gen-test-certs.sh"
#endif

namespace {

using tlsengine::certificate_info;
using tlsengine::check_server_identity;
using tlsengine::errc;

struct identity_case {
  const char* host;
  std::vector<std::string> cns;
  const char* subjectaltname;
  bool ok;
  const char* reason; // Node's err.reason when !ok
};

const std::vector<identity_case>& identity_cases() {
  static const std::vector<identity_case> cases = {
      {"a.com", {"a.com"}, "", true, ""},
      {"a.com", {"A.COM"}, "", true, ""},
      {"a.com", {"b.com"}, "", false, "Host: a.com. is not cert's CN: b.com"},
      {"a.com", {"a.com."}, "", true, ""},
      {"a.com", {".a.com"}, "", false, "Host: a.com. is not cert's CN: .a.com"},
      {"A.COM.", {"a.com"}, "", true, ""},
      {"a.com..", {"a.com"}, "", true, ""},
      {"a.com", {"a.com.."}, "", false, "Host: a.com. is not cert's CN: a.com.."},
      {"8.8.8.8", {"8.8.8.8"}, "", false, "IP: 8.8.8.8 is not in the cert's list: "},
      {"8.8.8.8", {"8.8.8.8"}, "DNS:8.8.8.8", false, "IP: 8.8.8.8 is not in the cert's list: "},
      {"8.8.8.8",
       {"8.8.8.8"},
       "URI:http://8.8.8.8/",
       false,
       "IP: 8.8.8.8 is not in the cert's list: "},
      {"8.8.8.8", {"8.8.8.8"}, "IP Address:8.8.8.8", true, ""},
      {"8.8.8.8",
       {"8.8.8.8"},
       "IP Address:8.8.8.0/24",
       false,
       "IP: 8.8.8.8 is not in the cert's list: "},
      {"b.a.com", {"*.a.com"}, "", true, ""},
      {"ba.com", {"*.a.com"}, "", false, "Host: ba.com. is not cert's CN: *.a.com"},
      {"\n.b.com", {"*n.b.com"}, "", false, "Host: \n.b.com. is not cert's CN: *n.b.com"},
      {"b.a.com",
       {"*.a.com"},
       "DNS:omg.com",
       false,
       "Host: b.a.com. is not in the cert's altnames: DNS:omg.com"},
      {"b.a.com", {"b*b.a.com"}, "", false, "Host: b.a.com. is not cert's CN: b*b.a.com"},
      {"a.com", {}, "", false, "Cert does not contain a DNS name"},
      {"a.com", {}, "DNS:a.com", true, ""},
      {"a.b.a.com", {}, "URI:http://a.b.a.com/", false, "Cert does not contain a DNS name"},
      {"a.com", {""}, "", false, "Cert does not contain a DNS name"},
      {"foo.com", {"foo.com", "bar.com"}, "", true, ""},
      {"bar.com", {"foo.com", "bar.com"}, "", true, ""},
      {"baz.com",
       {"foo.com", "bar.com"},
       "",
       false,
       "Host: baz.com. is not cert's CN: foo.com,bar.com"},
      {"a.com", {"", ""}, "", false, "Host: a.com. is not cert's CN: ,"},
      {"a.com", {"b.com"}, "DNS:*", false, "Host: a.com. is not in the cert's altnames: DNS:*"},
      {"a.com",
       {"b.com"},
       "DNS:*.com",
       false,
       "Host: a.com. is not in the cert's altnames: DNS:*.com"},
      {"a.co.uk", {"b.com"}, "DNS:*.co.uk", true, ""},
      {"a.com",
       {"a.com"},
       "DNS:*.a.com",
       false,
       "Host: a.com. is not in the cert's altnames: DNS:*.a.com"},
      {"a.com",
       {"b.com"},
       "DNS:*.a.com",
       false,
       "Host: a.com. is not in the cert's altnames: DNS:*.a.com"},
      {"a.com", {"b.com"}, "DNS:a.com", true, ""},
      {"a.com", {"b.com"}, "DNS:A.COM", true, ""},
      {"a.com", {"a.com"}, "IP Address:1.2.3.4", true, ""},
      {"a.com", {"a.com"}, "URI:http://b.com/", true, ""},
      {"a.com",
       {},
       "DNS:*.a.com",
       false,
       "Host: a.com. is not in the cert's altnames: DNS:*.a.com"},
      {"b.a.com", {}, "DNS:*.a.com", true, ""},
      {"c.b.a.com",
       {},
       "DNS:*.a.com",
       false,
       "Host: c.b.a.com. is not in the cert's altnames: DNS:*.a.com"},
      {"b.a.com", {}, "DNS:*b.a.com", true, ""},
      {"a-cb.a.com", {}, "DNS:*b.a.com", true, ""},
      {"a.b.a.com",
       {},
       "DNS:*b.a.com",
       false,
       "Host: a.b.a.com. is not in the cert's altnames: DNS:*b.a.com"},
      {"bxz.example.com", {}, "DNS:b*z.example.com", true, ""},
      {"bz.example.com", {}, "DNS:b*z.example.com", true, ""},
      {"baz.example.com", {}, "DNS:b*z.example.com", true, ""},
      {"bza.example.com",
       {},
       "DNS:b*z.example.com",
       false,
       "Host: bza.example.com. is not in the cert's altnames: DNS:b*z.example.com"},
      {"bab.example.com",
       {},
       "DNS:ba*ab.example.com",
       false,
       "Host: bab.example.com. is not in the cert's altnames: DNS:ba*ab.example.com"},
      {"b.example.com",
       {},
       "DNS:**.example.com",
       false,
       "Host: b.example.com. is not in the cert's altnames: DNS:**.example.com"},
      {"b.example.com",
       {},
       "DNS:*.*.com",
       false,
       "Host: b.example.com. is not in the cert's altnames: DNS:*.*.com"},
      {"a.b.example.com",
       {},
       "DNS:a.*.example.com",
       false,
       "Host: a.b.example.com. is not in the cert's altnames: DNS:a.*.example.com"},
      {"a.*.example.com", {}, "DNS:a.*.example.com", true, ""},
      {".a.com", {}, "DNS:*.a.com", true, ""},
      {"a..com",
       {},
       "DNS:a..com",
       false,
       "Host: a..com. is not in the cert's altnames: DNS:a..com"},
      {"a.com", {}, "DNS:", false, "Host: a.com. is not in the cert's altnames: DNS:"},
      {"a.com", {}, "DNS:a.com.", true, ""},
      {"a.com",
       {},
       "DNS:a.com..",
       false,
       "Host: a.com. is not in the cert's altnames: DNS:a.com.."},
      {"a com", {}, "DNS:a com", false, "Host: a com. is not in the cert's altnames: DNS:a com"},
      {"a\x7f.com", {}, "DNS:a\x7f.com", true, ""},
      {"\xc3\xa9.com",
       {},
       "DNS:\xc3\xa9.com",
       false,
       "Host: \xc3\xa9.com. is not in the cert's altnames: DNS:\xc3\xa9.com"},
      {"\xc3\xa9.a.com", {}, "DNS:*.a.com", true, ""},
      {"A.B.A.COM", {}, "DNS:*.b.A.com", true, ""},
      {"localhost", {}, "DNS:localhost", true, ""},
      {"localhost",
       {},
       "DNS:*.localhost",
       false,
       "Host: localhost. is not in the cert's altnames: DNS:*.localhost"},
      {"x.localhost",
       {},
       "DNS:*.localhost",
       false,
       "Host: x.localhost. is not in the cert's altnames: DNS:*.localhost"},
      {"", {}, "DNS:a.com", false, "Host: . is not in the cert's altnames: DNS:a.com"},
      {"", {"a.com"}, "", false, "Host: . is not cert's CN: a.com"},
      {"a.b.a.com", {}, "DNS:*b.a.com, DNS:a.b.a.com", true, ""},
      {"c.a.com", {}, "DNS:b.a.com, IP Address:1.2.3.4, DNS:*.a.com", true, ""},
      {"a.b.a.com", {}, "URI:http://*.b.a.com/", false, "Cert does not contain a DNS name"},
      {"a.b.a.com", {}, "IP Address:127.0.0.1", false, "Cert does not contain a DNS name"},
      {"127.0.0.1", {}, "IP Address:127.0.0.1", true, ""},
      {"127.0.0.2",
       {},
       "IP Address:127.0.0.1",
       false,
       "IP: 127.0.0.2 is not in the cert's list: 127.0.0.1"},
      {"127.0.0.1", {}, "DNS:a.com", false, "IP: 127.0.0.1 is not in the cert's list: "},
      {"127.0.0.1.", {}, "IP Address:127.0.0.1", true, ""},
      {"127.000.0.1", {}, "IP Address:127.0.0.1", false, "Cert does not contain a DNS name"},
      {"localhost",
       {"localhost"},
       "DNS:a.com",
       false,
       "Host: localhost. is not in the cert's altnames: DNS:a.com"},
      {"::1", {}, "IP Address:0:0:0:0:0:0:0:1", true, ""},
      {"0:0:0:0:0:0:0:1", {}, "IP Address:0:0:0:0:0:0:0:1", true, ""},
      {"::2", {}, "IP Address:0:0:0:0:0:0:0:1", false, "IP: ::2 is not in the cert's list: ::1"},
      {"::1",
       {},
       "DNS:localhost, IP Address:127.0.0.1",
       false,
       "IP: ::1 is not in the cert's list: 127.0.0.1"},
      {"fe80::1%eth0", {}, "IP Address:FE80:0:0:0:0:0:0:1", true, ""},
      {"FE80::1", {}, "IP Address:fe80::1", true, ""},
      {"::ffff:1.2.3.4", {}, "IP Address:0:0:0:0:0:FFFF:102:304", true, ""},
      {"::ffff:1.2.3.4",
       {},
       "IP Address:1.2.3.4",
       false,
       "IP: ::ffff:1.2.3.4 is not in the cert's list: 1.2.3.4"},
      {"1.2.3.4",
       {},
       "IP Address:<invalid length=5>, IP Address:1.2.3.5",
       false,
       "IP: 1.2.3.4 is not in the cert's list: , 1.2.3.5"},
      {"2001:db8::1",
       {},
       "IP Address:2001:DB8:0:0:0:0:0:1, IP Address:2001:DB8:0:0:1:0:0:0",
       true,
       ""},
      {"fe80::1%", {}, "IP Address:FE80:0:0:0:0:0:0:1", false, "Cert does not contain a DNS name"},
      {"1:2:3:4:5:6:7:8:9",
       {},
       "DNS:a.com",
       false,
       "Host: 1:2:3:4:5:6:7:8:9. is not in the cert's altnames: DNS:a.com"},
      {"xn--bcher-kva.example.com", {"*.example.com"}, "", true, ""},
      {"xn--bcher-kva.example.com",
       {"xn--*.example.com"},
       "",
       false,
       "Host: xn--bcher-kva.example.com. is not cert's CN: xn--*.example.com"},
      {"xn--bcher-kva.example.com", {"xn--bcher-kva.example.com"}, "", true, ""},
      {"xn--bcher-kva.example.com",
       {"xn--bcher-kva.*.example.com"},
       "",
       false,
       "Host: xn--bcher-kva.example.com. is not cert's CN: xn--bcher-kva.*.example.com"},
      {"xn--*.example.com", {}, "DNS:xn--*.example.com", true, ""},
      {"axn--b.example.com",
       {},
       "DNS:a*xn--b.example.com",
       false,
       "Host: axn--b.example.com. is not in the cert's altnames: DNS:a*xn--b.example.com"},
      {"a,b.example", {}, "DNS:\"a\\u002cb.example\", DNS:c.example", true, ""},
      {"c.example", {}, "DNS:\"a\\u002cb.example\", DNS:c.example", true, ""},
      {"x.example",
       {},
       "DNS:\"x\\u002cy\", IP Address:1.2.3.4",
       false,
       "Host: x.example. is not in the cert's altnames: DNS:\"x\\u002cy\", IP Address:1.2.3.4"},
      {"1.2.3.4", {}, "DirName:\"CN=dir\\u002cO=x\", IP Address:1.2.3.4", true, ""},
      {"a.com", {}, "DNS:\"unterminated", false, "Invalid subject alternative name string"},
      {"a.com", {}, "DNS:a.com,", false, "Host: a.com. is not in the cert's altnames: DNS:a.com,"},
      {"a.com",
       {},
       "DNS:b.com,DNS:a.com",
       false,
       "Host: a.com. is not in the cert's altnames: DNS:b.com,DNS:a.com"},
  };
  return cases;
}

certificate_info make_cert(const std::vector<std::string>& cns, const std::string& san) {
  certificate_info cert;
  // Attributes other than CN never take part in the check.
  cert.subject.entries.emplace_back("O", "a.com");
  for (const std::string& cn : cns)
    cert.subject.entries.emplace_back("CN", cn);
  cert.subject.entries.emplace_back("OU", "localhost");
  cert.subjectaltname = san;
  return cert;
}

struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

x509_ptr load_pem_file(const std::string& name) {
  const std::string path = std::string(TLSENGINE_TEST_CERT_DIR) + "/" + name;
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  x509_ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

// A self-signed EC certificate with the given subject CNs and subjectAltName entries,
// built with OpenSSL's API so that the names can hold bytes a config file cannot.
x509_ptr make_x509(const std::vector<std::string>& cns, GENERAL_NAMES* san /* consumed */) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  x509_ptr x(X509_new());
  REQUIRE(key);
  REQUIRE(x);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("example.com"), -1, -1, 0);
  for (const std::string& cn : cns) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(cn.data()),
                                       static_cast<int>(cn.size()), -1, 0) == 1);
  }
  X509_set_issuer_name(x.get(), name);
  X509_set_pubkey(x.get(), key.get());
  if (san != nullptr) {
    REQUIRE(X509_add1_ext_i2d(x.get(), NID_subject_alt_name, san, 0, 0) == 1);
    GENERAL_NAMES_free(san);
  }
  REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
  return x;
}

void add_ia5(GENERAL_NAMES* names, int type, const std::string& value) {
  GENERAL_NAME* gen = GENERAL_NAME_new();
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
  GENERAL_NAME_set0_value(gen, type, s);
  sk_GENERAL_NAME_push(names, gen);
}

void add_ip(GENERAL_NAMES* names, const std::vector<unsigned char>& bytes) {
  GENERAL_NAME* gen = GENERAL_NAME_new();
  ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(s, bytes.data(), static_cast<int>(bytes.size()));
  GENERAL_NAME_set0_value(gen, GEN_IPADD, s);
  sk_GENERAL_NAME_push(names, gen);
}

} // namespace

TEST_CASE("check_server_identity matches Node's checkServerIdentity table", "[identity]") {
  REQUIRE(identity_cases().size() >= 40);
  for (const identity_case& c : identity_cases()) {
    INFO("host=\"" << c.host << "\" san=\"" << c.subjectaltname << "\" cns=" << c.cns.size());
    const certificate_info cert = make_cert(c.cns, c.subjectaltname);
    std::string reason = "unchanged";
    const std::error_code ec = check_server_identity(c.host, cert, &reason);
    if (c.ok) {
      CHECK_FALSE(ec);
      CHECK(reason == "unchanged");
    } else {
      CHECK(ec == tlsengine::make_error_code(errc::cert_altname_invalid));
      CHECK(reason == c.reason);
      CHECK(tlsengine::error_code_name(ec) == "ERR_TLS_CERT_ALTNAME_INVALID");
    }
    // Without a reason pointer the verdict is the same.
    CHECK(static_cast<bool>(check_server_identity(c.host, cert)) == !c.ok);
  }
}

TEST_CASE("check_server_identity ignores attributes other than CN", "[identity]") {
  certificate_info cert;
  cert.subject.entries = {{"O", "a.com"}, {"OU", "a.com"}, {"emailAddress", "a.com"}};
  std::string reason;
  CHECK(check_server_identity("a.com", cert, &reason) == errc::cert_altname_invalid);
  CHECK(reason == "Cert does not contain a DNS name");
  cert.subject.entries.emplace_back("CN", "a.com");
  CHECK_FALSE(check_server_identity("a.com", cert, &reason));
}

TEST_CASE("net.isIP and canonicalizeIP as Node's", "[identity]") {
  struct ip_case {
    const char* input;
    int node_is_ip;        // net.isIP()
    const char* canonical; // canonicalizeIP(), nullptr for undefined
  };
  const std::vector<ip_case> cases = {
      {"::1", 6, "::1"},
      {"::2", 6, "::2"},
      {"::", 6, "::"},
      {"0:0:0:0:0:0:0:1", 6, "::1"},
      {"::ffff:1.2.3.4", 6, "::ffff:1.2.3.4"},
      {"0:0:0:0:0:FFFF:102:304", 6, "::ffff:1.2.3.4"},
      {"::1.2.3.4", 6, "::1.2.3.4"},
      {"1::", 6, "1::"},
      {"1:0:0:1:0:0:0:1", 6, "1:0:0:1::1"},
      {"1:0:1:0:1:0:1:0", 6, "1:0:1:0:1:0:1:0"},
      {"FE80::1%eth0", 6, "fe80::1"},
      {"fe80::1%", 0, "fe80::1"},
      {"1.2.3.04", 0, nullptr},
      {"01.2.3.4", 0, nullptr},
      {"1:2:3:4:5:6:7::", 6, "1:2:3:4:5:6:7:0"},
      {"::ffff:0:1.2.3.4", 6, "::ffff:0:102:304"},
      {"1:2:3:4:5:6:1.2.3.4", 6, "1:2:3:4:5:6:102:304"},
      {"::0:1.2.3.4", 6, "::1.2.3.4"},
      {"127.0.0.1", 4, "127.0.0.1"},
      {"<invalid length=5>", 0, nullptr},
      {"2001:db8::abcd:0:1", 6, "2001:db8::abcd:0:1"},
      {"::ffff:0:0", 6, "::ffff:0.0.0.0"},
      {"::1:0", 6, "::0.1.0.0"},
      {"::0.0.1.2", 6, "::102"},
      {"0:0:0:0:0:1:0:0", 6, "::1:0:0"},
      {"1:0:0:2:0:0:3:4", 6, "1::2:0:0:3:4"},
      {"0:0:1:0:0:0:0:0", 6, "0:0:1::"},
      {"::fffe:1.2.3.4", 6, "::fffe:102:304"},
      {":1::", 0, nullptr},
      {"1:::2", 0, nullptr},
      {"0.0.0.0", 4, "0.0.0.0"},
      {"255.255.255.255", 4, "255.255.255.255"},
      {"256.0.0.0", 0, nullptr},
      {" 1.2.3.4", 0, nullptr},
      {"1.2.3.4 ", 0, nullptr},
      {"::00001", 0, nullptr},
      {"::0001", 6, "::1"},
      {"1.2.3", 0, nullptr},
      {"1.2.3.4.5", 0, nullptr},
      {"1..2.3", 0, nullptr},
      {"", 0, nullptr},
      {"::1%lo0", 6, "::1"},
      {"::1%a/b", 0, "::1"},
      {"1.2.3.4%eth0", 0, nullptr},
      {"1:2:3:4:5:6:7:8", 6, "1:2:3:4:5:6:7:8"},
      {"1:2:3:4:5:6:7:8:9", 0, nullptr},
      {"1::2:3:4:5:6:7:8", 0, nullptr},
      {"1:2:3:4:5:6::1.2.3.4", 0, nullptr},
      {"abcd:EF01::", 6, "abcd:ef01::"},
      {"g::1", 0, nullptr},
      {"::1.2.3", 0, nullptr},
      {"1:2:3:4:5:6:7:1.2.3.4", 0, nullptr},
      {"12345::1", 0, nullptr},
      {"::1:2:3:4:5:6:7", 6, "0:1:2:3:4:5:6:7"},
      {"1:2:3:4:5:6:7::", 6, "1:2:3:4:5:6:7:0"},
  };
  using tlsengine::detail::identity_impl::canonicalize_ip;
  using tlsengine::detail::identity_impl::is_ip;
  for (const ip_case& c : cases) {
    INFO("input=\"" << c.input << "\"");
    CHECK(is_ip(c.input) == (c.node_is_ip != 0));
    const auto canonical = canonicalize_ip(c.input);
    if (c.canonical == nullptr) {
      CHECK_FALSE(canonical.has_value());
    } else {
      REQUIRE(canonical.has_value());
      CHECK(*canonical == c.canonical);
    }
  }
}

TEST_CASE("check_server_identity_x509 on the generated certificates", "[identity]") {
  using tlsengine::detail::check_server_identity_x509;
  const x509_ptr rsa = load_pem_file("server-rsa.pem");
  const x509_ptr ecdsa = load_pem_file("server-ecdsa.pem");
  const x509_ptr nosan = load_pem_file("nosan.pem");
  const x509_ptr wronghost = load_pem_file("wronghost.pem");
  REQUIRE(rsa);
  REQUIRE(ecdsa);
  REQUIRE(nosan);
  REQUIRE(wronghost);
  const std::string altnames = "DNS:localhost, DNS:*.example.test, IP Address:127.0.0.1, "
                               "IP Address:0:0:0:0:0:0:0:1";

  struct x509_case {
    X509* cert;
    const char* host;
    const char* reason; // nullptr: matches
  };
  const std::string not_in_altnames = ". is not in the cert's altnames: " + altnames;
  const std::string a_b = "Host: a.b.example.test" + not_in_altnames;
  const std::string bare = "Host: example.test" + not_in_altnames;
  const std::string foo = "Host: foo.com" + not_in_altnames;
  const std::vector<x509_case> cases = {
      {rsa.get(), "localhost", nullptr},
      {rsa.get(), "LOCALHOST.", nullptr},
      {rsa.get(), "foo.example.test", nullptr},
      {rsa.get(), "a.b.example.test", a_b.c_str()},
      {rsa.get(), "example.test", bare.c_str()},
      {rsa.get(), "foo.com", foo.c_str()},
      {rsa.get(), "127.0.0.1", nullptr},
      {rsa.get(), "::1", nullptr},
      {rsa.get(), "0:0:0::1", nullptr},
      {rsa.get(), "10.0.0.1", "IP: 10.0.0.1 is not in the cert's list: 127.0.0.1, ::1"},
      {ecdsa.get(), "x.example.test", nullptr},
      {ecdsa.get(), "::2", "IP: ::2 is not in the cert's list: 127.0.0.1, ::1"},
      {nosan.get(), "localhost", nullptr},
      {nosan.get(), "Localhost.", nullptr},
      {nosan.get(), "foo.example.test", "Host: foo.example.test. is not cert's CN: localhost"},
      {nosan.get(), "127.0.0.1", "IP: 127.0.0.1 is not in the cert's list: "},
      {wronghost.get(), "wrong.example", nullptr},
      {wronghost.get(), "localhost",
       "Host: localhost. is not in the cert's altnames: DNS:wrong.example"},
      {nullptr, "localhost", "Cert does not contain a DNS name"},
      {nullptr, "::1", "IP: ::1 is not in the cert's list: "},
  };
  for (const x509_case& c : cases) {
    INFO("host=\"" << c.host << "\"");
    std::string reason;
    const std::error_code ec = check_server_identity_x509(c.host, c.cert, &reason);
    if (c.reason == nullptr) {
      CHECK_FALSE(ec);
    } else {
      CHECK(ec == errc::cert_altname_invalid);
      CHECK(reason == c.reason);
    }
    // The certificate_info path agrees, reason included.
    if (c.cert != nullptr) {
      const certificate_info info = tlsengine::detail::certificate_info_from_x509(c.cert);
      std::string info_reason;
      CHECK(check_server_identity(c.host, info, &info_reason) == ec);
      CHECK(info_reason == reason);
    }
  }
}

TEST_CASE("check_server_identity_x509 with names that Node escapes", "[identity]") {
  using tlsengine::detail::check_server_identity_x509;
  GENERAL_NAMES* san = sk_GENERAL_NAME_new_null();
  add_ia5(san, GEN_DNS, "a,b.example"); // printed as DNS:"a\u002cb.example"
  add_ia5(san, GEN_DNS, "*.Wild.Example");
  add_ia5(san, GEN_URI, "http://uri.example/");
  add_ip(san, {1, 2, 3, 4, 5}); // invalid length: canonicalizes to nothing
  add_ip(san, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  const x509_ptr cert = make_x509({"cn.example"}, san);
  REQUIRE(cert);
  const std::string altnames = "DNS:\"a\\u002cb.example\", DNS:*.Wild.Example, "
                               "URI:http://uri.example/, IP Address:<invalid length=5>, "
                               "IP Address:2001:DB8:0:0:0:0:0:1";
  const certificate_info info = tlsengine::detail::certificate_info_from_x509(cert.get());
  REQUIRE(info.subjectaltname == altnames);

  struct x509_case {
    const char* host;
    std::string reason; // empty: matches
  };
  const std::vector<x509_case> cases = {
      {"a,b.example", ""},
      {"x.wild.example", ""},
      {"X.WILD.EXAMPLE.", ""},
      {"wild.example", "Host: wild.example. is not in the cert's altnames: " + altnames},
      {"uri.example", "Host: uri.example. is not in the cert's altnames: " + altnames},
      {"cn.example", "Host: cn.example. is not in the cert's altnames: " + altnames},
      {"a", "Host: a. is not in the cert's altnames: " + altnames},
      {"2001:db8::1", ""},
      {"2001:DB8:0::0:1", ""},
      {"1.2.3.4", "IP: 1.2.3.4 is not in the cert's list: , 2001:db8::1"},
  };
  for (const x509_case& c : cases) {
    INFO("host=\"" << c.host << "\"");
    std::string reason;
    const std::error_code ec = check_server_identity_x509(c.host, cert.get(), &reason);
    if (c.reason.empty()) {
      CHECK_FALSE(ec);
    } else {
      CHECK(ec == errc::cert_altname_invalid);
      CHECK(reason == c.reason);
    }
    std::string info_reason;
    CHECK(check_server_identity(c.host, info, &info_reason) == ec);
    CHECK(info_reason == reason);
  }
}

TEST_CASE("check_server_identity_x509 falls back to every CN only without DNS names",
          "[identity]") {
  using tlsengine::detail::check_server_identity_x509;
  // Only an IP SAN: the CNs are used (as Node: it looks at dnsNames only).
  GENERAL_NAMES* san = sk_GENERAL_NAME_new_null();
  add_ip(san, {10, 0, 0, 1});
  const x509_ptr with_ip = make_x509({"one.example", "*.two.example"}, san);
  std::string reason;
  CHECK_FALSE(check_server_identity_x509("one.example", with_ip.get(), &reason));
  CHECK_FALSE(check_server_identity_x509("x.two.example", with_ip.get(), &reason));
  CHECK(check_server_identity_x509("three.example", with_ip.get(), &reason) ==
        errc::cert_altname_invalid);
  CHECK(reason == "Host: three.example. is not cert's CN: one.example,*.two.example");
  CHECK_FALSE(check_server_identity_x509("10.0.0.1", with_ip.get(), &reason));

  // A DNS SAN disables the CN.
  GENERAL_NAMES* dns = sk_GENERAL_NAME_new_null();
  add_ia5(dns, GEN_DNS, "dns.example");
  const x509_ptr with_dns = make_x509({"cn.example"}, dns);
  CHECK(check_server_identity_x509("cn.example", with_dns.get(), &reason) ==
        errc::cert_altname_invalid);
  CHECK(reason == "Host: cn.example. is not in the cert's altnames: DNS:dns.example");

  // No names at all.
  const x509_ptr bare = make_x509({}, nullptr);
  CHECK(check_server_identity_x509("cn.example", bare.get(), &reason) ==
        errc::cert_altname_invalid);
  CHECK(reason == "Cert does not contain a DNS name");
}

TEST_CASE("check_server_identity_x509 leaves the OpenSSL error queue alone", "[identity]") {
  const x509_ptr rsa = load_pem_file("server-rsa.pem");
  REQUIRE(rsa);
  ERR_clear_error();
  CHECK_FALSE(tlsengine::detail::check_server_identity_x509("localhost", rsa.get()));
  CHECK(ERR_peek_error() == 0);
}

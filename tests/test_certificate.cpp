// Tests for certificate_info (Node's getPeerCertificate() object).
//
// Every field is checked against a value computed independently: by OpenSSL calls made
// here (EVP_Digest over the PEM's DER bytes, the certificate's own SubjectPublicKeyInfo
// bytes, X509_NAME_print_ex) or by the `openssl` command line tool, and, where only Node
// defines the format, against literal strings that Node 20 printed for the same input.
#include <tlsengine/certificate.hpp>

#include "catch_compat.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef TLSENGINE_TEST_CERT_DIR
#error "TLSENGINE_TEST_CERT_DIR must name the directory made by tools/gen-test-certs.sh"
#endif

namespace {

using tlsengine::certificate_info;
using bytes = std::vector<std::uint8_t>;
using entries = std::vector<std::pair<std::string, std::string>>;

struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
struct stack_deleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); } // does not own the certs
};
using stack_ptr = std::unique_ptr<STACK_OF(X509), stack_deleter>;

std::string cert_path(const std::string& name) {
  return std::string(TLSENGINE_TEST_CERT_DIR) + "/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The DER bytes of the first PEM block, decoded by OpenSSL's PEM reader (not by X509).
bytes pem_block_der(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  bytes out;
  if (PEM_read_bio(bio, &name, &header, &data, &len) == 1) out.assign(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  BIO_free(bio);
  return out;
}

x509_ptr load_x509(const std::string& name) {
  const std::string pem = read_file(cert_path(name));
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509_ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

// Runs a shell command and returns its standard output.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
    out.append(buf, n);
  pclose(pipe);
  return out;
}

// "key=value\n" from `openssl x509 -noout -<option>`: the value.
std::string openssl_x509_field(const std::string& file, const std::string& option) {
  std::string out = run("openssl x509 -in '" + cert_path(file) + "' -noout " + option);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  const std::size_t eq = out.find('=');
  return eq == std::string::npos ? std::string() : out.substr(eq + 1);
}

std::string colon_hex(const bytes& data) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (i != 0) out += ':';
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xF];
  }
  return out;
}

bytes digest(const bytes& data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) == 1);
  return bytes(out, out + len);
}

// The SubjectPublicKeyInfo exactly as encoded inside the certificate.
bytes cert_spki(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  bytes out(der, der + std::max(len, 0));
  OPENSSL_free(der);
  return out;
}

// The subjectPublicKey BIT STRING contents (for EC: the encoded point).
bytes cert_public_key_bits(X509* cert) {
  const unsigned char* pk = nullptr;
  int len = 0;
  REQUIRE(X509_PUBKEY_get0_param(nullptr, &pk, &len, nullptr, X509_get_X509_PUBKEY(cert)) == 1);
  return bytes(pk, pk + len);
}

std::string name_print_multiline(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0,
                     ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT |
                         XN_FLAG_SEP_MULTILINE | XN_FLAG_FN_SN);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

bool node_time_format(const std::string& s) {
  // "Sep  3 21:30:00 2024 GMT"
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 24) return false;
  if (std::find_if(std::begin(months), std::end(months),
                   [&](const char* m) { return s.compare(0, 3, m) == 0; }) == std::end(months)) {
    return false;
  }
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  return s[3] == ' ' && (s[4] == ' ' || (s[4] >= '1' && s[4] <= '3')) && digit(5) && s[6] == ' ' &&
         digit(7) && digit(8) && s[9] == ':' && digit(10) && digit(11) && s[12] == ':' &&
         digit(13) && digit(14) && s[15] == ' ' && digit(16) && digit(17) && digit(18) &&
         digit(19) && s.compare(20, 4, " GMT") == 0;
}

const entries localhost_subject = {{"C", "US"},        {"ST", "CA"},   {"L", "SF"},
                                   {"O", "tlsengine"}, {"OU", "test"}, {"CN", "localhost"}};
const entries intermediate_name = {{"O", "tlsengine"}, {"CN", "tlsengine Test Intermediate CA"}};
const entries root_name = {{"O", "tlsengine"}, {"CN", "tlsengine Test Root CA"}};
const char* const localhost_altnames =
    "DNS:localhost, DNS:*.example.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1";
const entries localhost_info_access = {{"OCSP - URI", "http://ocsp.example.test/"},
                                       {"CA Issuers - URI", "http://ca.example.test/ca.pem"}};

// Checks what every certificate shares: raw, fingerprints, validity, serial.
void check_common_fields(const certificate_info& info, const std::string& file) {
  INFO("file " << file);
  const std::string pem = read_file(cert_path(file));
  const bytes der = pem_block_der(pem);
  REQUIRE_FALSE(der.empty());
  CHECK(info.raw == der);
  CHECK_FALSE(info.empty());
  CHECK(info.fingerprint == colon_hex(digest(der, EVP_sha1())));
  CHECK(info.fingerprint256 == colon_hex(digest(der, EVP_sha256())));
  CHECK(info.fingerprint512 == colon_hex(digest(der, EVP_sha512())));
  CHECK(info.fingerprint.size() == 20 * 3 - 1);
  CHECK(info.fingerprint256.size() == 32 * 3 - 1);
  CHECK(info.fingerprint512.size() == 64 * 3 - 1);
  // The command line tool agrees (it prints the same uppercase, colon-separated form).
  CHECK(info.fingerprint256 == openssl_x509_field(file, "-fingerprint -sha256"));
  CHECK(info.fingerprint == openssl_x509_field(file, "-fingerprint -sha1"));
  CHECK(info.serial_number == openssl_x509_field(file, "-serial"));
  CHECK(info.valid_from == openssl_x509_field(file, "-startdate"));
  CHECK(info.valid_to == openssl_x509_field(file, "-enddate"));
  CHECK(node_time_format(info.valid_from));
  CHECK(node_time_format(info.valid_to));
  CHECK(info.issuer_certificate == nullptr);
}

} // namespace

TEST_CASE("certificate_info of the RSA server certificate", "[certificate]") {
  const auto parsed = certificate_info::from_pem(read_file(cert_path("server-rsa.pem")));
  REQUIRE(parsed.has_value());
  const certificate_info& info = *parsed;
  check_common_fields(info, "server-rsa.pem");

  CHECK(info.subject.entries == localhost_subject);
  CHECK(info.subject.to_string() == "C=US\nST=CA\nL=SF\nO=tlsengine\nOU=test\nCN=localhost");
  CHECK(info.subject.get("CN") == "localhost");
  CHECK(info.subject.get("OU") == "test");
  CHECK(info.subject.get("emailAddress").empty());
  CHECK(info.subject.get_all("CN") == std::vector<std::string>{"localhost"});
  CHECK(info.subject.get_all("DC").empty());
  CHECK(info.issuer.entries == intermediate_name);
  CHECK(info.issuer.to_string() == "O=tlsengine\nCN=tlsengine Test Intermediate CA");

  CHECK(info.subjectaltname == localhost_altnames);
  CHECK(info.info_access == localhost_info_access);
  CHECK_FALSE(info.ca);
  CHECK(info.ext_key_usage == std::vector<std::string>{"1.3.6.1.5.5.7.3.1"});

  CHECK(info.bits == 2048);
  CHECK(info.exponent == "0x10001");
  CHECK(info.modulus == openssl_x509_field("server-rsa.pem", "-modulus"));
  CHECK(info.modulus.size() == 512);
  CHECK(info.modulus.find_first_not_of("0123456789ABCDEF") == std::string::npos);
  const x509_ptr x509 = load_x509("server-rsa.pem");
  REQUIRE(x509);
  CHECK(info.pubkey == cert_spki(x509.get()));
  CHECK(info.asn1_curve.empty());
  CHECK(info.nist_curve.empty());
}

TEST_CASE("certificate_info of the ECDSA server certificate", "[certificate]") {
  const auto parsed = certificate_info::from_pem(read_file(cert_path("server-ecdsa.pem")));
  REQUIRE(parsed.has_value());
  const certificate_info& info = *parsed;
  check_common_fields(info, "server-ecdsa.pem");
  CHECK(info.subject.entries == localhost_subject);
  CHECK(info.issuer.entries == intermediate_name);
  CHECK(info.subjectaltname == localhost_altnames);
  CHECK(info.info_access == localhost_info_access);
  CHECK_FALSE(info.ca);
  CHECK(info.ext_key_usage == std::vector<std::string>{"1.3.6.1.5.5.7.3.1"});

  CHECK(info.bits == 256);
  CHECK(info.asn1_curve == "prime256v1");
  CHECK(info.nist_curve == "P-256");
  const x509_ptr x509 = load_x509("server-ecdsa.pem");
  REQUIRE(x509);
  // Node's pubkey for EC keys is the uncompressed point, not the SubjectPublicKeyInfo.
  CHECK(info.pubkey == cert_public_key_bits(x509.get()));
  REQUIRE(info.pubkey.size() == 65);
  CHECK(info.pubkey[0] == 0x04);
  CHECK(info.exponent.empty());
  CHECK(info.modulus.empty());
}

TEST_CASE("certificate_info of the CA certificates and of a certificate without SAN",
          "[certificate]") {
  const auto root = certificate_info::from_pem(read_file(cert_path("ca.pem")));
  REQUIRE(root.has_value());
  check_common_fields(*root, "ca.pem");
  CHECK(root->ca);
  CHECK(root->subject.entries == root_name);
  CHECK(root->issuer.entries == root_name);
  CHECK(root->subjectaltname.empty());
  CHECK(root->info_access.empty());
  CHECK(root->ext_key_usage.empty());
  CHECK(root->bits == 2048);

  const auto intermediate = certificate_info::from_pem(read_file(cert_path("intermediate.pem")));
  REQUIRE(intermediate.has_value());
  check_common_fields(*intermediate, "intermediate.pem");
  CHECK(intermediate->ca);
  CHECK(intermediate->subject.entries == intermediate_name);
  CHECK(intermediate->issuer.entries == root_name);

  const auto nosan = certificate_info::from_pem(read_file(cert_path("nosan.pem")));
  REQUIRE(nosan.has_value());
  check_common_fields(*nosan, "nosan.pem");
  CHECK_FALSE(nosan->ca);
  CHECK(nosan->subject.get("CN") == "localhost");
  CHECK(nosan->subjectaltname.empty());
  CHECK(nosan->info_access.empty());
}

TEST_CASE("from_pem takes the first certificate; from_der gives the same object", "[certificate]") {
  const std::string chain_pem = read_file(cert_path("server-rsa-chain.pem"));
  const auto from_chain = certificate_info::from_pem(chain_pem);
  REQUIRE(from_chain.has_value());
  const auto leaf = certificate_info::from_pem(read_file(cert_path("server-rsa.pem")));
  REQUIRE(leaf.has_value());
  CHECK(from_chain->raw == leaf->raw);
  CHECK(from_chain->fingerprint256 == leaf->fingerprint256);

  // A private key block before the certificate is skipped.
  const std::string key_then_cert =
      read_file(cert_path("server-rsa.key")) + read_file(cert_path("server-rsa.pem"));
  const auto skipped = certificate_info::from_pem(key_then_cert);
  REQUIRE(skipped.has_value());
  CHECK(skipped->raw == leaf->raw);

  const auto der = certificate_info::from_der(leaf->raw);
  REQUIRE(der.has_value());
  CHECK(der->subject.entries == leaf->subject.entries);
  CHECK(der->issuer.entries == leaf->issuer.entries);
  CHECK(der->subjectaltname == leaf->subjectaltname);
  CHECK(der->info_access == leaf->info_access);
  CHECK(der->ca == leaf->ca);
  CHECK(der->bits == leaf->bits);
  CHECK(der->exponent == leaf->exponent);
  CHECK(der->modulus == leaf->modulus);
  CHECK(der->pubkey == leaf->pubkey);
  CHECK(der->valid_from == leaf->valid_from);
  CHECK(der->valid_to == leaf->valid_to);
  CHECK(der->fingerprint512 == leaf->fingerprint512);
  CHECK(der->ext_key_usage == leaf->ext_key_usage);
  CHECK(der->serial_number == leaf->serial_number);
  CHECK(der->raw == leaf->raw);
}

TEST_CASE("from_der and from_pem turn bad input into OpenSSL errors", "[certificate]") {
  ERR_clear_error();
  const auto leaf = certificate_info::from_pem(read_file(cert_path("server-ecdsa.pem")));
  REQUIRE(leaf.has_value());
  const bytes& der = leaf->raw;

  auto expect_openssl_error = [](const tlsengine::result<certificate_info>& r) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().category() == tlsengine::openssl_category());
    CHECK(ERR_reason_error_string(static_cast<unsigned long>(r.error().value())) != nullptr);
    CHECK_FALSE(r.error().message().empty());
    CHECK(ERR_peek_error() == 0); // the error queue is left as it was
  };

  SECTION("empty input") {
    const auto r = certificate_info::from_der(tlsengine::bytes_view());
    expect_openssl_error(r);
    CHECK(r.error().message() == "too small");
    const auto p = certificate_info::from_pem("");
    expect_openssl_error(p);
    CHECK(p.error().message() == "no start line");
  }
  SECTION("every truncation of a valid DER certificate") {
    for (std::size_t len = 1; len < der.size(); ++len) {
      INFO("length " << len);
      expect_openssl_error(certificate_info::from_der(tlsengine::bytes_view(der.data(), len)));
    }
  }
  SECTION("trailing bytes after the certificate") {
    bytes longer = der;
    longer.push_back(0);
    expect_openssl_error(certificate_info::from_der(longer));
  }
  SECTION("random bytes") {
    std::mt19937 rng(12345);
    for (int i = 0; i < 2000; ++i) {
      bytes junk(1 + rng() % 600);
      for (auto& b : junk)
        b = static_cast<std::uint8_t>(rng());
      if (i % 2 == 0) {
        junk[0] = 0x30; // looks like a SEQUENCE, to get past the first tag check
      }
      expect_openssl_error(certificate_info::from_der(junk));
      const std::string text(junk.begin(), junk.end());
      expect_openssl_error(certificate_info::from_pem(text));
    }
  }
  SECTION("random bit flips in a valid certificate never crash") {
    std::mt19937 rng(777);
    for (int i = 0; i < 2000; ++i) {
      bytes mutated = der;
      mutated[rng() % mutated.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      const auto r = certificate_info::from_der(mutated);
      if (r.has_value()) {
        CHECK(r->raw.size() > 0); // some flips (e.g. in the signature) still parse
      } else {
        CHECK(r.error().category() == tlsengine::openssl_category());
      }
      CHECK(ERR_peek_error() == 0);
    }
  }
  SECTION("broken PEM") {
    const std::string pem = read_file(cert_path("server-ecdsa.pem"));
    expect_openssl_error(certificate_info::from_pem(pem.substr(0, pem.size() / 2)));
    std::string corrupted = pem;
    corrupted[corrupted.find('\n') + 5] = '*'; // not base64
    expect_openssl_error(certificate_info::from_pem(corrupted));
    expect_openssl_error(certificate_info::from_pem(read_file(cert_path("server-ecdsa.key"))));
    expect_openssl_error(certificate_info::from_pem(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  }
}

TEST_CASE("certificate_info_with_chain links leaf, intermediate and root", "[certificate]") {
  const x509_ptr leaf = load_x509("server-rsa.pem");
  const x509_ptr intermediate = load_x509("intermediate.pem");
  const x509_ptr root = load_x509("ca.pem");
  const x509_ptr other = load_x509("other-ca.pem");
  REQUIRE(leaf);
  REQUIRE(intermediate);
  REQUIRE(root);
  REQUIRE(other);
  const bytes leaf_der = pem_block_der(read_file(cert_path("server-rsa.pem")));
  const bytes intermediate_der = pem_block_der(read_file(cert_path("intermediate.pem")));
  const bytes root_der = pem_block_der(read_file(cert_path("ca.pem")));

  auto make_stack = [](std::initializer_list<X509*> certs) {
    stack_ptr s(sk_X509_new_null());
    for (X509* c : certs)
      sk_X509_push(s.get(), c);
    return s;
  };
  // The copy a client gets from SSL_get_peer_cert_chain is a different object.
  const x509_ptr leaf_copy(X509_dup(leaf.get()));

  // A second copy of the root (as some servers send): issued by the root, but the walk
  // stops at the self-issued root before looking for it.
  const x509_ptr root_copy(X509_dup(root.get()));

  SECTION("client view: the chain starts with the leaf, root included") {
    const stack_ptr chain =
        make_stack({leaf_copy.get(), intermediate.get(), root.get(), root_copy.get()});
    const certificate_info info =
        tlsengine::detail::certificate_info_with_chain(leaf.get(), chain.get());
    CHECK(info.raw == leaf_der);
    REQUIRE(info.issuer_certificate != nullptr);
    CHECK(info.issuer_certificate->raw == intermediate_der);
    CHECK(info.issuer_certificate->subject.entries == intermediate_name);
    REQUIRE(info.issuer_certificate->issuer_certificate != nullptr);
    const certificate_info& r = *info.issuer_certificate->issuer_certificate;
    CHECK(r.raw == root_der);
    CHECK(r.ca);
    CHECK(r.fingerprint256 == colon_hex(digest(root_der, EVP_sha256())));
    CHECK(r.issuer_certificate == nullptr); // self-issued: the walk stops
  }
  SECTION("server view: the chain without the leaf, out of order, with an unrelated cert") {
    const stack_ptr chain = make_stack({other.get(), root.get(), intermediate.get()});
    const certificate_info info =
        tlsengine::detail::certificate_info_with_chain(leaf.get(), chain.get());
    CHECK(info.raw == leaf_der);
    REQUIRE(info.issuer_certificate != nullptr);
    CHECK(info.issuer_certificate->raw == intermediate_der);
    REQUIRE(info.issuer_certificate->issuer_certificate != nullptr);
    CHECK(info.issuer_certificate->issuer_certificate->raw == root_der);
    CHECK(info.issuer_certificate->issuer_certificate->issuer_certificate == nullptr);
  }
  SECTION("the chain ends where the peer's chain ends") {
    const stack_ptr chain = make_stack({leaf_copy.get(), intermediate.get()});
    const certificate_info info =
        tlsengine::detail::certificate_info_with_chain(leaf.get(), chain.get());
    REQUIRE(info.issuer_certificate != nullptr);
    CHECK(info.issuer_certificate->raw == intermediate_der);
    CHECK(info.issuer_certificate->issuer_certificate == nullptr);
  }
  SECTION("no issuer in the chain, or no chain") {
    const stack_ptr chain = make_stack({other.get(), root.get()});
    CHECK(tlsengine::detail::certificate_info_with_chain(leaf.get(), chain.get())
              .issuer_certificate == nullptr);
    const certificate_info alone =
        tlsengine::detail::certificate_info_with_chain(leaf.get(), nullptr);
    CHECK(alone.raw == leaf_der);
    CHECK(alone.issuer_certificate == nullptr);
  }
  SECTION("a self-signed root alone links to nothing") {
    const stack_ptr chain = make_stack({root.get(), intermediate.get()});
    const certificate_info info =
        tlsengine::detail::certificate_info_with_chain(root.get(), chain.get());
    CHECK(info.raw == root_der);
    CHECK(info.issuer_certificate == nullptr);
  }
  SECTION("null input") {
    CHECK(tlsengine::detail::certificate_info_with_chain(nullptr, nullptr).empty());
    CHECK(tlsengine::detail::certificate_info_from_x509(nullptr).empty());
  }
}

namespace {

// A self-signed certificate built with OpenSSL's API, with names a config file cannot hold.
x509_ptr make_special_cert(EVP_PKEY* key, const EVP_MD* md) {
  x509_ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), -5);
  ASN1_TIME_set_string(X509_getm_notBefore(x.get()), "20300105010203Z");
  ASN1_TIME_set_string(X509_getm_notAfter(x.get()), "20311231235959Z");
  X509_set_pubkey(x.get(), key);
  X509_NAME* n = X509_get_subject_name(x.get());
  auto add = [&](const char* field, const char* value) {
    REQUIRE(X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value), -1, -1,
                                       0) == 1);
  };
  add("1.2.3.4.5", "oid value");
  add("CN", "ctl\x01x\x7fy#");
  add("O", "#");
  add("OU", " ");
  add("OU", "Comma, Inc+\"q\"<x>;= ");
  add("L", "\xc3\xa9 x \xc3\xa9");
  add("ST", "#lead");
  X509_set_issuer_name(x.get(), n);

  GENERAL_NAMES* gens = sk_GENERAL_NAME_new_null();
  auto push = [&](int type, ASN1_STRING* s) {
    GENERAL_NAME* g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, type, s);
    sk_GENERAL_NAME_push(gens, g);
  };
  ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(ip, reinterpret_cast<const unsigned char*>("\1\2\3\4\5"), 5);
  push(GEN_IPADD, ip);
  ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
  ASN1_STRING_set(dns, "x\"y,z\x7f.example", -1);
  push(GEN_DNS, dns);
  ASN1_IA5STRING* quote = ASN1_IA5STRING_new();
  ASN1_STRING_set(quote, "it's.example", -1);
  push(GEN_DNS, quote);
  ASN1_OCTET_STRING* ip6 = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(
      ip6, reinterpret_cast<const unsigned char*>("\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\xab\xcd"), 16);
  push(GEN_IPADD, ip6);
  ASN1_IA5STRING* email = ASN1_IA5STRING_new();
  ASN1_STRING_set(email, "me@example.com", -1);
  push(GEN_EMAIL, email);
  REQUIRE(X509_add1_ext_i2d(x.get(), NID_subject_alt_name, gens, 0, 0) == 1);
  GENERAL_NAMES_free(gens);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  X509_EXTENSION* aia = X509V3_EXT_conf_nid(
      nullptr, &ctx, NID_info_access,
      "OCSP;URI:http://o1/,OCSP;URI:http://o2/,caIssuers;DNS:ca.example,1.2.3.4;URI:http://x/");
  REQUIRE(aia != nullptr);
  X509_add_ext(x.get(), aia, -1);
  X509_EXTENSION_free(aia);
  X509_EXTENSION* eku =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_ext_key_usage, "clientAuth,1.2.3.4,codeSigning");
  REQUIRE(eku != nullptr);
  X509_add_ext(x.get(), eku, -1);
  X509_EXTENSION_free(eku);
  REQUIRE(X509_sign(x.get(), key, md) > 0);
  return x;
}

} // namespace

TEST_CASE("certificate_info formats unusual names as Node does", "[certificate]") {
  const pkey_ptr key(EVP_EC_gen("P-384"));
  REQUIRE(key);
  const x509_ptr x = make_special_cert(key.get(), EVP_sha384());
  const certificate_info info = tlsengine::detail::certificate_info_from_x509(x.get());

  // Values are unescaped UTF-8; unknown attribute types are keyed by their OID.
  const entries expected_subject = {
      {"1.2.3.4.5", "oid value"},       {"CN", "ctl\x01x\x7fy#"},     {"O", "#"},     {"OU", " "},
      {"OU", "Comma, Inc+\"q\"<x>;= "}, {"L", "\xc3\xa9 x \xc3\xa9"}, {"ST", "#lead"}};
  CHECK(info.subject.entries == expected_subject);
  CHECK(info.issuer.entries == expected_subject);
  CHECK(info.subject.get_all("OU") == std::vector<std::string>{" ", "Comma, Inc+\"q\"<x>;= "});
  // The escaped string is what X509_NAME_print_ex makes of the certificate's own name.
  CHECK(info.subject.to_string() == name_print_multiline(X509_get_subject_name(x.get())));
  CHECK(info.subject.to_string() == "1.2.3.4.5=oid value\nCN=ctl\\01x\\7Fy#\nO=#\nOU=\\ \n"
                                    "OU=Comma\\, Inc\\+\\\"q\\\"\\<x\\>\\;=\\ \n"
                                    "L=\xc3\xa9 x \xc3\xa9\nST=\\#lead");

  // Literal strings: what Node 20 printed for the same names.
  CHECK(info.subjectaltname ==
        "IP Address:<invalid length=5>, DNS:\"x\\\"y\\u002cz\\u007f.example\", "
        "DNS:\"it's.example\", IP Address:FE80:0:0:0:0:0:0:ABCD, email:me@example.com");
  const entries expected_info_access = {{"OCSP - URI", "http://o1/"},
                                        {"OCSP - URI", "http://o2/"},
                                        {"CA Issuers - DNS", "ca.example"},
                                        {"1.2.3.4 - URI", "http://x/"}};
  CHECK(info.info_access == expected_info_access);
  CHECK(info.ext_key_usage ==
        std::vector<std::string>{"1.3.6.1.5.5.7.3.2", "1.2.3.4", "1.3.6.1.5.5.7.3.3"});
  CHECK(info.serial_number == "-05");
  CHECK(info.valid_from == "Jan  5 01:02:03 2030 GMT");
  CHECK(info.valid_to == "Dec 31 23:59:59 2031 GMT");
  CHECK_FALSE(info.ca);
  CHECK(info.bits == 384);
  CHECK(info.asn1_curve == "secp384r1");
  CHECK(info.nist_curve == "P-384");
  CHECK(info.pubkey == cert_public_key_bits(x.get()));
  CHECK(info.pubkey.size() == 97);
}

TEST_CASE("certificate_info key fields for other key types", "[certificate]") {
  SECTION("EC key encoded as a compressed point: pubkey is still uncompressed, as Node") {
    const pkey_ptr key(EVP_EC_gen("P-256"));
    REQUIRE(key);
    REQUIRE(EVP_PKEY_set_utf8_string_param(key.get(), "point-format", "compressed") == 1);
    const x509_ptr x = make_special_cert(key.get(), EVP_sha256());
    const bytes bits = cert_public_key_bits(x.get());
    REQUIRE(bits.size() == 33); // the certificate holds the compressed form
    const certificate_info info = tlsengine::detail::certificate_info_from_x509(x.get());
    REQUIRE(info.pubkey.size() == 65);
    CHECK(info.pubkey[0] == 0x04);
    CHECK(std::equal(bits.begin() + 1, bits.end(), info.pubkey.begin() + 1)); // same X
    CHECK(info.bits == 256);
  }
  SECTION("Ed25519: no key fields, as Node") {
    const pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    REQUIRE(key);
    const x509_ptr x = make_special_cert(key.get(), nullptr);
    const certificate_info info = tlsengine::detail::certificate_info_from_x509(x.get());
    CHECK(info.bits == 0);
    CHECK(info.pubkey.empty());
    CHECK(info.modulus.empty());
    CHECK(info.exponent.empty());
    CHECK(info.asn1_curve.empty());
    CHECK_FALSE(info.fingerprint256.empty());
  }
  SECTION("RSA with an odd size and a non-default exponent") {
    pkey_ptr key;
    {
      std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
          EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
      REQUIRE(ctx);
      REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
      REQUIRE(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 1023) == 1);
      BIGNUM* e = BN_new();
      BN_set_word(e, 3);
      REQUIRE(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e) == 1);
      BN_free(e);
      EVP_PKEY* raw = nullptr;
      REQUIRE(EVP_PKEY_keygen(ctx.get(), &raw) == 1);
      key.reset(raw);
    }
    const x509_ptr x = make_special_cert(key.get(), EVP_sha256());
    const certificate_info info = tlsengine::detail::certificate_info_from_x509(x.get());
    CHECK(info.bits == 1023);
    CHECK(info.exponent == "0x3");
    BIGNUM* n = nullptr;
    REQUIRE(EVP_PKEY_get_bn_param(key.get(), "n", &n) == 1);
    char* hex = BN_bn2hex(n);
    std::string expected = hex;
    OPENSSL_free(hex);
    BN_free(n);
    if (expected[0] == '0') expected.erase(0, 1); // Node prints no leading zero
    CHECK(info.modulus == expected);
    CHECK(info.modulus[0] != '0');
    CHECK(info.pubkey == cert_spki(x.get()));
  }
}

TEST_CASE("distinguished_name helpers", "[certificate]") {
  tlsengine::distinguished_name dn;
  CHECK(dn.to_string().empty());
  CHECK(dn.get("CN").empty());
  dn.entries = {{"CN", "a"}, {"OU", "x"}, {"CN", "b"}};
  CHECK(dn.get("CN") == "a");
  CHECK(dn.get("cn").empty()); // keys are case-sensitive, as Node's object keys
  CHECK(dn.get_all("CN") == std::vector<std::string>{"a", "b"});
  CHECK(dn.to_string() == "CN=a\nOU=x\nCN=b");
  dn.entries = {{"CN", " #a b "}, {"O", "\\"}, {"L", "\n"}};
  CHECK(dn.to_string() == "CN=\\ #a b\\ \nO=\\\\\nL=\\0A");
}

TEST_CASE("ca is X509_check_ca() == 1, as Node", "[certificate]") {
  // A self-signed version 1 certificate: OpenSSL calls it a CA of kind 3, Node says false.
  const pkey_ptr key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  x509_ptr x(X509_new());
  X509_set_version(x.get(), 0);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("v1 root"), -1, -1, 0);
  X509_set_issuer_name(x.get(), X509_get_subject_name(x.get()));
  X509_set_pubkey(x.get(), key.get());
  REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
  REQUIRE(X509_check_ca(x.get()) == 3);
  const certificate_info info = tlsengine::detail::certificate_info_from_x509(x.get());
  CHECK_FALSE(info.ca);
  CHECK(info.subject.get("CN") == "v1 root");
  CHECK(info.ext_key_usage.empty());
  CHECK(info.subjectaltname.empty());
}

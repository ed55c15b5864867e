#include "format.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "spotline/core/hex.h"

namespace spotline::recorder::detail {

void putU32(std::byte* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFFu);
}

void putU64(std::byte* out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFFu);
}

std::uint32_t getU32(const std::byte* in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= std::to_integer<std::uint32_t>(in[i]) << (8 * i);
  return value;
}

std::uint64_t getU64(const std::byte* in) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= std::to_integer<std::uint64_t>(in[i]) << (8 * i);
  return value;
}

namespace {

// The reflected Castagnoli polynomial, one byte at a time.
struct CrcTable {
  std::array<std::uint32_t, 256> entries{};
  CrcTable() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      entries[i] = c;
    }
  }
};

std::uint32_t crcTable(std::uint32_t state, const std::byte* p, std::size_t n) {
  static const CrcTable table;
  for (std::size_t i = 0; i < n; ++i) {
    state = table.entries[(state ^ std::to_integer<std::uint32_t>(p[i])) & 0xFFu] ^ (state >> 8);
  }
  return state;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crcSse42(std::uint32_t state, const std::byte* p, std::size_t n) {
  std::uint64_t c = state;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, std::to_integer<unsigned char>(*p));
  return c32;
}
const bool kHaveSse42 = __builtin_cpu_supports("sse4.2") != 0;
#endif

}  // namespace

void Crc32c::update(std::span<const std::byte> bytes) {
#if defined(__x86_64__)
  if (kHaveSse42) {
    state_ = crcSse42(state_, bytes.data(), bytes.size());
    return;
  }
#endif
  state_ = crcTable(state_, bytes.data(), bytes.size());
}

std::uint32_t crc32c(std::span<const std::byte> bytes) {
  Crc32c crc;
  crc.update(bytes);
  return crc.value();
}

Sha256::Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
  if (md_ == nullptr || ctx_ == nullptr) {
    EVP_MD_free(md_);
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("OpenSSL: cannot set up SHA-256");
  }
  reset();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_, md_, nullptr) != 1) throw std::runtime_error("OpenSSL: SHA-256 init failed");
}

void Sha256::update(std::span<const std::byte> bytes) {
  if (EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
  }
}

Hash Sha256::finish() {
  Hash out{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_, reinterpret_cast<unsigned char*>(out.data()), &length) != 1 || length != out.size()) {
    throw std::runtime_error("OpenSSL: SHA-256 final failed");
  }
  reset();
  return out;
}

Hash chainStart(const JournalId& id) {
  Sha256 sha;
  sha.update(id);
  return sha.finish();
}

std::array<std::byte, kHeaderBytes> encodeHeader(const SegmentHeader& header) {
  std::array<std::byte, kHeaderBytes> out{};
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  putU32(out.data() + 8, kFormatVersion);
  putU32(out.data() + 12, static_cast<std::uint32_t>(kHeaderBytes));
  putU64(out.data() + 16, header.segmentNumber);
  putU64(out.data() + 24, header.firstIndex);
  std::copy(header.journalId.begin(), header.journalId.end(), out.begin() + 32);
  std::copy(header.chainIn.begin(), header.chainIn.end(), out.begin() + 48);
  putU32(out.data() + kHeaderCrcOffset, crc32c(std::span(out).first(kHeaderCrcOffset)));
  return out;
}

Result<SegmentHeader, Damage> decodeHeader(std::span<const std::byte, kHeaderBytes> bytes) {
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    return fail(Damage::BadHeader, "bad magic: not a Spotline journal segment");
  }
  if (auto version = getU32(bytes.data() + 8); version != kFormatVersion) {
    return fail(Damage::BadHeader, "unsupported format version " + std::to_string(version) +
                                       " (this build reads version " + std::to_string(kFormatVersion) + ")");
  }
  if (auto size = getU32(bytes.data() + 12); size != kHeaderBytes) {
    return fail(Damage::BadHeader,
                "header size " + std::to_string(size) + ", expected " + std::to_string(kHeaderBytes));
  }
  auto stored = getU32(bytes.data() + kHeaderCrcOffset);
  auto computed = crc32c(bytes.first(kHeaderCrcOffset));
  if (stored != computed) {
    return fail(Damage::BadHeader, "header CRC32C mismatch (stored " + std::to_string(stored) + ", computed " +
                                       std::to_string(computed) + ")");
  }
  SegmentHeader header;
  header.segmentNumber = getU64(bytes.data() + 16);
  header.firstIndex = getU64(bytes.data() + 24);
  std::copy_n(bytes.begin() + 32, kJournalIdBytes, header.journalId.begin());
  std::copy_n(bytes.begin() + 48, kHashBytes, header.chainIn.begin());
  return header;
}

void encodeRecord(std::vector<std::byte>& out, std::uint64_t index, std::span<const std::byte> payload,
                  const Hash& hash) {
  const std::size_t start = out.size();
  out.resize(start + kRecordOverheadBytes + payload.size());
  std::byte* p = out.data() + start;
  putU32(p, static_cast<std::uint32_t>(payload.size()));
  putU64(p + 4, index);
  if (!payload.empty()) std::memcpy(p + kRecordPrefixBytes, payload.data(), payload.size());
  std::byte* suffix = p + kRecordPrefixBytes + payload.size();
  std::memcpy(suffix, hash.data(), hash.size());
  putU32(suffix + kHashBytes, crc32c(std::span<const std::byte>(p, kRecordPrefixBytes + payload.size() + kHashBytes)));
}

std::string segmentFileName(std::uint64_t number) {
  char name[48];
  std::snprintf(name, sizeof name, "segment-%08llu.journal", static_cast<unsigned long long>(number));
  return name;
}

std::optional<std::uint64_t> parseSegmentFileName(std::string_view name) {
  constexpr std::string_view prefix = "segment-";
  constexpr std::string_view suffix = ".journal";
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix)) {
    return std::nullopt;
  }
  auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 19) return std::nullopt;
  std::uint64_t number = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (number == 0 || segmentFileName(number) != name) return std::nullopt;
  return number;
}

Result<std::vector<std::uint64_t>, JournalError> listSegments(const std::filesystem::path& dir) {
  std::vector<std::uint64_t> numbers;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (auto number = parseSegmentFileName(it->path().filename().string())) numbers.push_back(*number);
  }
  if (ec) return fail(JournalError::Io, "cannot list journal directory " + dir.string() + ": " + ec.message());
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::string hashHex(const Hash& hash) {
  return toHex(std::span<const std::byte>(hash));
}

}  // namespace spotline::recorder::detail

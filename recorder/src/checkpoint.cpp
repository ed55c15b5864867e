#include "checkpoint.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

#include "file_io.h"
#include "spotline/core/hex.h"

namespace spotline::recorder {

namespace {

using detail::PublicKey;

void initSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

template <std::size_t N>
std::optional<std::array<std::byte, N>> fixedHex(std::string_view text) {
  auto bytes = fromHex(text);
  if (!bytes || bytes->size() != N) return std::nullopt;
  std::array<std::byte, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

template <std::size_t N>
std::string hexOf(const std::array<std::byte, N>& bytes) {
  return toHex(std::span<const std::byte>(bytes));
}

SigningKey fromSeed(const std::array<std::byte, 32>& seed) {
  initSodium();
  SigningKey key;
  key.seed = seed;
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret{};
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(key.publicKey.data()), secret.data(),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(secret.data(), secret.size());
  return key;
}

// The bytes a checkpoint signs: a domain tag, so a signature can never be replayed as anything else.
std::vector<unsigned char> signedBytes(const detail::JournalId& id, std::uint64_t records, const detail::Hash& chain,
                                       std::int64_t unixNs) {
  static constexpr std::string_view tag = "spotline journal checkpoint v1";
  std::vector<unsigned char> out(tag.begin(), tag.end());
  auto add = [&](const std::byte* p, std::size_t n) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    out.insert(out.end(), u, u + n);
  };
  add(id.data(), id.size());
  std::array<std::byte, 8> n{};
  detail::putU64(n.data(), records);
  add(n.data(), n.size());
  add(chain.data(), chain.size());
  detail::putU64(n.data(), static_cast<std::uint64_t>(unixNs));
  add(n.data(), n.size());
  return out;
}

}  // namespace

std::string publicKeyHex(const std::array<std::byte, 32>& key) {
  return hexOf(key);
}

Result<SigningKey, JournalError> loadSigningKey(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return fail(JournalError::BadArgument, "signing key " + file.string() + ": " + detail::errnoText(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return fail(
        JournalError::BadArgument, "signing key " + file.string() + " may be read by others than its owner (mode " +
                                       std::to_string(st.st_mode & 0777) + " octal " +
                                       [&] {
                                         std::ostringstream o;
                                         o << std::oct << (st.st_mode & 0777);
                                         return o.str();
                                       }() +
                                       "); chmod 600 it");
  }
  std::ifstream in(file);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty() || line.front() == '#') continue;
    static constexpr std::string_view prefix = "ed25519-seed ";
    if (!line.starts_with(prefix)) {
      return fail(JournalError::BadArgument, "signing key " + file.string() + " line " + std::to_string(lineNo) +
                                                 ": expected 'ed25519-seed <64 hex digits>'");
    }
    auto seed = fixedHex<32>(std::string_view(line).substr(prefix.size()));
    if (!seed) {
      return fail(JournalError::BadArgument, "signing key " + file.string() + " line " + std::to_string(lineNo) +
                                                 ": the seed is not 64 hex digits");
    }
    return fromSeed(*seed);
  }
  return fail(JournalError::BadArgument, "signing key " + file.string() + " holds no 'ed25519-seed' line");
}

Result<SigningKey, JournalError> generateSigningKey(const std::filesystem::path& file) {
  initSodium();
  std::array<std::byte, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  SigningKey key = fromSeed(seed);
  const std::string secretText =
      "# Spotline journal signing key (Ed25519 seed). Keep it secret, off the journal host.\n"
      "ed25519-seed " +
      hexOf(key.seed) + "\n";
  const std::string publicText = "ed25519 " + hexOf(key.publicKey) + "\n";
  auto write = [](const std::filesystem::path& path, const std::string& text, mode_t mode) -> detail::Status {
    detail::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd.valid()) return fail(JournalError::Io, "cannot create " + path.string() + ": " + detail::errnoText(errno));
    const std::span<const std::byte> parts[] = {std::as_bytes(std::span(text))};
    if (auto w = detail::writeFully(fd.get(), 0, parts, path); !w) return w;
    return detail::syncData(fd.get(), path);
  };
  if (auto w = write(file, secretText, 0600); !w) return w.error();
  auto pub = file;
  pub += ".pub";
  if (auto w = write(pub, publicText, 0644); !w) return w.error();
  return key;
}

Result<std::vector<std::array<std::byte, 32>>, JournalError> loadPublicKeys(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return fail(JournalError::BadArgument, "cannot read public key file " + file.string());
  std::vector<std::array<std::byte, 32>> keys;
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty() || line.front() == '#') continue;
    static constexpr std::string_view prefix = "ed25519 ";
    auto key = line.starts_with(prefix) ? fixedHex<32>(std::string_view(line).substr(prefix.size())) : std::nullopt;
    if (!key) {
      return fail(JournalError::BadArgument, "public key file " + file.string() + " line " + std::to_string(lineNo) +
                                                 ": expected 'ed25519 <64 hex digits>'");
    }
    keys.push_back(*key);
  }
  if (keys.empty()) return fail(JournalError::BadArgument, "public key file " + file.string() + " holds no key");
  return keys;
}

namespace detail {

std::string encodeCheckpoint(const JournalId& id, std::uint64_t records, const Hash& chain, std::int64_t unixNs,
                             const SigningKey& key) {
  initSodium();
  auto message = signedBytes(id, records, chain, unixNs);
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret{};
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pub{};
  crypto_sign_seed_keypair(pub.data(), secret.data(), reinterpret_cast<const unsigned char*>(key.seed.data()));
  Signature sig{};
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, message.data(), message.size(),
                       secret.data());
  sodium_memzero(secret.data(), secret.size());
  return "v1 " + std::to_string(records) + " " + hashHex(chain) + " " + std::to_string(unixNs) + " " +
         hexOf(key.publicKey) + " " + hexOf(sig) + "\n";
}

bool signatureValid(const Checkpoint& cp, const JournalId& id) {
  initSodium();
  auto message = signedBytes(id, cp.records, cp.chain, cp.unixNs);
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(cp.signature.data()), message.data(),
                                     message.size(), reinterpret_cast<const unsigned char*>(cp.key.data())) == 0;
}

namespace {

std::optional<Checkpoint> parseLine(std::string_view line) {
  std::vector<std::string_view> fields;
  while (!line.empty()) {
    auto space = line.find(' ');
    fields.push_back(line.substr(0, space));
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  if (fields.size() != 6 || fields[0] != "v1") return std::nullopt;
  Checkpoint cp;
  auto number = [](std::string_view s, auto& out) {
    if (s.empty() || s.size() > 20) return false;
    auto* end = s.data() + s.size();
    auto r = std::from_chars(s.data(), end, out);
    return r.ec == std::errc() && r.ptr == end;
  };
  if (!number(fields[1], cp.records) || cp.records == 0 || !number(fields[3], cp.unixNs)) return std::nullopt;
  auto chain = fixedHex<32>(fields[2]);
  auto key = fixedHex<32>(fields[4]);
  auto sig = fixedHex<64>(fields[5]);
  if (!chain || !key || !sig) return std::nullopt;
  cp.chain = *chain;
  cp.key = *key;
  cp.signature = *sig;
  return cp;
}

}  // namespace

CheckpointFile readCheckpoints(const std::filesystem::path& dir) {
  CheckpointFile out;
  const auto path = dir / kCheckpointsFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  out.exists = true;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t offset = 0;
  std::uint64_t lineNo = 0;
  while (offset < text.size()) {
    ++lineNo;
    auto nl = text.find('\n', offset);
    if (nl == std::string::npos) {
      out.tornLastLine = true;
      break;
    }
    auto cp = parseLine(std::string_view(text).substr(offset, nl - offset));
    if (!cp) {
      out.damage = ScanDamage{Damage::Checkpoint,
                              0,
                              kCheckpointsFile,
                              offset,
                              0,
                              "line " + std::to_string(lineNo) + " is not a well-formed checkpoint"};
      return out;
    }
    cp->offset = offset;
    cp->line = lineNo;
    out.checkpoints.push_back(*cp);
    offset = nl + 1;
    out.goodBytes = offset;
  }
  return out;
}

CheckpointCheck::CheckpointCheck(std::vector<Checkpoint> checkpoints, std::vector<PublicKey> trusted)
    : checkpoints_(std::move(checkpoints)), trusted_(std::move(trusted)) {}

std::optional<ScanDamage> CheckpointCheck::onRecords(std::uint64_t records, const Hash& chain, const JournalId& id) {
  while (next_ < checkpoints_.size() && checkpoints_[next_].records <= records) {
    const auto& cp = checkpoints_[next_];
    auto damage = [&](Damage kind, std::string detail) {
      return ScanDamage{kind,
                        0,
                        kCheckpointsFile,
                        cp.offset,
                        cp.records,
                        "checkpoint on line " + std::to_string(cp.line) + " (" + std::to_string(cp.records) +
                            " records): " + std::move(detail)};
    };
    if (cp.records < records || (next_ > 0 && cp.records <= checkpoints_[next_ - 1].records)) {
      return damage(Damage::Checkpoint, "checkpoints are not in increasing record order");
    }
    if (std::find(trusted_.begin(), trusted_.end(), cp.key) == trusted_.end()) {
      return damage(Damage::Signature, "signed by key " + hexOf(cp.key).substr(0, 16) + "…, which is not trusted");
    }
    if (!signatureValid(cp, id)) return damage(Damage::Signature, "the Ed25519 signature does not verify");
    if (cp.chain != chain) {
      return damage(Damage::Checkpoint, "the journal's chain head there is " + hashHex(chain).substr(0, 16) +
                                            "…, the checkpoint signed " + hashHex(cp.chain).substr(0, 16) + "…");
    }
    ++verified_;
    signedRecords_ = cp.records;
    lastKey_ = cp.key;
    ++next_;
  }
  return std::nullopt;
}

std::optional<ScanDamage> CheckpointCheck::atEnd(std::uint64_t records) const {
  if (next_ >= checkpoints_.size()) return std::nullopt;
  const auto& cp = checkpoints_[next_];
  return ScanDamage{Damage::Checkpoint,
                    0,
                    kCheckpointsFile,
                    cp.offset,
                    cp.records,
                    "the journal ends after " + std::to_string(records) + " records, but the checkpoint on line " +
                        std::to_string(cp.line) + " signs " + std::to_string(cp.records) +
                        ": records were removed from the end"};
}

}  // namespace detail

}  // namespace spotline::recorder

#include "file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace spotline::recorder::detail {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  // close(2) errors are ignored on purpose: data that matters was already fdatasync'ed, and
  // retrying close on Linux could close a descriptor another thread just received.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string errnoText(int err) {
  return std::generic_category().message(err);
}

Status writeFully(int fd, std::uint64_t offset, std::span<const std::span<const std::byte>> parts,
                  const std::filesystem::path& what) {
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  for (auto part : parts) {
    // iovec wants a mutable pointer; pwritev never writes through it.
    if (!part.empty()) iov.push_back(iovec{const_cast<std::byte*>(part.data()), part.size()});
  }
  std::size_t first = 0;
  while (first < iov.size()) {
    int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t written = ::pwritev(fd, iov.data() + first, count, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail(JournalError::Io,
                  "cannot write " + what.string() + " at offset " + std::to_string(offset) + ": " + errnoText(errno));
    }
    if (written == 0) {
      return fail(JournalError::Io, "cannot write " + what.string() + " at offset " + std::to_string(offset) +
                                        ": the write made no progress");
    }
    offset += static_cast<std::uint64_t>(written);
    auto left = static_cast<std::size_t>(written);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Done{};
}

Status syncData(int fd, const std::filesystem::path& what) {
  while (::fdatasync(fd) != 0) {
    if (errno == EINTR) continue;
    return fail(JournalError::Io, "cannot fdatasync " + what.string() + ": " + errnoText(errno));
  }
  return Done{};
}

Status syncDirectory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return fail(JournalError::Io, "cannot open directory " + dir.string() + ": " + errnoText(errno));
  while (::fsync(fd.get()) != 0) {
    if (errno == EINTR) continue;
    return fail(JournalError::Io, "cannot fsync directory " + dir.string() + ": " + errnoText(errno));
  }
  return Done{};
}

BufferedFile::BufferedFile(std::size_t bufferBytes) : buffer_(bufferBytes) {}

int BufferedFile::open(const std::filesystem::path& path) {
  close();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  fd_.reset(fd);
  return 0;
}

void BufferedFile::close() {
  fd_.reset();
  bufferStart_ = 0;
  bufferLength_ = 0;
}

Result<std::uint64_t, int> BufferedFile::size() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return fail(errno, "fstat: " + errnoText(errno));
  return static_cast<std::uint64_t>(st.st_size);
}

Result<std::size_t, int> BufferedFile::readDirect(std::uint64_t offset, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t got = ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(errno, "pread: " + errnoText(errno));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

Result<std::size_t, int> BufferedFile::readAt(std::uint64_t offset, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t position = offset + done;
    if (position >= bufferStart_ && position < bufferStart_ + bufferLength_) {
      auto from = static_cast<std::size_t>(position - bufferStart_);
      std::size_t n = std::min(out.size() - done, bufferLength_ - from);
      std::memcpy(out.data() + done, buffer_.data() + from, n);
      done += n;
      continue;
    }
    const std::size_t wanted = out.size() - done;
    if (wanted >= buffer_.size()) {
      // Large payloads go straight to the caller; copying them through the buffer buys nothing.
      auto got = readDirect(position, out.subspan(done));
      if (!got) return got.error();
      done += got.value();
      break;
    }
    auto got = readDirect(position, buffer_);
    if (!got) return got.error();
    bufferStart_ = position;
    bufferLength_ = got.value();
    if (bufferLength_ == 0) break;
  }
  return done;
}

}  // namespace spotline::recorder::detail

#pragma once
// Thin POSIX file helpers for the journal: an owning descriptor, whole writes at an offset,
// data and directory syncs, and a buffered positional reader. Internal to the recorder library.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "spotline/core/result.h"
#include "spotline/recorder/journal.h"

namespace spotline::recorder::detail {

// Owns one file descriptor and closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct Done {};
using Status = Result<Done, JournalError>;

std::string errnoText(int err);

// Writes every byte of `parts`, in order, starting at `offset` (pwritev; short writes and EINTR
// are resumed). `what` names the file in the error message.
Status writeFully(int fd, std::uint64_t offset, std::span<const std::span<const std::byte>> parts,
                  const std::filesystem::path& what);
Status syncData(int fd, const std::filesystem::path& what);
// Makes a file creation or removal in `dir` durable.
Status syncDirectory(const std::filesystem::path& dir);

// Reads one file at explicit offsets through a fixed buffer, so scanning a segment of any size
// costs the same memory. Data past the end of file is never cached: a file that grows (a live
// writer) is seen on the next read. Owned by one thread.
class BufferedFile {
 public:
  explicit BufferedFile(std::size_t bufferBytes = std::size_t{128} << 10);

  // 0, or the errno of open(2).
  int open(const std::filesystem::path& path);
  void close();
  bool isOpen() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  // The current file size; the failure code is an errno.
  Result<std::uint64_t, int> size() const;
  // Fills `out` from `offset`; returns fewer bytes only at end of file. The failure code is an errno.
  Result<std::size_t, int> readAt(std::uint64_t offset, std::span<std::byte> out);

 private:
  Result<std::size_t, int> readDirect(std::uint64_t offset, std::span<std::byte> out);

  UniqueFd fd_;
  std::vector<std::byte> buffer_;
  std::uint64_t bufferStart_ = 0;
  std::size_t bufferLength_ = 0;
};

}  // namespace spotline::recorder::detail

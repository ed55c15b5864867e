#pragma once
// Internal to spotline::plan: what the DICOM reader and writer share. Not installed.

#include <dcmtk/config/osconfig.h>  // must come first in every DCMTK user
#include <dcmtk/oflog/oflog.h>

#include <mutex>

namespace spotline::plan::detail {

// DCMTK logs parser warnings to stderr by default; Spotline reports problems itself, so DCMTK is
// silenced once per process (before its first use).
inline void quietDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::OFF_LOG_LEVEL); });
}

}  // namespace spotline::plan::detail
